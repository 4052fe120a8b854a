using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Steward.Agent.Audit;
using Steward.Agent.Policy;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Net;

// Logging is a current feature of the revisions the gateway speaks; MCP9005 flags its deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

/// <summary>
/// <c>steward gateway</c>: one MCP server (the SDK's <see cref="McpServer"/>) in front of every admitted upstream (the
/// SDK's <see cref="McpClient"/>), enforcing the policy on what runs and on every tool call.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description>Shapes: aggregated (tools and prompts named <c>&lt;server&gt;__&lt;name&gt;</c>; resource URIs kept
/// as the server wrote them and routed by the URI each server listed, then by its templates) or per server (names
/// unchanged).</description></item>
/// <item><description>Hosts speak any revision from 2024-11-05 to 2025-11-25 (the <c>initialize</c> handshake) or the
/// stateless 2026-07-28 (each request on its own; questions as <c>input_required</c> rounds, <c>Gateway.Rounds.cs</c>),
/// and each upstream is asked for 2025-11-25 and spoken to in the older revision it answers. Upstreams are offered the
/// sampling, elicitation and roots the host sessions offer (<c>Gateway.Offer.cs</c>), and each request they make is
/// answered by the session whose call caused it.</description></item>
/// <item><description><see cref="ApplyPolicyAsync"/> decides what runs; upstreams start in parallel, and one that fails is
/// reported without holding up the others. List requests wait for an apply in progress.</description></item>
/// <item><description>One class, one file per seam: this file holds the state and the host sessions;
/// <c>Gateway.Upstreams.cs</c> the upstreams' lifecycle; <c>Gateway.ToolCalls.cs</c> the tool-call gate;
/// <c>Gateway.Routing.cs</c> names and resource URIs; <c>Gateway.Requests.cs</c> the host's other requests;
/// <c>Gateway.Relay.cs</c> what goes from upstreams to hosts.</description></item>
/// </list>
/// </remarks>
public sealed partial class Gateway : IAsyncDisposable
{
    /// <summary>Between a server's alias (<see cref="ServerAliases"/>) and a tool's or prompt's name in the aggregated shape.</summary>
    public const string Separator = ServerAliases.Separator;

    private const string ApprovalField = "approve";

    private const long ForwardedIdBase = 1L << 40;

    private readonly GatewayOptions options;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly AuditLog audit;
    private readonly ToolPins pins;
    private readonly OutboundAddressPolicy outbound = OutboundAddressPolicy.FromEnvironment(purpose: "remote servers");
    private readonly HttpClient httpClient;
    private readonly SemaphoreSlim applyGate = new(1, 1);
    private readonly TaskCompletionSource hostReady = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set once the first policy has been applied: until then a host's first lists would be empty.</summary>
    private readonly TaskCompletionSource firstPolicyApplied = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How long a host's request waits for the first policy before it is answered with what there is.</summary>
    private static readonly TimeSpan FirstPolicyWait = TimeSpan.FromSeconds(60);
    private readonly ConcurrentDictionary<string, Regex> templateRegexes = new(StringComparer.Ordinal);
    private readonly McpServerOptions serverOptions;

    private MergedMcpConfig config;
    private PolicyState? policy;
    private ImmutableArray<Upstream> upstreams = [];

    /// <summary>Configured name → alias of every admitted server (<see cref="ServerAliases"/>), replaced with the policy.</summary>
    private volatile IReadOnlyDictionary<string, string> aliases = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Exposed names that are not <c>alias__name</c> as written (a name cut to fit, with its hash) → the upstream's own name.</summary>
    private readonly ConcurrentDictionary<(string Alias, string Exposed), string> reshaped = new();
    private DecisionTable decisions = DecisionTable.None;
    private bool auditArguments;
    private GatewayStatus status = GatewayStatus.Empty;
    private McpServer? host;
    private ImmutableArray<McpServer> hosts = [];

    private readonly TimeProvider time;

    /// <summary>Progress tokens sent upstream for calls in flight (as JSON text) → the session that made the call and its own token.</summary>
    private readonly ConcurrentDictionary<string, (CallHost Session, JsonNode Token)> progressTokens = new(StringComparer.Ordinal);
    private long relayedTokens;

    /// <summary>Per upstream, the host sessions with a tools/call in flight to it, most recent last.</summary>
    private readonly ConcurrentDictionary<string, ImmutableList<CallHost>> callers = new(StringComparer.Ordinal);
    private LoggingLevel? hostLoggingLevel;
    private ImmutableDictionary<string, Upstream> resourceOwners = ImmutableDictionary<string, Upstream>.Empty;
    private long forwardedCalls;

    public Gateway(GatewayOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        this.options = options;
        config = options.Config;
        this.loggerFactory = loggerFactory;
        logger = loggerFactory.CreateLogger("Steward.Gateway");
        time = options.Time;
        audit = new AuditLog(options.AuditLogPath) { Uploader = options.AuditUploader };
        // Remote upstreams never reach link-local or cloud metadata addresses, checked after name resolution on every
        // connection; their answers are held to the message limit as local servers' are.
        httpClient = new HttpClient(new ResponseLimitHandler(outbound.CreateHandler(), options.MessageLimit), disposeHandler: true);
        pins = new ToolPins(options.PinsPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(options.AuditLogPath))!, ToolPins.FileName));
        serverOptions = CreateServerOptions();
    }

    /// <summary>True in the per-server shape.</summary>
    public bool PerServer => options.Server is not null;

    public GatewayStatus Status => Volatile.Read(ref status);

    /// <summary>
    /// The host-facing MCP server over <paramref name="transport"/> (stdio, or one streamable HTTP session); runs until
    /// the host disconnects. Several sessions may run at once (HTTP): notifications go to every one of them, and
    /// requests from upstreams (sampling, elicitation, roots) to the session whose call is in flight to that upstream
    /// (else the most recent), held to that session's capabilities (<see cref="SessionFor"/>, <see cref="OfferAsync"/>).
    /// </summary>
    public async Task RunAsync(ITransport transport, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var server = McpServer.Create(transport, serverOptions, loggerFactory);
        ImmutableInterlocked.Update(ref hosts, static (list, s) => list.Add(s), server);
        Volatile.Write(ref host, server);
        await using (server.ConfigureAwait(false))
        {
            try
            {
                await server.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ImmutableInterlocked.Update(ref hosts, static (list, s) => list.Remove(s), server);
                var remaining = hosts;
                Interlocked.CompareExchange(ref host, remaining.IsEmpty ? null : remaining[^1], server);
            }
        }
    }

    /// <summary>
    /// One request of a stateless revision over HTTP (2026-07-28): the host-facing MCP server over a transport that
    /// carries that request and its answer. It is not a host session: notifications for hosts never go to it.
    /// </summary>
    public async Task RunRequestAsync(ITransport transport, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var server = McpServer.Create(transport, serverOptions, loggerFactory);
        await using (server.ConfigureAwait(false))
        {
            await server.RunAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static string GatewayVersion { get; } = typeof(Gateway).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private McpServerOptions CreateServerOptions() => new()
    {
        ServerInfo = new Implementation
        {
            Name = options.Server ?? "steward-gateway",
            Title = options.Server is null ? "Steward gateway" : $"{options.Server} (through Steward)",
            Version = GatewayVersion,
        },
        Capabilities = new ServerCapabilities
        {
            Tools = new ToolsCapability { ListChanged = true },
            Prompts = new PromptsCapability { ListChanged = true },
            Resources = new ResourcesCapability { Subscribe = true, ListChanged = true },
            Logging = new LoggingCapability(),
            Completions = new CompletionsCapability(),
            // Tasks are the gateway's own, for hosts of the stateless revision that declare them (Gateway.Tasks.cs).
            Extensions = new Dictionary<string, object> { [TasksExtension] = System.Text.Json.JsonDocument.Parse("{}").RootElement },
        },
        Handlers = new McpServerHandlers
        {
            ListToolsHandler = (_, ct) => ListToolsAsync(ct),
            ListPromptsHandler = ListPromptsAsync,
            GetPromptHandler = GetPromptAsync,
            ListResourcesHandler = ListResourcesAsync,
            ListResourceTemplatesHandler = ListResourceTemplatesAsync,
            ReadResourceHandler = ReadResourceAsync,
            SubscribeToResourcesHandler = SubscribeAsync,
            UnsubscribeFromResourcesHandler = UnsubscribeAsync,
            CompleteHandler = CompleteAsync,
            SetLoggingLevelHandler = SetLoggingLevelAsync,
            SubscriptionsListenHandler = ListenAsync,
            NotificationHandlers =
            [
                new(NotificationMethods.InitializedNotification, HostInitializedAsync),
                new(NotificationMethods.RootsListChangedNotification, HostRootsChangedAsync),
            ],
        },
        // Every tools/call is decided by the tool-call gate (CallToolAsync) and forwarded as JSON; everything else goes on to the SDK's handlers.
        // Upstream errors reach the host with the upstream's own message (UpstreamErrors).
        Filters = new McpServerFilters { Message = new McpMessageFilters { IncomingFilters = [ToolCallFilter], OutgoingFilters = [UpstreamErrors.Unwrap] } },
    };

    private McpMessageHandler ToolCallFilter(McpMessageHandler next) => (context, cancellationToken) =>
    {
        // A host of the stateless revision (2026-07-28) never sends initialize: its first request, which carries its
        // capabilities, is what upstreams wait for. server/discover is answered by the SDK from the server options.
        if (context.JsonRpcMessage is JsonRpcRequest stateless && IsStateless(context))
        {
            if (MalformedRetry(stateless) is { } why)
            {
                return context.Server.SendMessageAsync(new JsonRpcError
                {
                    Id = stateless.Id,
                    Error = new JsonRpcErrorDetail { Code = (int)McpErrorCode.InvalidParams, Message = why },
                }, cancellationToken);
            }

            if (!hostReady.Task.IsCompleted)
            {
                return FirstStatelessAsync(context, next, cancellationToken);
            }
        }

        return Dispatch(context, next, cancellationToken);
    };

    /// <summary>
    /// Where a host's message goes: a tools/call to the gate; a stateless host's prompts/get and resources/read to a call
    /// with rounds, so that an upstream's question while it answers reaches that host; everything else to the SDK.
    /// </summary>
    private Task Dispatch(MessageContext context, McpMessageHandler next, CancellationToken cancellationToken) => context.JsonRpcMessage switch
    {
        JsonRpcRequest { Method: RequestMethods.ToolsCall } request => CallToolAsync(context, request, cancellationToken),
        JsonRpcRequest { Method: RequestMethods.PromptsGet or RequestMethods.ResourcesRead } request when IsStateless(context) =>
            StatelessRequestAsync(context, request, cancellationToken),
        JsonRpcRequest { Method: "tasks/get" or "tasks/update" or "tasks/cancel" } request when IsStateless(context) => TaskRequestAsync(context, request, cancellationToken),
        JsonRpcNotification { Method: NotificationMethods.InitializedNotification } => Initialized(context, next, cancellationToken),
        JsonRpcNotification { Method: NotificationMethods.CancelledNotification } cancelled when !waitingRounds.IsEmpty => CancelledAsync(cancelled, context, next, cancellationToken),
        _ => next(context, cancellationToken),
    };

    /// <summary>
    /// Why a stateless request's retry fields are malformed (<c>inputResponses</c> not an object of objects,
    /// <c>requestState</c> not a string), or null; well-formed ones go on to the call they continue (<see cref="CallStatelessAsync"/>).
    /// </summary>
    private static string? MalformedRetry(JsonRpcRequest request) => request.Params is not JsonObject parameters
        ? null
        : parameters.TryGetPropertyValue("inputResponses", out var responses) && (responses is not JsonObject each || each.Any(r => r.Value is not JsonObject))
            ? $"{request.Method}: params.inputResponses must be an object whose every value is a response object (by its input request's key)"
            : parameters.TryGetPropertyValue("requestState", out var state) && !(state is JsonValue v && v.TryGetValue(out string? _))
                ? $"{request.Method}: params.requestState must be the string the server sent"
                : null;

    /// <summary>True when the message is a request of a stateless revision (its <c>_meta</c> names 2026-07-28 or later).</summary>
    private static bool IsStateless(MessageContext context) => IsStatelessRevision(context.JsonRpcMessage.Context?.ProtocolVersion);

    /// <summary>The first revision without <c>initialize</c> and sessions.</summary>
    public const string StatelessRevision = "2026-07-28";

    /// <summary>True for <see cref="StatelessRevision"/> and any later revision (revisions are dates, compared as text).</summary>
    public static bool IsStatelessRevision(string? revision) =>
        revision is { Length: 10 } && revision[4] == '-' && revision[7] == '-' && string.CompareOrdinal(revision, StatelessRevision) >= 0;

    private Task CancelledAsync(JsonRpcNotification cancelled, MessageContext context, McpMessageHandler next, CancellationToken cancellationToken)
    {
        CancelRound(cancelled);
        return next(context, cancellationToken);
    }

    private async Task FirstStatelessAsync(MessageContext context, McpMessageHandler next, CancellationToken cancellationToken)
    {
        // A stateless host's capabilities are those of each request, and vary from one to the next: upstreams are offered
        // everything the gateway relays, and each question is held to the capabilities of the request that caused it.
        await OfferAsync(RelayedCapabilities, context.Server.ClientInfo, cancellationToken).ConfigureAwait(false);
        hostReady.TrySetResult();
        await Dispatch(context, next, cancellationToken).ConfigureAwait(false);
    }

    private async Task Initialized(MessageContext context, McpMessageHandler next, CancellationToken cancellationToken)
    {
        await OfferAsync(context.Server.ClientCapabilities, context.Server.ClientInfo, cancellationToken).ConfigureAwait(false);
        await next(context, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask HostInitializedAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        hostReady.TrySetResult();
        if (Status.Notice is { } notice)
        {
            await NoticeToHostAsync(notice, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for an apply in progress, so a list never shows a half-started set of servers.</summary>
    private async ValueTask SettledAsync(CancellationToken cancellationToken)
    {
        // A host that lists right after initialize, before the policy feed's first state was applied (a slow disk, a
        // loaded machine), would get empty lists, and a host in one-shot mode (claude -p) never asks again.
        if (!firstPolicyApplied.Task.IsCompleted)
        {
            try
            {
                await firstPolicyApplied.Task.WaitAsync(FirstPolicyWait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Answer with what there is; the list-changed notification follows when the policy arrives.
            }
        }

        await applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        applyGate.Release();
    }

    public async ValueTask DisposeAsync()
    {
        EndTasks();
        var stopping = upstreams;
        upstreams = [];
        await StopAsync(stopping, "the gateway is stopping").ConfigureAwait(false);
        audit.Dispose();
        httpClient.Dispose();
        applyGate.Dispose();
        subscribing.Dispose();
    }
}
