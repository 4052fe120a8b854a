using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>The two wire formats the model endpoint speaks.</summary>
internal enum ModelApi
{
    OpenAi,
    Anthropic,
}

/// <summary>
/// The enforcing model endpoint, OpenAI- and Anthropic-compatible: <c>GET /v1/models</c>, <c>POST /v1/chat/completions</c>,
/// <c>POST /v1/messages</c> (and <c>/v1/messages/count_tokens</c>). It authenticates the developer (a Steward token as <c>Authorization: Bearer</c> or
/// <c>x-api-key</c>), resolves the requested model with the evaluator (alias, Auto, provider id), and either refuses
/// (403 <c>model_access_denied</c> with the reason code, never what is allowed, and an audit row, aggregated per token and reason by <see cref="ModelRefusals"/>) or sends the request to
/// the upstream configured for the model's provider and placement with <c>model</c> rewritten to the provider's id and
/// the upstream's key, and streams the answer back byte for byte as it arrives.
/// </summary>
internal static partial class ModelGateway
{
    /// <summary>The largest request body the endpoint forwards (prompts with images are large).</summary>
    public const long MaxRequestBytes = 32L * 1024 * 1024;

    private static readonly string[] ForwardedRequestHeaders = ["anthropic-version", "anthropic-beta", "openai-beta", "accept", "user-agent"];

    private static readonly string[] ForwardedResponsePrefixes = ["x-ratelimit-", "anthropic-ratelimit-", "openai-", "x-request-id", "request-id", "retry-after", "cache-control"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", ListAsync);
        app.MapPost("/v1/chat/completions", (HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, ModelUpstreams upstreams, ModelHttp http, ModelRefusals refusals, ILoggerFactory loggers) =>
            ProxyAsync(context, ModelApi.OpenAi, database, time, catalogs, upstreams, http, refusals, loggers));
        app.MapPost("/v1/messages", (HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, ModelUpstreams upstreams, ModelHttp http, ModelRefusals refusals, ILoggerFactory loggers) =>
            ProxyAsync(context, ModelApi.Anthropic, database, time, catalogs, upstreams, http, refusals, loggers));
        // Claude Code counts tokens before it sends; the count names a model too, so it is decided the same way.
        app.MapPost("/v1/messages/count_tokens", (HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, ModelUpstreams upstreams, ModelHttp http, ModelRefusals refusals, ILoggerFactory loggers) =>
            ProxyAsync(context, ModelApi.Anthropic, database, time, catalogs, upstreams, http, refusals, loggers, "/messages/count_tokens"));
    }

    /// <summary>The available models: OpenAI's list shape, or Anthropic's when the request carries <c>anthropic-version</c>.</summary>
    internal static async Task<IResult> ListAsync(HttpContext context, Database database, TimeProvider time, ModelCatalogStore catalogs, CancellationToken cancellationToken)
    {
        var api = context.Request.Headers.ContainsKey("anthropic-version") ? ModelApi.Anthropic : ModelApi.OpenAi;
        var scope = await ModelAccess.ForTokenAsync(database, catalogs, time, ModelAccess.PresentedToken(context.Request, allowApiKeyHeader: true), cancellationToken).ConfigureAwait(false);
        if (scope is null)
        {
            return Error(api, StatusCodes.Status401Unauthorized, api == ModelApi.Anthropic ? "authentication_error" : "invalid_request_error", "invalid_api_key",
                "A valid Steward token is required (Authorization: Bearer <token> or x-api-key: <token>).");
        }

        var available = scope.Evaluator().List().Available.ToList();
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            if (api == ModelApi.Anthropic)
            {
                w.WriteStartArray("data");
                foreach (var model in available)
                {
                    w.WriteStartObject();
                    w.WriteString("type", "model");
                    w.WriteString("id", model.Model.Id);
                    w.WriteString("display_name", model.Model.DisplayName);
                    w.WriteString("created_at", (model.Model.ReleasedOn ?? DateOnly.FromDayNumber(0)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T00:00:00Z");
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteBoolean("has_more", false);
                WriteNullable(w, "first_id", available.FirstOrDefault()?.Model.Id);
                WriteNullable(w, "last_id", available.LastOrDefault()?.Model.Id);
            }
            else
            {
                w.WriteString("object", "list");
                w.WriteStartArray("data");
                foreach (var model in available)
                {
                    w.WriteStartObject();
                    w.WriteString("id", model.Model.Id);
                    w.WriteString("object", "model");
                    w.WriteNumber("created", model.Model.ReleasedOn is { } released ? new DateTimeOffset(released.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeSeconds() : 0);
                    w.WriteString("owned_by", model.Model.Provider);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    internal static async Task ProxyAsync(HttpContext context, ModelApi api, Database database, TimeProvider time, ModelCatalogStore catalogs, ModelUpstreams upstreams, ModelHttp http, ModelRefusals refusals, ILoggerFactory loggers, string? upstreamPath = null)
    {
        upstreamPath ??= api == ModelApi.Anthropic ? "/messages" : "/chat/completions";
        var cancellationToken = context.RequestAborted;
        var scope = await ModelAccess.ForTokenAsync(database, catalogs, time, ModelAccess.PresentedToken(context.Request, allowApiKeyHeader: true), cancellationToken).ConfigureAwait(false);
        if (scope is null)
        {
            await Error(api, StatusCodes.Status401Unauthorized, api == ModelApi.Anthropic ? "authentication_error" : "invalid_request_error", "invalid_api_key",
                "A valid Steward token is required (Authorization: Bearer <token> or x-api-key: <token>).").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxRequestBytes;
        }

        var body = await RequestBodies.ReadAsync(context.Request, (int)MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            await Error(api, StatusCodes.Status413PayloadTooLarge, api == ModelApi.Anthropic ? "request_too_large" : "invalid_request_error", "request_too_large",
                $"The request body is over the limit of {MaxRequestBytes} bytes.").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        // The body goes upstream byte for byte: it is checked, not parsed and written again.
        if (RequestJson.CheckText(body) is { } notUnicode)
        {
            await Error(api, StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
                $"The body is not acceptable JSON: {notUnicode}.").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        if (ModelField.Find(body) is not { } field)
        {
            await Error(api, StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
                "The body must be one JSON object with a string \"model\" (given once).").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        var decision = scope.Evaluator().Decide(field.Value);
        if (decision is ModelDecision.Denied denied)
        {
            // Recorded (or counted, see ModelRefusals) even when the client has gone away meanwhile; a failed write still refuses.
            await refusals.RecordAsync(scope, "/v1" + upstreamPath, denied).ConfigureAwait(false);
            Denied(loggers.CreateLogger("Steward.Server.Models"), scope.Who.Caller.TokenId, denied.Reason);
            await Error(api, StatusCodes.Status403Forbidden, api == ModelApi.Anthropic ? "permission_error" : "model_access_denied", denied.Reason,
                $"The requested model '{Printable(field.Value)}' is not available for your account.").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        var allowed = (ModelDecision.Allowed)decision;
        var upstream = upstreams.Find(scope.Upstreams, allowed.Model.Provider, allowed.Placement);
        if (upstream is null)
        {
            NoUpstream(loggers.CreateLogger("Steward.Server.Models"), allowed.Model.Provider, allowed.Placement);
            await Error(api, StatusCodes.Status503ServiceUnavailable, api == ModelApi.Anthropic ? "api_error" : "upstream_not_configured", "upstream_not_configured",
                "The model is allowed, but no upstream is configured for it yet; tell your Steward administrator.").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        var rewritten = field.Replace(body, allowed.ProviderModelId ?? allowed.Model.Id);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.BaseUrl + upstreamPath))
        {
            Content = new ByteArrayContent(rewritten),
            Version = System.Net.HttpVersion.Version11,
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        foreach (var name in ForwardedRequestHeaders)
        {
            if (context.Request.Headers.TryGetValue(name, out var values))
            {
                request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
            }
        }

        if (upstream.ApiKey is { } key)
        {
            if (api == ModelApi.Anthropic)
            {
                request.Headers.TryAddWithoutValidation("x-api-key", key);
            }
            else
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await http.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            UpstreamFailed(loggers.CreateLogger("Steward.Server.Models"), allowed.Model.Provider, allowed.Placement, e.Message);
            await Error(api, StatusCodes.Status502BadGateway, "api_error", "upstream_unreachable", "The model's upstream did not answer.").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        using (response)
        {
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            context.Response.StatusCode = (int)response.StatusCode;
            if (response.Content.Headers.ContentType is { } contentType)
            {
                context.Response.ContentType = contentType.ToString();
            }

            if (response.Content.Headers.ContentLength is { } length)
            {
                context.Response.ContentLength = length;
            }

            foreach (var header in response.Headers)
            {
                if (ForwardedResponsePrefixes.Any(p => header.Key.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
                {
                    context.Response.Headers[header.Key] = header.Value.ToArray();
                }
            }

            context.Response.Headers["steward-model"] = Ascii(allowed.Model.Id);
            if (allowed.Notice is { } notice)
            {
                // A deprecated model: say so, with its retirement date and successor, without touching the body.
                context.Response.Headers["steward-notice"] = Ascii(notice);
            }
            await context.Response.StartAsync(cancellationToken).ConfigureAwait(false);
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                // The upstream broke off mid-answer: the status is sent, so end the response; the client sees it cut short.
                UpstreamFailed(loggers.CreateLogger("Steward.Server.Models"), allowed.Model.Provider, allowed.Placement, e.Message);
                context.Abort();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>The provider's error shape: OpenAI <c>{"error": {...}}</c>, Anthropic <c>{"type": "error", "error": {...}}</c>.</summary>
    internal static IResult Error(ModelApi api, int status, string type, string code, string message) => new JsonBytes(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        if (api == ModelApi.Anthropic)
        {
            w.WriteString("type", "error");
        }

        w.WriteStartObject("error");
        w.WriteString("type", type);
        w.WriteString("code", code);
        w.WriteString("message", message);
        w.WriteEndObject();
        w.WriteEndObject();
    }), status);

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    /// <summary>A requested name as it may appear in a message or the audit: printable characters only, at most 100.</summary>
    internal static string Printable(string text)
    {
        var clean = new string([.. text.Where(c => !char.IsControl(c) && !char.IsSurrogate(c)).Take(100)]);
        return clean.Length < text.Length ? clean + "…" : clean;
    }

    private static string Ascii(string text) => new([.. text.Where(c => c is >= ' ' and <= '~').Take(200)]);

    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "Model request refused for token {TokenId}: {Reason}")]
    private static partial void Denied(ILogger logger, string tokenId, string reason);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "No model upstream is configured for provider {Provider} in placement {Placement}")]
    private static partial void NoUpstream(ILogger logger, string provider, string placement);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "The model upstream for provider {Provider} in placement {Placement} failed: {Error}")]
    private static partial void UpstreamFailed(ILogger logger, string provider, string placement, string error);
}

/// <summary>
/// The HTTP client the model endpoint talks to upstreams with: pooled connections, no redirects, no cookies, no
/// decompression (bytes pass through unchanged), no proxy. Upstreams are the server administrators' (private addresses
/// allowed), never link-local or cloud metadata addresses unless the server allows them (<see cref="ServerOutbound"/>).
/// </summary>
internal sealed class ModelHttp(ServerOutbound outbound) : IDisposable
{
    public HttpClient Client { get; } = new(Handler(outbound))
    {
        // A streamed answer may take minutes; the client going away cancels it.
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private static SocketsHttpHandler Handler(ServerOutbound outbound)
    {
        var handler = ServerOutbound.Handler(outbound.Policy(serverAdministrator: true, "model upstreams"), TimeSpan.FromSeconds(15), pooledConnectionLifetime: TimeSpan.FromMinutes(10));
        handler.UseCookies = false;
        handler.AutomaticDecompression = System.Net.DecompressionMethods.None;
        handler.PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90);
        return handler;
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>The top-level <c>"model"</c> of a request body: where its value is, to rewrite it without touching any other byte.</summary>
internal sealed record ModelField(string Value, int Start, int End)
{
    /// <summary>The field, or null when the body is not one JSON object with exactly one string <c>model</c> at its top level.</summary>
    public static ModelField? Find(byte[] body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            ModelField? found = null;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 0)
                {
                    break;
                }

                var isModel = reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("model"u8);
                reader.Read();
                if (!isModel)
                {
                    reader.Skip();
                    continue;
                }

                // Two "model" members would let the check read one and the upstream use the other.
                if (found is not null || reader.TokenType != JsonTokenType.String)
                {
                    return null;
                }

                found = new ModelField(reader.GetString()!, (int)reader.TokenStartIndex, (int)reader.BytesConsumed);
            }

            // Nothing may follow the object.
            return reader.Read() ? null : found;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public byte[] Replace(byte[] body, string value)
    {
        var encoded = JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes;
        var result = new byte[Start + encoded.Length + 2 + (body.Length - End)];
        body.AsSpan(0, Start).CopyTo(result);
        result[Start] = (byte)'"';
        encoded.CopyTo(result.AsSpan(Start + 1));
        result[Start + 1 + encoded.Length] = (byte)'"';
        body.AsSpan(End).CopyTo(result.AsSpan(Start + encoded.Length + 2));
        return result;
    }
}
