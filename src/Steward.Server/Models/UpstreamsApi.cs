using System.Text;

namespace Steward.Server.Models;

/// <summary>
/// <c>GET/PUT /api/v1/models/upstreams</c> (an admin of the first organisation): where the model endpoint sends allowed
/// requests, per provider and placement. A PUT replaces the set; an entry without <c>apiKey</c> keeps the key stored for
/// the same provider and placement, <c>"apiKey": null</c> removes it. Keys are sealed at rest and never returned.
/// </summary>
internal static class UpstreamsApi
{
    public const int MaxBodyBytes = 64 * 1024;
    private static readonly string[] EntryFields = ["provider", "placement", "baseUrl", "apiKey"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/models/upstreams", GetAsync);
        app.MapPut("/api/v1/models/upstreams", PutAsync);
    }

    internal static async Task<IResult> GetAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var (_, _, refusal) = await ModelsAdminApi.InstallationAdminAsync(context, database, time, "reading the model upstreams", cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var views = await ViewsAsync(connection, null, cancellationToken).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w => WriteViews(w, views)), StatusCodes.Status200OK);
    }

    internal static async Task<IResult> PutAsync(HttpContext context, Database database, TimeProvider time, ModelUpstreams upstreams, ServeOptions options, CancellationToken cancellationToken)
    {
        var (caller, first, refusal) = await ModelsAdminApi.InstallationAdminAsync(context, database, time, "configuring the model upstreams", cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        var read = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.UpstreamsRequest, (body, check) => body.Validate(check, options),
            cancellationToken).ConfigureAwait(false);
        if (!read.Ok)
        {
            return Problems.Of(read.Problem);
        }

        var entries = read.Value;

        var now = Timestamps.Now(time);
        var at = Timestamps.ToText(now);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, first!.Id, cancellationToken).ConfigureAwait(false);
        var stored = await connection.QueryAsync("SELECT provider, placement, api_key_sealed FROM model_upstreams", transaction,
            r => (Provider: r.GetString(0), Placement: r.GetString(1), Sealed: r.NullableString(2)), cancellationToken).ConfigureAwait(false);
        var before = await ViewsAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM model_upstreams", transaction, cancellationToken).ConfigureAwait(false);
        foreach (var entry in entries)
        {
            var kept = stored.FirstOrDefault(s => s.Provider == entry.Provider && s.Placement == entry.Placement).Sealed;
            var sealedKey = entry.KeyGiven ? (entry.ApiKey is null ? null : upstreams.Seal(entry.ApiKey, entry.Provider, entry.Placement)) : kept;
            await connection.ExecuteAsync(
                "INSERT INTO model_upstreams (provider, placement, base_url, api_key_sealed, updated_at) VALUES (@provider, @placement, @url, @key, @at)", transaction, cancellationToken,
                ("provider", entry.Provider), ("placement", entry.Placement), ("url", entry.BaseUrl), ("key", sealedKey), ("at", at)).ConfigureAwait(false);
        }

        var after = await ViewsAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        var changedKeys = entries.Where(e => e.KeyGiven).Select(e => $"{e.Provider}/{e.Placement}").ToList();
        await AuditLog.WriteAsync(connection, transaction, first.Id, now, caller!.Actor, "model-upstreams.update", "model-upstreams",
            Encoding.UTF8.GetString(ResponseJson.Write(w => WriteViews(w, before))),
            Encoding.UTF8.GetString(ResponseJson.Write(w => WriteViews(w, after, changedKeys))), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w => WriteViews(w, after)), StatusCodes.Status200OK);
    }

    /// <summary>One upstream as a PUT sets it; <see cref="KeyGiven"/> false keeps the key stored for its provider and placement.</summary>
    internal sealed record Entry(string Provider, string Placement, string BaseUrl, bool KeyGiven, string? ApiKey);

    /// <summary>The entries of <paramref name="upstreams"/> (the body's array, null when left out), every problem added to <paramref name="check"/> at its path.</summary>
    internal static List<Entry> Read(JsonElement? upstreams, ServeOptions options, BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(check);
        var entries = new List<Entry>();
        if (upstreams is not { ValueKind: JsonValueKind.Array } list)
        {
            check.Add("upstreams", "expected an array of {provider, placement, baseUrl, apiKey}");
            return entries;
        }

        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            var at = $"upstreams[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                check.Add(at, "expected {provider, placement, baseUrl, apiKey}");
                continue;
            }

            foreach (var member in item.EnumerateObject().Where(m => !EntryFields.Contains(m.Name)))
            {
                check.Add($"{at}.{member.Name}", "unknown field; expected provider, placement, baseUrl, apiKey");
            }

            var provider = Name(item, "provider", at, "a catalog provider such as \"anthropic\", or \"*\" for any", check);
            var placement = Name(item, "placement", at, "a geography such as \"US\" or \"EU\", \"global\", or \"*\" for any", check);
            string? baseUrl = null;
            var urlProblem = item.TryGetProperty("baseUrl", out var urlElement) && urlElement.ValueKind == JsonValueKind.String
                ? BaseUrlProblem(urlElement.GetString()!, options)
                : "expected the upstream's base URL, such as https://api.anthropic.com/v1";
            if (urlProblem is null)
            {
                baseUrl = urlElement.GetString()!.TrimEnd('/');
            }
            else
            {
                check.Add(at + ".baseUrl", urlProblem);
            }

            var keyGiven = item.TryGetProperty("apiKey", out var keyElement);
            string? apiKey = null;
            if (keyGiven && keyElement.ValueKind != JsonValueKind.Null)
            {
                if (keyElement.ValueKind != JsonValueKind.String || keyElement.GetString() is not { Length: > 0 and <= 4096 } key || key.Any(char.IsControl))
                {
                    // The value is a secret: the problem never repeats it.
                    check.Add(at + ".apiKey", "expected the API key as a string of 1 to 4096 characters without control characters, or null to remove it");
                }
                else
                {
                    apiKey = key;
                }
            }

            if (provider is not null && placement is not null && entries.Any(e => e.Provider == provider && e.Placement == placement))
            {
                check.Add(at, $"a second upstream for {provider}/{placement}");
                continue;
            }

            if (provider is not null && placement is not null && baseUrl is not null)
            {
                entries.Add(new Entry(provider, placement, baseUrl, keyGiven, apiKey));
            }
        }

        return entries;
    }

    private static string? Name(JsonElement item, string field, string at, string expected, BodyCheck check)
    {
        if (item.TryGetProperty(field, out var element) && element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 and <= 100 } text
            && (text == ModelUpstreams.Any || text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            return text;
        }

        check.Add($"{at}.{field}", "expected " + expected, element.ValueKind == JsonValueKind.Undefined ? null : element.GetRawText());
        return null;
    }

    /// <summary>An absolute https URL without user information, query or fragment; plain http only to a loopback address.</summary>
    private static string? BaseUrlProblem(string text, ServeOptions options)
    {
        if (text.Length > 2048 || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
        {
            return "expected an absolute https URL, such as https://api.anthropic.com/v1";
        }

        if (uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return "the base URL may not carry user information, a query or a fragment (the API key is configured separately)";
        }

        if (new Core.Net.OutboundAddressPolicy { AllowLinkLocal = options.AllowLinkLocalImport, Purpose = "model upstreams" }.Refusal(uri) is { } refusal)
        {
            return refusal + " (a server started with STEWARD_IMPORT_ALLOW_LINK_LOCAL=true allows it)";
        }

        if (!Core.Net.UrlRules.Allows(uri, allowLoopbackHttp: true))
        {
            return "plain http is allowed only to a loopback address; use https";
        }

        return null;
    }

    private static async Task<List<UpstreamView>> ViewsAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction? transaction, CancellationToken cancellationToken) =>
        await connection.QueryAsync("SELECT provider, placement, base_url, api_key_sealed IS NOT NULL, updated_at FROM model_upstreams ORDER BY provider, placement", transaction,
            r => new UpstreamView(r.GetString(0), r.GetString(1), r.GetString(2), r.Boolean(3), r.GetString(4)), cancellationToken).ConfigureAwait(false);

    private static void WriteViews(Utf8JsonWriter w, IReadOnlyList<UpstreamView> views, IReadOnlyList<string>? changedKeys = null)
    {
        w.WriteStartObject();
        w.WriteStartArray("upstreams");
        foreach (var view in views)
        {
            w.WriteStartObject();
            w.WriteString("provider", view.Provider);
            w.WriteString("placement", view.Placement);
            w.WriteString("baseUrl", view.BaseUrl);
            w.WriteBoolean("apiKeySet", view.ApiKeySet);
            if (changedKeys is not null)
            {
                w.WriteBoolean("apiKeyChanged", changedKeys.Contains($"{view.Provider}/{view.Placement}"));
            }

            w.WriteString("updatedAt", view.UpdatedAt);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }
}
