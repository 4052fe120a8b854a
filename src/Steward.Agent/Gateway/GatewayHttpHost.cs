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

namespace Steward.Agent.Gateway;

/// <summary>
/// <c>steward gateway --http &lt;port&gt;</c>: the gateway over MCP streamable HTTP at <c>http://127.0.0.1:&lt;port&gt;/mcp</c>,
/// on Kestrel, each session an SDK <see cref="StreamableHttpServerTransport"/> served by the same <see cref="Gateway"/>.
/// Every request needs <c>Authorization: Bearer &lt;token&gt;</c> (STEWARD_GATEWAY_TOKEN, or one generated and printed
/// to stderr); anything else is 401. Only loopback is bound. ASP.NET Core is loaded only when this runs: nothing else of the
/// gateway touches its types, so the stdio gateway and every other command start without it.
/// </summary>
public static class GatewayHttpHost
{
    public const string TokenVariable = "STEWARD_GATEWAY_TOKEN";
    public const string Path = "/mcp";
    private const string SessionHeader = "Mcp-Session-Id";

    public const int DefaultIdleSeconds = 300;
    public const int DefaultMaxSessions = 64;

    /// <summary>How long a session may sit idle before it is ended, and how many may be open at once.</summary>
    public sealed record Limits(TimeSpan Idle, int MaxSessions)
    {
        public static Limits Default { get; } = new(TimeSpan.FromSeconds(DefaultIdleSeconds), DefaultMaxSessions);

        /// <summary>
        /// Requests of the stateless revision in flight at once (each POST holds its own transport until answered, a
        /// <c>subscriptions/listen</c> until it ends): four per session of <see cref="MaxSessions"/>.
        /// </summary>
        public int MaxStatelessRequests => MaxSessions * 4;
    }

    public static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static async Task RunAsync(Gateway gateway, int port, string token, Limits limits, TextWriter stderr, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var time = TimeProvider.System;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        // Our own Listen replaces ASPNETCORE_URLS and the like.
        builder.WebHost.UseSetting(WebHostDefaults.PreferHostingUrlsKey, "false");
        var app = builder.Build();
        var sessions = new ConcurrentDictionary<string, Session>(StringComparer.Ordinal);
        var stateless = new StatelessCount();
        var expected = Encoding.UTF8.GetBytes("Bearer " + token);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        app.Use(async (context, next) =>
        {
            // DNS rebinding: a web page whose name now resolves to 127.0.0.1 reaches this port with its own name in Host
            // and its own Origin. Only loopback names are served (MCP transports: servers must validate Origin).
            if (!Core.Net.UrlRules.IsLoopbackHost(context.Request.Host.Host) ||
                (context.Request.Headers.Origin.ToString() is { Length: > 0 } origin && !(Uri.TryCreate(origin, UriKind.Absolute, out var from) && Core.Net.UrlRules.IsLoopback(from))))
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

        app.MapPost(Path, context => PostAsync(context, gateway, sessions, stateless, limits, time, stderr, loggerFactory, stopping.Token));
        app.MapGet(Path, async context =>
        {
            if (Find(context, sessions) is not { } session)
            {
                return;
            }

            SseHeaders(context.Response);
            using var busy = session.Busy(time);
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

            if (sessions.TryRemove(session.Id, out _))
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
        });

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var sweeping = SweepAsync(sessions, limits, time, stderr, stopping.Token);
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
        await sweeping.ConfigureAwait(false);
        foreach (var session in sessions.Values)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Ends the sessions idle longer than the limit (no request in flight, no open stream), checked a few times per limit.</summary>
    private static async Task SweepAsync(ConcurrentDictionary<string, Session> sessions, Limits limits, TimeProvider time, TextWriter stderr, CancellationToken stopping)
    {
        var every = TimeSpan.FromTicks(Math.Clamp(limits.Idle.Ticks / 4, TimeSpan.FromMilliseconds(250).Ticks, TimeSpan.FromSeconds(30).Ticks));
        using var timer = new PeriodicTimer(every, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                foreach (var session in sessions.Values)
                {
                    if (session.IdleFor(time) > limits.Idle && sessions.TryRemove(session.Id, out _))
                    {
                        await stderr.WriteLineAsync($"steward gateway: session {session.Id[..8]}… ended after {limits.Idle.TotalSeconds:0} s idle").ConfigureAwait(false);
                        await session.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Room for one more session: the longest idle one is ended when the limit is reached; false when every open session is busy.</summary>
    private static async Task<bool> MakeRoomAsync(ConcurrentDictionary<string, Session> sessions, Limits limits, TimeProvider time, TextWriter stderr)
    {
        while (sessions.Count >= limits.MaxSessions)
        {
            var idlest = sessions.Values.Where(s => s.IdleFor(time) > TimeSpan.Zero).MaxBy(s => s.IdleFor(time));
            if (idlest is null)
            {
                return false;
            }

            if (sessions.TryRemove(idlest.Id, out _))
            {
                await stderr.WriteLineAsync($"steward gateway: session {idlest.Id[..8]}… ended to make room ({limits.MaxSessions} sessions open, --max-sessions)").ConfigureAwait(false);
                await idlest.DisposeAsync().ConfigureAwait(false);
            }
        }

        return true;
    }

    /// <summary>How many stateless requests are in flight.</summary>
    private sealed class StatelessCount
    {
        public int InFlight;
    }

    private static async Task PostAsync(HttpContext context, Gateway gateway, ConcurrentDictionary<string, Session> sessions, StatelessCount stateless, Limits limits,
        TimeProvider time, TextWriter stderr, ILoggerFactory loggerFactory, CancellationToken stopping)
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

        var requestId = message is JsonRpcRequest request ? request.Id : default;
        if (StatelessHttp.Check(context.Request.Headers, message) is { } refusal)
        {
            await ErrorAsync(context, refusal.Status, refusal.Error, requestId).ConfigureAwait(false);
            return;
        }

        if (StatelessHttp.IsStateless(context.Request.Headers, message))
        {
            if (!string.IsNullOrEmpty(context.Request.Headers[SessionHeader]))
            {
                await ErrorAsync(context, StatusCodes.Status400BadRequest, new JsonRpcErrorDetail
                {
                    Code = (int)McpErrorCode.InvalidRequest,
                    Message = "Bad Request: revision 2026-07-28 has no sessions; send the request without the Mcp-Session-Id header.",
                }, requestId).ConfigureAwait(false);
                return;
            }

            if (Interlocked.Increment(ref stateless.InFlight) > limits.MaxStatelessRequests)
            {
                Interlocked.Decrement(ref stateless.InFlight);
                context.Response.Headers.RetryAfter = "5";
                await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, new JsonRpcErrorDetail
                {
                    Code = (int)McpErrorCode.InternalError,
                    Message = $"Service Unavailable: the gateway has {limits.MaxStatelessRequests} requests of revision 2026-07-28 in flight (four per session of --max-sessions); try again shortly.",
                }, requestId).ConfigureAwait(false);
                return;
            }

            try
            {
                await ServeStatelessAsync(context, message, gateway, stopping).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref stateless.InFlight);
            }

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

            if (!await MakeRoomAsync(sessions, limits, time, stderr).ConfigureAwait(false))
            {
                context.Response.Headers.RetryAfter = "5";
                await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, McpErrorCode.InternalError,
                    $"Service Unavailable: the gateway has {limits.MaxSessions} sessions open and busy (--max-sessions); try again shortly.").ConfigureAwait(false);
                return;
            }

            session = Session.Start(gateway, loggerFactory, time, stopping);
            sessions[session.Id] = session;
            _ = session.Running.ContinueWith(_ => sessions.TryRemove(session.Id, out var _), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
        else if ((session = Find(context, sessions)) is null)
        {
            return;
        }

        context.Response.Headers[SessionHeader] = session.Id;
        SseHeaders(context.Response);
        using var busy = session.Busy(time);
        var wrote = await session.Transport.HandlePostRequestAsync(message, context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        if (!wrote)
        {
            // A notification or a response: nothing to answer.
            context.Response.Headers.ContentType = (string?)null;
            context.Response.StatusCode = StatusCodes.Status202Accepted;
        }
    }

    /// <summary>
    /// One request of a stateless revision (2026-07-28): the gateway's MCP server over a transport that carries this
    /// request and its answer, and nothing after it. An error the revision gives an HTTP status (404 for a method not
    /// found, 400 for a missing capability or a revision or header problem) sets it before the answer is written.
    /// </summary>
    private static async Task ServeStatelessAsync(HttpContext context, JsonRpcMessage message, Gateway gateway, CancellationToken stopping)
    {
        var transport = new OneRequestTransport(message, context);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var running = gateway.RunRequestAsync(transport, both.Token);
        try
        {
            if (message is JsonRpcRequest)
            {
                await transport.Answered.WaitAsync(both.Token).ConfigureAwait(false);
            }
            else
            {
                // A notification (notifications/cancelled): nothing to answer.
                context.Response.StatusCode = StatusCodes.Status202Accepted;
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            try
            {
                await running.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

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

    private static Task ErrorAsync(HttpContext context, int status, McpErrorCode code, string message) =>
        ErrorAsync(context, status, new JsonRpcErrorDetail { Code = (int)code, Message = message }, default);

    /// <summary>A JSON-RPC error as the whole answer, with the request's id when it has one.</summary>
    private static Task ErrorAsync(HttpContext context, int status, JsonRpcErrorDetail error, RequestId id)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var body = new JsonRpcError { Id = id, Error = error };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage))));
    }

    /// <summary>One streamable HTTP session: its transport and the gateway's MCP server running over it.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop;

        private int busy;
        private long lastActive;

        private Session(string id, StreamableHttpServerTransport transport, CancellationTokenSource stop, long now)
        {
            Id = id;
            Transport = transport;
            this.stop = stop;
            lastActive = now;
        }

        /// <summary>Marks a request or stream of this session in progress until disposed.</summary>
        public Activity Busy(TimeProvider time)
        {
            Interlocked.Increment(ref busy);
            Volatile.Write(ref lastActive, time.GetTimestamp());
            return new Activity(this, time);
        }

        /// <summary>How long nothing has been in progress (zero while something is).</summary>
        public TimeSpan IdleFor(TimeProvider time) =>
            Volatile.Read(ref busy) > 0 ? TimeSpan.Zero : time.GetElapsedTime(Volatile.Read(ref lastActive));

        public readonly struct Activity(Session session, TimeProvider time) : IDisposable
        {
            public void Dispose()
            {
                Volatile.Write(ref session.lastActive, time.GetTimestamp());
                Interlocked.Decrement(ref session.busy);
            }
        }

        public string Id { get; }

        public StreamableHttpServerTransport Transport { get; }

        public Task Running { get; private set; } = Task.CompletedTask;

        public static Session Start(Gateway gateway, ILoggerFactory loggerFactory, TimeProvider time, CancellationToken stopping)
        {
            var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var transport = new StreamableHttpServerTransport(loggerFactory) { SessionId = id };
            var session = new Session(id, transport, CancellationTokenSource.CreateLinkedTokenSource(stopping), time.GetTimestamp());
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
