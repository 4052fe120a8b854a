using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward gateway --http &lt;port&gt;</c>: the gateway over MCP streamable HTTP at <c>http://127.0.0.1:&lt;port&gt;/mcp</c>,
/// on Kestrel, each session an SDK <see cref="StreamableHttpServerTransport"/> served by the same <see cref="Agent.Gateway.Gateway"/>.
/// Every request needs <c>Authorization: Bearer &lt;token&gt;</c> (STEWARD_GATEWAY_TOKEN, or one generated and printed
/// to stderr); anything else is 401. Only loopback is bound. Lives in the CLI so that ASP.NET Core is loaded only by
/// this command.
/// </summary>
internal static class GatewayHttpHost
{
    public const string TokenVariable = "STEWARD_GATEWAY_TOKEN";
    public const string Path = "/mcp";
    private const string SessionHeader = "Mcp-Session-Id";

    public static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static async Task<int> RunAsync(Agent.Gateway.Gateway gateway, int port, string token, TextWriter stderr, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        // Our own Listen replaces ASPNETCORE_URLS and the like.
        builder.WebHost.UseSetting(WebHostDefaults.PreferHostingUrlsKey, "false");
        var app = builder.Build();
        var sessions = new ConcurrentDictionary<string, Session>(StringComparer.Ordinal);
        var expected = Encoding.UTF8.GetBytes("Bearer " + token);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        app.Use(async (context, next) =>
        {
            // DNS rebinding: a web page whose name now resolves to 127.0.0.1 reaches this port with its own name in Host
            // and its own Origin. Only loopback names are served (MCP transports: servers must validate Origin).
            if (!IsLoopbackName(context.Request.Host.Host) ||
                (context.Request.Headers.Origin.ToString() is { Length: > 0 } origin && !(Uri.TryCreate(origin, UriKind.Absolute, out var from) && IsLoopbackName(from.Host))))
            {
                await ErrorAsync(context, StatusCodes.Status403Forbidden, McpErrorCode.InvalidRequest,
                    "Forbidden: the gateway serves only requests addressed to 127.0.0.1, localhost or [::1] (Host and Origin).").ConfigureAwait(false);
                return;
            }

            var given = Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString());
            if (!CryptographicOperations.FixedTimeEquals(given, expected))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                return;
            }

            await next(context).ConfigureAwait(false);
        });

        app.MapPost(Path, context => PostAsync(context, gateway, sessions, loggerFactory, stopping.Token));
        app.MapGet(Path, async context =>
        {
            if (Find(context, sessions) is not { } session)
            {
                return;
            }

            SseHeaders(context.Response);
            await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping.Token);
            try
            {
                await session.Transport.HandleGetRequestAsync(context.Response.Body, both.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        });
        app.MapDelete(Path, async context =>
        {
            if (Find(context, sessions) is not { } session)
            {
                return;
            }

            sessions.TryRemove(session.Id, out _);
            await session.DisposeAsync().ConfigureAwait(false);
        });

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? $"http://127.0.0.1:{port}";
        await stderr.WriteLineAsync($"steward gateway: listening on {address}{Path}").ConfigureAwait(false);
        // The host's console lifetime takes SIGTERM and Ctrl-C for itself (the command line's token never sees them) and
        // asks the application to stop: either ends the run.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, app.Lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.Infinite, ended.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        foreach (var session in sessions.Values)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static async Task PostAsync(HttpContext context, Agent.Gateway.Gateway gateway, ConcurrentDictionary<string, Session> sessions,
        ILoggerFactory loggerFactory, CancellationToken stopping)
    {
        JsonRpcMessage? message;
        try
        {
            message = await JsonSerializer.DeserializeAsync(context.Request.Body, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)),
                context.RequestAborted).ConfigureAwait(false) as JsonRpcMessage;
        }
        catch (JsonException)
        {
            message = null;
        }

        if (message is null)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, McpErrorCode.ParseError, "Bad Request: the body is not a JSON-RPC message.").ConfigureAwait(false);
            return;
        }

        Session? session;
        if (string.IsNullOrEmpty(context.Request.Headers[SessionHeader]))
        {
            if (message is not JsonRpcRequest { Method: RequestMethods.Initialize })
            {
                await ErrorAsync(context, StatusCodes.Status400BadRequest, McpErrorCode.InvalidRequest, "Bad Request: a session starts with initialize; other requests need the Mcp-Session-Id header.").ConfigureAwait(false);
                return;
            }

            session = Session.Start(gateway, loggerFactory, stopping);
            sessions[session.Id] = session;
            _ = session.Running.ContinueWith(_ => sessions.TryRemove(session.Id, out var _), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
        else if ((session = Find(context, sessions)) is null)
        {
            return;
        }

        context.Response.Headers[SessionHeader] = session.Id;
        SseHeaders(context.Response);
        var wrote = await session.Transport.HandlePostRequestAsync(message, context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        if (!wrote)
        {
            // A notification or a response: nothing to answer.
            context.Response.Headers.ContentType = (string?)null;
            context.Response.StatusCode = StatusCodes.Status202Accepted;
        }
    }

    private static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private static Session? Find(HttpContext context, ConcurrentDictionary<string, Session> sessions)
    {
        var id = context.Request.Headers[SessionHeader].ToString();
        if (id.Length > 0 && sessions.TryGetValue(id, out var session))
        {
            return session;
        }

        _ = ErrorAsync(context, id.Length == 0 ? StatusCodes.Status400BadRequest : StatusCodes.Status404NotFound, McpErrorCode.InvalidRequest,
            id.Length == 0 ? "Bad Request: the Mcp-Session-Id header is required." : "Session not found.");
        return null;
    }

    private static void SseHeaders(HttpResponse response)
    {
        response.Headers.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache,no-store";
        response.Headers.ContentEncoding = "identity";
    }

    private static Task ErrorAsync(HttpContext context, int status, McpErrorCode code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var body = new JsonRpcError { Id = default, Error = new JsonRpcErrorDetail { Code = (int)code, Message = message } };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage))));
    }

    /// <summary>One streamable HTTP session: its transport and the gateway's MCP server running over it.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop;

        private Session(string id, StreamableHttpServerTransport transport, CancellationTokenSource stop)
        {
            Id = id;
            Transport = transport;
            this.stop = stop;
        }

        public string Id { get; }

        public StreamableHttpServerTransport Transport { get; }

        public Task Running { get; private set; } = Task.CompletedTask;

        public static Session Start(Agent.Gateway.Gateway gateway, ILoggerFactory loggerFactory, CancellationToken stopping)
        {
            var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var transport = new StreamableHttpServerTransport(loggerFactory) { SessionId = id };
            var session = new Session(id, transport, CancellationTokenSource.CreateLinkedTokenSource(stopping));
            session.Running = Task.Run(async () =>
            {
                try
                {
                    await gateway.RunAsync(transport, session.stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }, CancellationToken.None);
            return session;
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Transport.DisposeAsync().ConfigureAwait(false);
            try
            {
                await Running.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }

            stop.Dispose();
        }
    }
}
