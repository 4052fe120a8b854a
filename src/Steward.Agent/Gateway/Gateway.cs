using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Steward.Agent.Policy;
using Steward.Core.Admission;
using Steward.Core.Audit;
using Steward.Core.Config;
using Steward.Core.Net;
using Steward.Core.Policy;

// The gateway speaks the 2025-11-25 revision, where logging is a current feature; MCP9005 flags its deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

/// <summary>How the gateway runs: the merged configuration, one server or all, where the audit log goes.</summary>
public sealed record GatewayOptions
{
    /// <summary>The user's and workspace's <c>mcp.json</c>, merged.</summary>
    public required MergedMcpConfig Config { get; init; }

    /// <summary>Per-server shape: serve exactly this configured server, names unchanged. Null: every admitted server, names prefixed.</summary>
    public string? Server { get; init; }

    /// <summary>The local audit log (JSON lines, 0600).</summary>
    public required string AuditLogPath { get; init; }

    /// <summary>Resolves <c>${VAR}</c> references at launch.</summary>
    public Func<string, string?> Lookup { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The directory local servers start in (null: the gateway's own, which a host sets to the workspace).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The local tool pins (<see cref="ToolPins"/>; 0600); null: <c>pins.json</c> next to the audit log.</summary>
    public string? PinsPath { get; init; }

    /// <summary>Sends each audited call to the Steward server too (null: the audit log is local only). Owned by the caller.</summary>
    public AuditUploader? AuditUploader { get; init; }

    /// <summary>What sandboxed launches need: the bridge command (<c>steward sandbox-bridge</c>) and the configuration directory to hide.</summary>
    public Sandbox.SandboxHost SandboxHost { get; init; } = new();

    /// <summary>How long an upstream may take to start and complete its handshake (the entry's <c>timeout</c> overrides it).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The largest message an upstream (local or remote) may send, in bytes: a larger answer reaches the host as an error
    /// and is audited <c>too_large</c>, and it is never held in memory (<see cref="BoundedLineStream"/>). Null: from
    /// <c>STEWARD_GATEWAY_MAX_MESSAGE_MIB</c> through <see cref="Lookup"/>, else 16 MiB.
    /// </summary>
    public long? MaxMessageBytes { get; init; }

    /// <summary>The message limit in force (<see cref="MaxMessageBytes"/>, the variable, or the default).</summary>
    internal long MessageLimit => MaxMessageBytes ?? (Lookup(BoundedLineStream.LimitVariable) is { Length: > 0 } text &&
                                                      int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var mib) && mib > 0
        ? mib * 1024L * 1024L
        : BoundedLineStream.DefaultLimitMib * 1024L * 1024L);
}

/// <summary>What the gateway serves now: running servers (configuration order), refused ones, failed ones, and why nothing is served if so.</summary>
public sealed record GatewayStatus(
    ImmutableArray<string> Running,
    ImmutableArray<UpstreamRefusal> Refused,
    ImmutableArray<UpstreamRefusal> Failed,
    string? Notice)
{
    public static GatewayStatus Empty { get; } = new([], [], [], null);

    /// <summary>Each running server's sandbox (by configured name): enforced by what, with what it may touch, or why not.</summary>
    public ImmutableDictionary<string, Sandbox.SandboxStatus> Sandboxes { get; init; } = ImmutableDictionary<string, Sandbox.SandboxStatus>.Empty;
}

/// <summary>
/// <c>steward gateway</c>: one MCP server (the SDK's <see cref="McpServer"/>) in front of every admitted upstream (the
/// SDK's <see cref="McpClient"/>), enforcing the policy on what runs and on every tool call.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description>Shapes: aggregated (tools and prompts named <c>&lt;server&gt;__&lt;name&gt;</c>; resource URIs kept
/// as the server wrote them and routed by the URI each server listed, then by its templates) or per server (names
/// unchanged).</description></item>
/// <item><description>Both sides speak the 2025-11-25 revision (the <c>initialize</c> handshake): the host's capabilities
/// are known once per session, and each upstream is offered sampling, elicitation and roots only when the host has
/// them.</description></item>
/// <item><description><see cref="ApplyPolicyAsync"/> decides what runs; upstreams start in parallel, and one that fails is
/// reported without holding up the others. List requests wait for an apply in progress.</description></item>
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

    /// <summary>
    /// What upstreams are offered: the capabilities and client info of the first host session that initialized, kept
    /// after that session ends. Upstreams are shared by every session of an HTTP gateway and start once, so what they are
    /// offered must not depend on which session happens to be current when they start.
    /// </summary>
    private Offer? offered;

    private sealed record Offer(ClientCapabilities? Capabilities, Implementation? Info);

    /// <summary>Progress tokens sent upstream for calls in flight (as JSON text) → the session that made the call and its own token.</summary>
    private readonly ConcurrentDictionary<string, (McpServer Session, JsonNode Token)> progressTokens = new(StringComparer.Ordinal);
    private long relayedTokens;

    /// <summary>Per upstream, the host sessions with a tools/call in flight to it, most recent last.</summary>
    private readonly ConcurrentDictionary<string, ImmutableList<McpServer>> callers = new(StringComparer.Ordinal);
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
    /// (else the most recent). Upstreams are offered the capabilities of the first session that initialized.
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
    /// Brings the running upstreams in line with <paramref name="state"/>: starts newly admitted servers, stops those no
    /// longer admitted, relaunches those whose version or launch changed, and tells the host the lists changed.
    /// Starting waits for the host's <c>initialize</c>, so that upstreams are offered exactly the host's capabilities.
    /// </summary>
    public async Task ApplyPolicyAsync(PolicyState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        await applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            policy = state;
            await ApplyAsync(state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            firstPolicyApplied.TrySetResult();
            applyGate.Release();
        }
    }

    /// <summary>
    /// The developer's configuration changed (<c>steward mcp add</c>, <c>remove</c>, <c>disable</c>, a hand edit of a
    /// <c>mcp.json</c>): the policy in force is applied again over it, so exactly the servers whose launch changed are
    /// stopped, started or relaunched, and the others keep running (with their new tool settings).
    /// </summary>
    public async Task ApplyConfigAsync(MergedMcpConfig merged, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(merged);
        await applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            config = merged;
            if (policy is { } state)
            {
                await ApplyAsync(state, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            applyGate.Release();
        }
    }

    private async Task ApplyAsync(PolicyState state, CancellationToken cancellationToken)
    {
        {
            var notice = state switch
            {
                PolicyState.Disabled d => $"MCP is disabled: {d.Reason} {d.WhatToDo}",
                PolicyState.Active { Snapshot.McpEnabled: false } => "MCP is disabled: your organisation's profile turns MCP servers off. Ask your administrator if you need them.",
                _ => null,
            };
            if (notice is not null || state is not PolicyState.Active active)
            {
                notice ??= "MCP is disabled.";
                var (reason, what) = state is PolicyState.Disabled dd ? (dd.Reason, dd.WhatToDo) : (notice, "");
                GatewayLog.McpDisabled(logger, reason, what);
                decisions = DecisionTable.None;
                appliedRules = [];
                var stopping = upstreams;
                upstreams = [];
                Volatile.Write(ref status, new GatewayStatus([], [], [], notice));
                serverOptions.ServerInstructions = notice;
                await StopAsync(stopping, "MCP is disabled").ConfigureAwait(false);
                await NoticeToHostAsync(notice, cancellationToken).ConfigureAwait(false);
                if (stopping.Length > 0)
                {
                    await NotifyListsChangedAsync(cancellationToken).ConfigureAwait(false);
                }

                return;
            }

            var snapshot = active.Snapshot;
            var (run, refused) = AdmissionPlanner.Plan(snapshot.Admission, LocalRunners.Detect(options.Lookup("PATH")), config, options.Server);
            GatewayLog.PolicyApplied(logger, snapshot.Revision, run.Length, refused.Length);
            foreach (var refusal in refused)
            {
                GatewayLog.Refused(logger, refusal.Name, refusal.ReasonCode, refusal.Message);
            }

            // Rules that change what is listed must reach the host even when every upstream keeps running.
            var rulesChanged = !appliedRules.SequenceEqual(snapshot.ToolRules);
            appliedRules = snapshot.ToolRules;
            decisions = new DecisionTable(new ToolDecisions(snapshot.ToolRules));
            auditArguments = snapshot.AuditArguments;

            var current = upstreams;
            var wanted = run.ToDictionary(s => s.Name, StringComparer.Ordinal);
            aliases = ServerAliases.For(run.Select(s => s.Name));
            var keep = current.Where(u => wanted.TryGetValue(u.Name, out var s) && s.Identity == u.Spec.Identity).ToList();
            var stop = current.Where(u => !keep.Contains(u)).ToList();
            foreach (var kept in keep)
            {
                kept.Spec = wanted[kept.Name];
            }

            upstreams = [.. keep];
            foreach (var upstream in stop)
            {
                GatewayLog.Stopping(logger, upstream.Name, wanted.TryGetValue(upstream.Name, out var next)
                    ? $"relaunching at {next.RegistryName} {next.Version}"
                    : "no longer admitted");
            }

            await StopAsync([.. stop], null).ConfigureAwait(false);

            var toStart = run.Where(s => !keep.Any(k => k.Name == s.Name)).ToList();
            var failed = ImmutableArray.CreateBuilder<UpstreamRefusal>();
            var started = new Dictionary<string, Upstream>(StringComparer.Ordinal);
            if (toStart.Count > 0)
            {
                await hostReady.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                var results = await Task.WhenAll(toStart.Select(s => TryStartAsync(s, cancellationToken))).ConfigureAwait(false);
                foreach (var (spec, upstream, error) in results)
                {
                    if (upstream is not null)
                    {
                        started[spec.Name] = upstream;
                    }
                    else
                    {
                        failed.Add(new UpstreamRefusal(spec.Name, "start_failed", error ?? "failed to start"));
                    }
                }
            }

            var assembled = run.Select(s => keep.FirstOrDefault(k => k.Name == s.Name) ?? started.GetValueOrDefault(s.Name))
                .Where(u => u is not null).Select(u => u!).ToImmutableArray();
            upstreams = assembled;
            resourceOwners = ImmutableDictionary<string, Upstream>.Empty;
            foreach (var upstream in started.Values)
            {
                Watch(upstream);
            }

            string? perServerNotice = null;
            if (PerServer && assembled.IsEmpty)
            {
                var why = refused.FirstOrDefault() ?? failed.FirstOrDefault();
                perServerNotice = why is null ? $"\"{options.Server}\" is not running." : $"\"{why.Name}\" is not served: {why.Message}";
            }

            Volatile.Write(ref status, new GatewayStatus([.. assembled.Select(u => u.Name)], refused, failed.ToImmutable(), perServerNotice)
            {
                Sandboxes = assembled.ToImmutableDictionary(u => u.Name, u => u.SandboxStatus, StringComparer.Ordinal),
            });
            serverOptions.ServerInstructions = perServerNotice ?? Instructions(refused, failed.ToImmutable());
            foreach (var failure in failed)
            {
                await NoticeToHostAsync($"Steward could not start \"{failure.Name}\": {failure.Message}", cancellationToken).ConfigureAwait(false);
            }

            if (perServerNotice is not null)
            {
                await NoticeToHostAsync(perServerNotice, cancellationToken).ConfigureAwait(false);
            }

            if (stop.Count > 0 || started.Count > 0 || rulesChanged)
            {
                await NotifyListsChangedAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The tool rules of the policy applied last (to tell the host when they change what it may list).</summary>
    private IReadOnlyList<ToolRule> appliedRules = [];

    private static string? Instructions(ImmutableArray<UpstreamRefusal> refused, ImmutableArray<UpstreamRefusal> failed)
    {
        if (refused.IsEmpty && failed.IsEmpty)
        {
            return null;
        }

        return "Servers of the configuration that Steward does not serve: " +
               string.Join("; ", refused.Concat(failed).Select(r => $"{r.Name} ({r.ReasonCode})"));
    }

    private async Task<(UpstreamSpec Spec, Upstream? Upstream, string? Error)> TryStartAsync(UpstreamSpec spec, CancellationToken cancellationToken)
    {
        var timeout = spec.Config.Timeout is { } ms and > 0 ? TimeSpan.FromMilliseconds(ms) : options.StartTimeout;
        try
        {
            Upstream upstream;
            try
            {
                upstream = await Upstream.StartAsync(spec, UpstreamOptions(spec, timeout, LatestRevision), options.Lookup, options.WorkingDirectory, loggerFactory, httpClient,
                    outbound, cancellationToken, options.SandboxHost, options.MessageLimit, InterceptAsync).ConfigureAwait(false);
            }
            catch (Exception e) when (e is UpstreamStartException or McpException && OlderRevision(e.Message) is { } older)
            {
                // The server answered an older revision the SDK speaks: it is started again in that revision, as it asked.
                GatewayLog.OlderRevision(logger, spec.Name, older);
                upstream = await Upstream.StartAsync(spec, UpstreamOptions(spec, timeout, older), options.Lookup, options.WorkingDirectory, loggerFactory, httpClient,
                    outbound, cancellationToken, options.SandboxHost, options.MessageLimit, InterceptAsync).ConfigureAwait(false);
            }

            if (hostLoggingLevel is { } level && upstream.Capabilities.Logging is not null)
            {
                await upstream.Client.SetLoggingLevelAsync(level, null, cancellationToken).ConfigureAwait(false);
            }

            return (spec, upstream, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is UpstreamStartException or McpException or IOException or InvalidOperationException or TimeoutException or OperationCanceledException
                                       or System.ComponentModel.Win32Exception or HttpRequestException)
        {
            var message = e is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0} s" : e.Message;
            GatewayLog.StartFailed(logger, spec.Name, message);
            return (spec, null, message);
        }
    }

    private void Watch(Upstream upstream)
    {
        _ = upstream.Client.Completion.ContinueWith(async _ =>
        {
            var before = upstreams;
            if (!before.Contains(upstream))
            {
                return;
            }

            if (ImmutableInterlocked.InterlockedCompareExchange(ref upstreams, before.Remove(upstream), before) == before)
            {
                GatewayLog.Exited(logger, upstream.Name);
                await NoticeToHostAsync($"\"{upstream.Name}\" exited; its tools are gone until the next policy sync or restart.", CancellationToken.None).ConfigureAwait(false);
                await NotifyListsChangedAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
    }

    private static async Task StopAsync(ImmutableArray<Upstream> stopping, string? why)
    {
        _ = why;
        await Task.WhenAll(stopping.Select(u => u.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    /// <summary>The newest revision the gateway asks an upstream for; an upstream may answer an older one (<see cref="OlderRevisions"/>).</summary>
    public const string LatestRevision = "2025-11-25";

    /// <summary>Older revisions an upstream may answer, in which it is then spoken to.</summary>
    public static IReadOnlyList<string> OlderRevisions { get; } = ["2025-06-18", "2025-03-26", "2024-11-05"];

    /// <summary>The older revision in the SDK's refusal of a server's answer ("… Expected 2025-11-25, got 2025-06-18"), or null.</summary>
    internal static string? OlderRevision(string message)
    {
        var match = RevisionMismatch().Match(message);
        return match.Success ? OlderRevisions.FirstOrDefault(r => r == match.Groups["got"].Value) : null;
    }

    [GeneratedRegex(@"protocol version mismatch\. Expected [0-9-]+, got (?<got>[0-9]{4}-[0-9]{2}-[0-9]{2})", RegexOptions.CultureInvariant)]
    private static partial Regex RevisionMismatch();

    private McpClientOptions UpstreamOptions(UpstreamSpec spec, TimeSpan timeout, string revision)
    {
        var current = Volatile.Read(ref host);
        var (hostCapabilities, hostInfo) = Volatile.Read(ref offered) ?? new Offer(current?.ClientCapabilities, current?.ClientInfo);
        var name = spec.Name;
        var handlers = new McpClientHandlers
        {
            NotificationHandlers =
            [
                new(NotificationMethods.ToolListChangedNotification, (_, ct) => UpstreamListChangedAsync(name, NotificationMethods.ToolListChangedNotification, ct)),
                new(NotificationMethods.PromptListChangedNotification, (_, ct) => UpstreamListChangedAsync(name, NotificationMethods.PromptListChangedNotification, ct)),
                new(NotificationMethods.ResourceListChangedNotification, (_, ct) => UpstreamListChangedAsync(name, NotificationMethods.ResourceListChangedNotification, ct)),
                new(NotificationMethods.ResourceUpdatedNotification, (n, ct) => ForwardAsync(n, ct)),
                new(NotificationMethods.ProgressNotification, (n, ct) => ForwardAsync(n, ct)),
                new(NotificationMethods.LoggingMessageNotification, (n, ct) => ForwardLogAsync(name, n, ct)),
            ],
        };
        ClientCapabilities? capabilities = null;
        if (hostCapabilities?.Sampling is { } sampling)
        {
            handlers.SamplingHandler = (request, _, ct) => HostFor(name).SampleAsync(request ?? throw new McpProtocolException("missing params", McpErrorCode.InvalidParams), ct);
            capabilities ??= new ClientCapabilities();
            capabilities.Sampling = new SamplingCapability { Context = sampling.Context, Tools = sampling.Tools };
        }

        if (hostCapabilities?.Elicitation is { } elicitation)
        {
            handlers.ElicitationHandler = (request, ct) => HostFor(name).ElicitAsync(request ?? throw new McpProtocolException("missing params", McpErrorCode.InvalidParams), ct);
            capabilities ??= new ClientCapabilities();
            capabilities.Elicitation = new ElicitationCapability { Form = elicitation.Form, Url = elicitation.Url };
        }

        if (hostCapabilities?.Roots is not null)
        {
            handlers.RootsHandler = (request, ct) => HostFor(name).RequestRootsAsync(request ?? new ListRootsRequestParams(), ct);
            capabilities ??= new ClientCapabilities();
            capabilities.Roots = new RootsCapability { ListChanged = true };
        }

        return new McpClientOptions
        {
            ClientInfo = hostInfo is { } info
                ? new Implementation { Name = info.Name, Version = info.Version, Title = info.Title }
                : new Implementation { Name = "steward-gateway", Version = GatewayVersion },
            // Pinned: the SDK's default would try the stateless 2026-07-28 revision first, which the gateway does not bridge yet.
            ProtocolVersion = revision,
            InitializationTimeout = timeout,
            Capabilities = capabilities,
            Handlers = handlers,
        };
    }

    private static string GatewayVersion { get; } = typeof(Gateway).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private McpServer Host() => Volatile.Read(ref host) ?? throw new McpException("no MCP host is connected");

    /// <summary>
    /// Where a request from the upstream <paramref name="upstream"/> (sampling, elicitation, roots) goes: to the session
    /// of the most recent call in flight to that upstream, which is the call that caused it when there is one, on that
    /// call's stream; else to the most recent session.
    /// </summary>
    private McpServer HostFor(string upstream)
    {
        // The request's own server (bound to its POST stream on HTTP), so what the call causes travels with the call.
        return callers.TryGetValue(upstream, out var calling) && !calling.IsEmpty ? calling[^1] : Host();
    }

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
        },
        Handlers = new McpServerHandlers
        {
            ListToolsHandler = (_, ct) => ListToolsAsync(ct),
            CallToolHandler = CallToolAsync,
            ListPromptsHandler = ListPromptsAsync,
            GetPromptHandler = GetPromptAsync,
            ListResourcesHandler = ListResourcesAsync,
            ListResourceTemplatesHandler = ListResourceTemplatesAsync,
            ReadResourceHandler = ReadResourceAsync,
            SubscribeToResourcesHandler = SubscribeAsync,
            UnsubscribeFromResourcesHandler = UnsubscribeAsync,
            CompleteHandler = CompleteAsync,
            SetLoggingLevelHandler = SetLoggingLevelAsync,
            NotificationHandlers =
            [
                new(NotificationMethods.InitializedNotification, HostInitializedAsync),
                new(NotificationMethods.RootsListChangedNotification, HostRootsChangedAsync),
            ],
        },
        // The allowed tools/call is forwarded as JSON (ForwardToolCallAsync); everything else goes on to the SDK's handlers.
        // Upstream errors reach the host with the upstream's own message (UpstreamErrors).
        Filters = new McpServerFilters { Message = new McpMessageFilters { IncomingFilters = [ToolCallFilter], OutgoingFilters = [UpstreamErrors.Unwrap] } },
    };

    private McpMessageHandler ToolCallFilter(McpMessageHandler next) => (context, cancellationToken) => context.JsonRpcMessage switch
    {
        JsonRpcRequest { Method: RequestMethods.ToolsCall } request => ForwardToolCallAsync(context, request, next, cancellationToken),
        JsonRpcNotification { Method: NotificationMethods.InitializedNotification } => Initialized(context, next, cancellationToken),
        // The stateless 2026-07-28 revision is not served yet: its server/discover is refused, and a client then falls
        // back to initialize in a revision the gateway speaks (the revision's rule for clients: fall back on any error).
        JsonRpcRequest { Method: RequestMethods.ServerDiscover } discover => context.Server.SendMessageAsync(new JsonRpcError
        {
            Id = discover.Id,
            Error = new JsonRpcErrorDetail
            {
                Code = (int)McpErrorCode.MethodNotFound,
                Message = "Steward's gateway speaks MCP revisions 2024-11-05 to 2025-11-25: start the session with initialize",
            },
        }, cancellationToken),
        _ => next(context, cancellationToken),
    };

    private Task Initialized(MessageContext context, McpMessageHandler next, CancellationToken cancellationToken)
    {
        Interlocked.CompareExchange(ref offered, new Offer(context.Server.ClientCapabilities, context.Server.ClientInfo), null);
        return next(context, cancellationToken);
    }

    private async ValueTask HostInitializedAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        hostReady.TrySetResult();
        if (Status.Notice is { } notice)
        {
            await NoticeToHostAsync(notice, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask HostRootsChangedAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        foreach (var upstream in upstreams)
        {
            try
            {
                await upstream.Client.SendNotificationAsync(NotificationMethods.RootsListChangedNotification, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException)
            {
                GatewayLog.ForwardFailed(logger, NotificationMethods.RootsListChangedNotification, e.Message);
            }
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

    private ToolDecision Decide(Upstream upstream, string tool) => decisions.Decide(upstream, tool);

    private static string PolicyOf(ToolDecision decision) =>
        decision.Rule?.Origin == ToolRuleOrigin.LocalFile ? "the local policy file" : "your organisation's policy";

    /// <summary>The administrator's reason for the rule that decided, as a clause (": …"), or nothing.</summary>
    private static string ReasonOf(ToolDecision decision) => decision.Rule?.Reason is { } reason ? ": " + reason.TrimEnd('.') : "";

    /// <summary>
    /// The decisions of one policy, computed once per (upstream, tool) and kept until the next policy replaces the table:
    /// <c>tools/list</c> fills it, and a call finds its decision there without matching the rules again.
    /// </summary>
    private sealed class DecisionTable(ToolDecisions rules)
    {
        private readonly ConcurrentDictionary<(Upstream, string), ToolDecision> decided = new();

        public static DecisionTable None { get; } = new(ToolDecisions.None);

        public ToolDecision Decide(Upstream upstream, string tool) =>
            decided.TryGetValue((upstream, tool), out var known)
                ? known
                : decided.GetOrAdd((upstream, tool), rules.Decide(upstream.Name, upstream.Spec.RegistryName, tool, upstream.Spec.Config.DisabledTools, upstream.Spec.Config.AutoApprove));
    }

    private string AliasOf(Upstream upstream) => aliases.TryGetValue(upstream.Name, out var alias) ? alias : ServerAliases.Alias(upstream.Name);

    private string Exposed(Upstream upstream, string name)
    {
        if (PerServer)
        {
            return name;
        }

        var alias = AliasOf(upstream);
        var exposed = ServerAliases.Exposed(alias, name);
        if (!exposed.AsSpan(alias.Length + Separator.Length).SequenceEqual(name))
        {
            reshaped[(alias, exposed)] = name;
        }

        return exposed;
    }

    /// <summary>The upstream and its own name for an exposed tool or prompt name: the alias ends at the first <c>__</c>.</summary>
    private (Upstream Upstream, string Name)? Route(string exposed)
    {
        var current = upstreams;
        if (PerServer)
        {
            return current.IsEmpty ? null : (current[0], exposed);
        }

        if (ServerAliases.Split(exposed) is not var (alias, rest))
        {
            return null;
        }

        foreach (var upstream in current)
        {
            if (AliasOf(upstream) == alias)
            {
                return (upstream, reshaped.TryGetValue((alias, exposed), out var original) ? original : rest);
            }
        }

        return null;
    }

    private async Task<IReadOnlyList<T>> SafeListAsync<T>(Upstream upstream, string what, Func<Upstream, CancellationToken, ValueTask<IReadOnlyList<T>>> list,
        CancellationToken cancellationToken)
    {
        try
        {
            return await list(upstream, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is McpException or IOException or InvalidOperationException or OperationCanceledException)
        {
            GatewayLog.ListFailed(logger, what, upstream.Name, e.Message);
            return [];
        }
    }

    private async ValueTask<ListToolsResult> ListToolsAsync(CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<Tool>();
        foreach (var upstream in upstreams)
        {
            foreach (var tool in await SafeListAsync(upstream, "tools", PinnedToolsAsync, cancellationToken).ConfigureAwait(false))
            {
                if (!Decide(upstream, tool.Name).IsListed)
                {
                    continue;
                }

                result.Add(PerServer ? tool : new Tool
                {
                    Name = Exposed(upstream, tool.Name),
                    Title = tool.Title,
                    Description = tool.Description,
                    InputSchema = tool.InputSchema,
                    OutputSchema = tool.OutputSchema,
                    Annotations = tool.Annotations,
                    Icons = tool.Icons,
                    Meta = tool.Meta,
                });
            }
        }

        return new ListToolsResult { Tools = result };
    }

    private async ValueTask<CallToolResult> CallToolAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        if (!applyGate.Wait(0))
        {
            await applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        applyGate.Release();
        var call = request.Params ?? throw new McpProtocolException("tools/call needs params", McpErrorCode.InvalidParams);
        var name = call.Name;

        if (Status.Notice is { } notice)
        {
            throw new McpProtocolException($"Steward: {notice}", McpErrorCode.InvalidRequest);
        }

        if (Route(name) is not var (upstream, tool))
        {
            throw new McpProtocolException($"Unknown tool: '{name}'", McpErrorCode.InvalidParams);
        }

        var started = Stopwatch.GetTimestamp();
        var listed = await upstream.ToolsAsync(cancellationToken).ConfigureAwait(false);
        if (!Listed(listed, tool))
        {
            // Listed = callable, both ways: a tool the server never listed is not governed by anything the admin saw.
            Audit(upstream, tool, "unlisted", "the server does not list this tool", started, "refused", call);
            // Answered as SDK servers answer an unknown tool (a result with isError), so a host sees what the server itself would say.
            return Refusal($"MCP error -32602: Unknown tool: '{name}' (\"{upstream.Name}\" does not list a tool \"{tool}\")");
        }

        var blocked = await PinCheckAsync(upstream, listed, cancellationToken).ConfigureAwait(false);
        if (blocked.TryGetValue(tool, out var mismatch))
        {
            Audit(upstream, tool, "pin_mismatch", mismatch.Message, started, "refused", call);
            throw new McpProtocolException($"Steward: {mismatch.Message}.", McpErrorCode.InvalidParams);
        }

        var decision = Decide(upstream, tool);
        var decided = "allow";
        switch (decision.Verdict)
        {
            case ToolVerdict.Deny:
                Audit(upstream, tool, "deny", decision.Because, started, "refused", call);
                throw new McpProtocolException(
                    $"Steward: the tool \"{tool}\" of \"{upstream.Name}\" is denied by {PolicyOf(decision)} ({decision.Because}){ReasonOf(decision)}.", McpErrorCode.InvalidParams);
            case ToolVerdict.Disabled:
                Audit(upstream, tool, "disabled", decision.Because, started, "refused", call);
                throw new McpProtocolException(
                    $"Steward: the tool \"{tool}\" of \"{upstream.Name}\" is disabled in your MCP configuration (disabledTools).", McpErrorCode.InvalidParams);
            case ToolVerdict.Ask:
                var server = request.Server;
                if (server.ClientCapabilities?.Elicitation is null)
                {
                    Audit(upstream, tool, "ask-unavailable", decision.Because, started, "refused", call);
                    return Refusal($"Steward: your organisation's policy requires your approval before \"{tool}\" of \"{upstream.Name}\" runs " +
                                   $"({decision.Because}), and this MCP host cannot ask for it (it does not support elicitation). " +
                                   $"Use a host that supports elicitation, or add \"{tool}\" to the server's autoApprove list in your mcp.json.");
                }

                var answer = await server.ElicitAsync(new ElicitRequestParams
                {
                    Message = $"Allow the tool \"{tool}\" of the MCP server \"{upstream.Name}\" to run? Your organisation's policy asks you to approve it{ReasonOf(decision)}.",
                    RequestedSchema = new ElicitRequestParams.RequestSchema
                    {
                        Properties = new Dictionary<string, ElicitRequestParams.PrimitiveSchemaDefinition>
                        {
                            [ApprovalField] = new ElicitRequestParams.BooleanSchema
                            {
                                Title = "Allow this call",
                                Description = $"{upstream.Name}/{tool}",
                                Default = false,
                            },
                        },
                        Required = [ApprovalField],
                    },
                }, cancellationToken).ConfigureAwait(false);
                if (!(answer.IsAccepted && answer.Content is { } content && content.TryGetValue(ApprovalField, out var approve) && approve.ValueKind == JsonValueKind.True))
                {
                    Audit(upstream, tool, "ask-declined", decision.Because, started, "refused", call);
                    return Refusal($"Steward: the call to \"{tool}\" of \"{upstream.Name}\" was not approved, so it did not run.");
                }

                decided = "ask-approved";
                break;
        }

        // An approved call goes upstream as the allowed ones do (SendToolCallAsync), its params being the host's with the
        // server's own tool name.
        var forward = (JsonObject)JsonSerializer.SerializeToNode(new CallToolRequestParams { Name = tool, Arguments = call.Arguments, Meta = call.Meta?.DeepClone().AsObject() },
            McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolRequestParams)))!;
        CallToolResult result;
        try
        {
            result = (await SendToolCallAsync(request.Server, upstream, forward, cancellationToken).ConfigureAwait(false)).Deserialize(
                         (JsonTypeInfo<CallToolResult>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult)))
                     ?? throw new McpException("the server's answer to tools/call is empty");
        }
        catch (Exception e) when (e is OperationCanceledException or McpException)
        {
            var answer = Failed(upstream, tool, decided, decision, started, e, cancellationToken, auditArguments ? call.Arguments : null);
            if (answer == e)
            {
                throw;
            }

            throw answer;
        }

        Audit(upstream, tool, decided, decision.Because, started, result.IsError == true ? "error" : "ok", call);
        return result;
    }

    /// <summary>
    /// The common tools/call, an allowed tool whose pin holds, forwarded as JSON: the host's <c>params</c> go upstream as
    /// they arrived (in the aggregated shape only <c>name</c> is replaced by the server's own tool name) and the upstream's
    /// <c>result</c> goes back to the host as it arrived, with no typed round trip on either side. The SDK still owns both
    /// sessions: the request's cancellation (a host's <c>notifications/cancelled</c> cancels <paramref name="cancellationToken"/>;
    /// <see cref="SendToolCallAsync"/> tells the upstream), progress (the <c>_meta.progressToken</c> goes upstream unchanged),
    /// and the conversion of an exception to a JSON-RPC error. Every other call (a refusal, ask, an unknown tool, malformed
    /// params) goes on to <see cref="CallToolAsync"/> through <paramref name="next"/>.
    /// </summary>
    private async Task ForwardToolCallAsync(MessageContext context, JsonRpcRequest request, McpMessageHandler next, CancellationToken cancellationToken)
    {
        if (!applyGate.Wait(0))
        {
            await applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        applyGate.Release();
        if (request.Params is not JsonObject parameters ||
            !parameters.TryGetPropertyValue("name", out var nameNode) || nameNode is not JsonValue nameValue || !nameValue.TryGetValue(out string? name) ||
            Status.Notice is not null ||
            Route(name) is not var (upstream, tool))
        {
            await next(context, cancellationToken).ConfigureAwait(false);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var tools = await upstream.ToolsAsync(cancellationToken).ConfigureAwait(false);
        var decision = Decide(upstream, tool);
        if (decision.Verdict != ToolVerdict.Allow || !Listed(tools, tool) || (await PinCheckAsync(upstream, tools, cancellationToken).ConfigureAwait(false)).ContainsKey(tool))
        {
            await next(context, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!PerServer)
        {
            parameters["name"] = tool;
        }

        JsonNode? result;
        try
        {
            result = await SendToolCallAsync(context.Server, upstream, parameters, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not McpProtocolException)
        {
            // As the SDK answers a typed handler's failure: a tool result with isError, not a JSON-RPC error.
            Audit(upstream, tool, "allow", decision.Because, started, "failed", ArgumentsOf(parameters));
            result = JsonSerializer.SerializeToNode(new CallToolResult
            {
                IsError = true,
                Content = [new TextContentBlock { Text = $"An error occurred invoking '{name}'" + (e is McpException ? ": " + e.Message : ".") }],
            }, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult)));
            await context.Server.SendMessageAsync(new JsonRpcResponse { Id = request.Id, Result = result }, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is OperationCanceledException or McpProtocolException)
        {
            var answer = Failed(upstream, tool, "allow", decision, started, e, cancellationToken, ArgumentsOf(parameters));
            if (answer == e)
            {
                throw;
            }

            throw answer;
        }

        var isError = result is JsonObject body && body.TryGetPropertyValue("isError", out var flag) && flag is JsonValue value && value.TryGetValue(out bool error) && error;
        Audit(upstream, tool, "allow", decision.Because, started, isError ? "error" : "ok", ArgumentsOf(parameters));
        await context.Server.SendMessageAsync(new JsonRpcResponse { Id = request.Id, Result = result }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a tools/call upstream and returns its result as the upstream wrote it. The entry's <c>timeout</c> applies.
    /// When the host cancels (or the timeout passes) the upstream is sent <c>notifications/cancelled</c> for the request
    /// here, with the request id the gateway chose: the SDK's own cancellation notice can be lost when the request's
    /// wait is cancelled first (it unregisters the notice as the wait ends).
    /// </summary>
    private async Task<JsonObject> SendToolCallAsync(McpServer caller, Upstream upstream, JsonObject parameters, CancellationToken cancellationToken)
    {
        callers.AddOrUpdate(upstream.Name, static (_, c) => [c], static (_, list, c) => list.Add(c), caller);
        string? relayed = null;
        if (parameters["_meta"] is JsonObject meta && meta["progressToken"] is JsonValue token)
        {
            // The host's token goes up as it is, unless a call in flight already uses it (another session chose the
            // same): then a token of the gateway's own goes up in its place.
            relayed = token.ToJsonString();
            if (!progressTokens.TryAdd(relayed, (caller, token.DeepClone())))
            {
                var own = "steward-" + Interlocked.Increment(ref relayedTokens).ToString(CultureInfo.InvariantCulture);
                relayed = JsonValue.Create(own).ToJsonString();
                progressTokens[relayed] = (caller, token.DeepClone());
                meta["progressToken"] = own;
            }
        }

        try
        {
            return await SendToolCallCoreAsync(upstream, parameters, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            callers.AddOrUpdate(upstream.Name, static (_, _) => [], static (_, list, c) => list.Remove(c), caller);
            if (relayed is not null)
            {
                progressTokens.TryRemove(relayed, out _);
            }
        }
    }

    private async Task<JsonObject> SendToolCallCoreAsync(Upstream upstream, JsonObject parameters, CancellationToken cancellationToken)
    {
        // Ids from a range the SDK's own counter (1, 2, ...) never reaches; below 2^53, so exact in JavaScript too.
        var id = new RequestId(ForwardedIdBase + Interlocked.Increment(ref forwardedCalls));
        var sending = upstream.Client.SendRequestAsync(new JsonRpcRequest { Id = id, Method = RequestMethods.ToolsCall, Params = parameters }, CancellationToken.None);
        using var timeout = upstream.CallTimeout is { } limit ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
        timeout?.CancelAfter(upstream.CallTimeout!.Value);
        var token = timeout?.Token ?? cancellationToken;
        JsonRpcResponse response;
        try
        {
            response = token.CanBeCanceled ? await sending.WaitAsync(token).ConfigureAwait(false) : await sending.ConfigureAwait(false);
        }
        catch (McpProtocolException e) when (upstream.TakeOversized(id) is { } size)
        {
            throw new MessageTooLargeException(e.Message, size);
        }
        catch (McpProtocolException e) when (upstream.Spec.Remote is not null && e.Message.Contains(BoundedLineStream.MessagePrefix, StringComparison.Ordinal))
        {
            // A remote's answer replaced on its way in (ResponseLimitHandler, shared by every remote): known by its words.
            throw new MessageTooLargeException(e.Message, 0);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            _ = sending.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            try
            {
                await upstream.Client.SendNotificationAsync(NotificationMethods.CancelledNotification,
                    new CancelledNotificationParams { RequestId = id, Reason = cancellationToken.IsCancellationRequested ? "cancelled by the client" : "timed out" },
                    cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.ForwardFailed(logger, NotificationMethods.CancelledNotification, e.Message);
            }

            throw;
        }

        return response.Result as JsonObject ?? throw new McpException("the server's answer to tools/call is not a JSON object");
    }

    /// <summary>The audit line for a forwarded call that failed, and the exception the host's answer is made from.</summary>
    private Exception Failed(Upstream upstream, string tool, string decided, ToolDecision decision, long started, Exception e, CancellationToken cancellationToken,
        IDictionary<string, JsonElement>? arguments)
    {
        switch (e)
        {
            case MessageTooLargeException:
                Audit(upstream, tool, decided, decision.Because, started, "too_large", arguments);
                return e;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                Audit(upstream, tool, decided, decision.Because, started, "cancelled", arguments);
                return e;
            case OperationCanceledException:
                Audit(upstream, tool, decided, decision.Because, started, "timeout", arguments);
                return new McpProtocolException($"Steward: \"{tool}\" of \"{upstream.Name}\" did not answer within the configured timeout.", McpErrorCode.InternalError);
            default:
                Audit(upstream, tool, decided, decision.Because, started, "failed", arguments);
                return e;
        }
    }

    /// <summary>The call's arguments for the audit line, only when the policy asks for them.</summary>
    private IDictionary<string, JsonElement>? ArgumentsOf(JsonObject parameters) =>
        auditArguments && parameters["arguments"] is JsonObject arguments
            ? arguments.Deserialize((JsonTypeInfo<IDictionary<string, JsonElement>>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, JsonElement>)))
            : null;

    private static bool Listed(IReadOnlyList<Tool> tools, string tool)
    {
        foreach (var listed in tools)
        {
            if (string.Equals(listed.Name, tool, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The upstream's tools without those its pins block.</summary>
    private async ValueTask<IReadOnlyList<Tool>> PinnedToolsAsync(Upstream upstream, CancellationToken cancellationToken)
    {
        var tools = await upstream.ToolsAsync(cancellationToken).ConfigureAwait(false);
        var blocked = await PinCheckAsync(upstream, tools, cancellationToken).ConfigureAwait(false);
        return blocked.Count == 0 ? tools : [.. tools.Where(t => !blocked.ContainsKey(t.Name))];
    }

    /// <summary>
    /// Checks a tools listing against the pins (once per listing); the first time a mismatch is seen it is audited
    /// (decision <c>pin_mismatch</c>) and the host is told by a logging message.
    /// </summary>
    private async ValueTask<IReadOnlyDictionary<string, PinMismatch>> PinCheckAsync(Upstream upstream, IReadOnlyList<Tool> tools, CancellationToken cancellationToken)
    {
        if (upstream.PinCheck is { } known && ReferenceEquals(known.Tools, tools))
        {
            return known.Blocked;
        }

        ImmutableArray<PinMismatch> mismatches;
        try
        {
            mismatches = pins.Check(upstream.Spec, tools);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // Without readable pins nothing can be approved: every tool is blocked.
            GatewayLog.AuditFailed(logger, e.Message);
            mismatches = [.. tools.Select(t => new PinMismatch(t.Name, "", $"Steward cannot read its tool pins ({e.Message}), so the tool \"{t.Name}\" of \"{upstream.Name}\" is blocked"))];
        }

        var blocked = mismatches.GroupBy(m => m.Tool, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        upstream.PinCheck = (tools, blocked);
        foreach (var mismatch in mismatches)
        {
            bool first;
            lock (upstream.ReportedMismatches)
            {
                first = upstream.ReportedMismatches.Add(mismatch.Tool + "\u001f" + mismatch.Hash);
            }

            if (!first)
            {
                continue;
            }

            GatewayLog.ToolCall(logger, upstream.Name, mismatch.Tool, "pin_mismatch", mismatch.Message, "blocked", 0);
            try
            {
                audit.Append(new ToolCallEvent(DateTimeOffset.UtcNow, upstream.Name, mismatch.Tool, "pin_mismatch", mismatch.Message, 0, "blocked", null));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                GatewayLog.AuditFailed(logger, e.Message);
            }

            await NoticeToHostAsync($"Steward blocked a tool: {mismatch.Message}.", cancellationToken).ConfigureAwait(false);
        }

        return blocked;
    }

    private static CallToolResult Refusal(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };

    private void Audit(Upstream upstream, string tool, string decision, string because, long started, string outcome, CallToolRequestParams call) =>
        Audit(upstream, tool, decision, because, started, outcome, auditArguments ? call.Arguments : null);

    private void Audit(Upstream upstream, string tool, string decision, string because, long started, string outcome, IDictionary<string, JsonElement>? arguments)
    {
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        GatewayLog.ToolCall(logger, upstream.Name, tool, decision, because, outcome, elapsed);
        try
        {
            // Arguments are here only when the policy records them; secret-named values are redacted first.
            audit.Append(new ToolCallEvent(DateTimeOffset.UtcNow, upstream.Name, tool, decision, because, elapsed, outcome, ArgumentRedaction.Redact(arguments)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            GatewayLog.AuditFailed(logger, e.Message);
            throw new McpProtocolException("Steward could not write its audit log, so the call is refused: " + e.Message, McpErrorCode.InternalError);
        }
    }

    private async ValueTask<ListPromptsResult> ListPromptsAsync(RequestContext<ListPromptsRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<Prompt>();
        foreach (var upstream in upstreams)
        {
            foreach (var prompt in await SafeListAsync(upstream, "prompts", (u, ct) => u.PromptsAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                result.Add(PerServer ? prompt : new Prompt
                {
                    Name = Exposed(upstream, prompt.Name),
                    Title = prompt.Title,
                    Description = prompt.Description,
                    Arguments = prompt.Arguments,
                    Icons = prompt.Icons,
                    Meta = prompt.Meta,
                });
            }
        }

        return new ListPromptsResult { Prompts = result };
    }

    private async ValueTask<GetPromptResult> GetPromptAsync(RequestContext<GetPromptRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var get = request.Params ?? throw new McpProtocolException("prompts/get needs params", McpErrorCode.InvalidParams);
        if (Route(get.Name) is not var (upstream, prompt))
        {
            throw new McpProtocolException($"Unknown prompt: '{get.Name}'", McpErrorCode.InvalidParams);
        }

        return await upstream.Client.GetPromptAsync(new GetPromptRequestParams
        {
            Name = prompt,
            Arguments = get.Arguments,
            Meta = get.Meta?.DeepClone().AsObject(),
        }, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<ListResourcesResult> ListResourcesAsync(RequestContext<ListResourcesRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<Resource>();
        var owners = ImmutableDictionary.CreateBuilder<string, Upstream>(StringComparer.Ordinal);
        foreach (var upstream in upstreams)
        {
            foreach (var resource in await SafeListAsync(upstream, "resources", (u, ct) => u.ResourcesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (owners.TryGetValue(resource.Uri, out var owner))
                {
                    if (owner != upstream)
                    {
                        GatewayLog.ResourceClash(logger, resource.Uri, owner.Name, upstream.Name);
                    }

                    continue;
                }

                owners[resource.Uri] = upstream;
                result.Add(resource);
            }
        }

        resourceOwners = owners.ToImmutable();
        return new ListResourcesResult { Resources = result };
    }

    private async ValueTask<ListResourceTemplatesResult> ListResourceTemplatesAsync(RequestContext<ListResourceTemplatesRequestParams> request,
        CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<ResourceTemplate>();
        foreach (var upstream in upstreams)
        {
            result.AddRange(await SafeListAsync(upstream, "resource templates", (u, ct) => u.TemplatesAsync(ct), cancellationToken).ConfigureAwait(false));
        }

        return new ListResourceTemplatesResult { ResourceTemplates = result };
    }

    /// <summary>
    /// The upstream serving a resource URI: the one that listed it, else the first whose template matches, else the only
    /// one with resources.
    /// </summary>
    private async ValueTask<Upstream?> RouteUriAsync(string uri, CancellationToken cancellationToken)
    {
        var current = upstreams;
        if (PerServer)
        {
            return current.IsEmpty ? null : current[0];
        }

        if (resourceOwners.TryGetValue(uri, out var owner) && current.Contains(owner))
        {
            return owner;
        }

        foreach (var upstream in current)
        {
            foreach (var resource in await SafeListAsync(upstream, "resources", (u, ct) => u.ResourcesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (resource.Uri == uri)
                {
                    return upstream;
                }
            }
        }

        foreach (var upstream in current)
        {
            foreach (var template in await SafeListAsync(upstream, "resource templates", (u, ct) => u.TemplatesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (template.UriTemplate == uri || TemplateRegex(template.UriTemplate).IsMatch(uri))
                {
                    return upstream;
                }
            }
        }

        var withResources = current.Where(u => u.Capabilities.Resources is not null).ToList();
        return withResources.Count == 1 ? withResources[0] : null;
    }

    private Regex TemplateRegex(string template) => templateRegexes.GetOrAdd(template, t =>
    {
        var pattern = "^" + string.Concat(Regex.Split(t, @"(\{[^}]*\})").Select(part =>
            part.StartsWith('{') && part.EndsWith('}') ? ".*?" : Regex.Escape(part))) + "$";
        return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    });

    private async ValueTask<ReadResourceResult> ReadResourceAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var read = request.Params ?? throw new McpProtocolException("resources/read needs params", McpErrorCode.InvalidParams);
        var upstream = await RouteUriAsync(read.Uri, cancellationToken).ConfigureAwait(false)
                       ?? throw new McpProtocolException($"Resource not found: '{read.Uri}'", McpErrorCode.ResourceNotFound);
        return await upstream.Client.ReadResourceAsync(new ReadResourceRequestParams { Uri = read.Uri, Meta = read.Meta?.DeepClone().AsObject() },
            cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var subscribe = request.Params ?? throw new McpProtocolException("resources/subscribe needs params", McpErrorCode.InvalidParams);
        var upstream = await RouteUriAsync(subscribe.Uri, cancellationToken).ConfigureAwait(false)
                       ?? throw new McpProtocolException($"Resource not found: '{subscribe.Uri}'", McpErrorCode.ResourceNotFound);
        await upstream.Client.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = subscribe.Uri }, cancellationToken).ConfigureAwait(false);
        return new EmptyResult();
    }

    private async ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var unsubscribe = request.Params ?? throw new McpProtocolException("resources/unsubscribe needs params", McpErrorCode.InvalidParams);
        var upstream = await RouteUriAsync(unsubscribe.Uri, cancellationToken).ConfigureAwait(false)
                       ?? throw new McpProtocolException($"Resource not found: '{unsubscribe.Uri}'", McpErrorCode.ResourceNotFound);
        await upstream.Client.UnsubscribeFromResourceAsync(new UnsubscribeRequestParams { Uri = unsubscribe.Uri }, cancellationToken).ConfigureAwait(false);
        return new EmptyResult();
    }

    private async ValueTask<CompleteResult> CompleteAsync(RequestContext<CompleteRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var complete = request.Params ?? throw new McpProtocolException("completion/complete needs params", McpErrorCode.InvalidParams);
        Upstream? upstream;
        Reference reference;
        switch (complete.Ref)
        {
            case PromptReference prompt:
                if (Route(prompt.Name) is not var (owner, name))
                {
                    throw new McpProtocolException($"Unknown prompt: '{prompt.Name}'", McpErrorCode.InvalidParams);
                }

                upstream = owner;
                reference = new PromptReference { Name = name, Title = prompt.Title };
                break;
            case ResourceTemplateReference template:
                upstream = await RouteTemplateAsync(template.Uri, cancellationToken).ConfigureAwait(false);
                reference = template;
                break;
            default:
                throw new McpProtocolException("completion/complete needs a prompt or resource template reference", McpErrorCode.InvalidParams);
        }

        if (upstream is null || upstream.Capabilities.Completions is null)
        {
            return new CompleteResult { Completion = new Completion { Values = [] } };
        }

        return await upstream.Client.CompleteAsync(new CompleteRequestParams
        {
            Ref = reference,
            Argument = complete.Argument,
            Context = complete.Context,
            Meta = complete.Meta?.DeepClone().AsObject(),
        }, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<Upstream?> RouteTemplateAsync(string? uriTemplate, CancellationToken cancellationToken)
    {
        if (uriTemplate is null)
        {
            return null;
        }

        if (PerServer)
        {
            return upstreams.IsEmpty ? null : upstreams[0];
        }

        foreach (var upstream in upstreams)
        {
            foreach (var template in await SafeListAsync(upstream, "resource templates", (u, ct) => u.TemplatesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (template.UriTemplate == uriTemplate)
                {
                    return upstream;
                }
            }
        }

        return await RouteUriAsync(uriTemplate, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<EmptyResult> SetLoggingLevelAsync(RequestContext<SetLevelRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var level = (request.Params ?? throw new McpProtocolException("logging/setLevel needs params", McpErrorCode.InvalidParams)).Level;
        hostLoggingLevel = level;
        foreach (var upstream in upstreams.Where(u => u.Capabilities.Logging is not null))
        {
            try
            {
                await upstream.Client.SetLoggingLevelAsync(level, null, cancellationToken).ConfigureAwait(false);
            }
            catch (McpException e)
            {
                GatewayLog.ForwardFailed(logger, RequestMethods.LoggingSetLevel, e.Message);
            }
        }

        return new EmptyResult();
    }

    private async ValueTask UpstreamListChangedAsync(string name, string method, CancellationToken cancellationToken)
    {
        var upstream = upstreams.FirstOrDefault(u => u.Name == name);
        switch (method)
        {
            case NotificationMethods.ToolListChangedNotification:
                upstream?.InvalidateTools();
                break;
            case NotificationMethods.PromptListChangedNotification:
                upstream?.InvalidatePrompts();
                break;
            default:
                upstream?.InvalidateResources();
                break;
        }

        await SendToHostAsync(new JsonRpcNotification { Method = method }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Progress of a forwarded call goes to the session that made it (on its request's stream), with the host's own
    /// token: a token already in use by another call in flight is replaced on the way up (<see cref="SendToolCallAsync"/>),
    /// as two hosts may choose the same one.
    /// Taken from the upstream's messages in order (<see cref="InterceptingTransport"/>), so it reaches the host before
    /// the answer it precedes.
    /// </summary>
    private async ValueTask<bool> InterceptAsync(JsonRpcMessage message)
    {
        if (message is not JsonRpcNotification { Method: NotificationMethods.ProgressNotification, Params: JsonObject body } ||
            body["progressToken"] is not JsonValue token || !progressTokens.TryGetValue(token.ToJsonString(), out var owner))
        {
            return false;
        }

        var parameters = (JsonObject)body.DeepClone();
        parameters["progressToken"] = owner.Token.DeepClone();
        try
        {
            await owner.Session.SendMessageAsync(new JsonRpcNotification { Method = NotificationMethods.ProgressNotification, Params = parameters }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException or McpException or OperationCanceledException)
        {
            GatewayLog.ForwardFailed(logger, NotificationMethods.ProgressNotification, e.Message);
        }

        return true;
    }

    private ValueTask ForwardAsync(JsonRpcNotification notification, CancellationToken cancellationToken) =>
        SendToHostAsync(new JsonRpcNotification { Method = notification.Method, Params = notification.Params?.DeepClone() }, cancellationToken);

    /// <summary>Logging messages go to the host; in the aggregated shape the logger names the server (<c>server</c> or <c>server/logger</c>).</summary>
    private ValueTask ForwardLogAsync(string name, JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        var parameters = notification.Params?.DeepClone();
        if (!PerServer && parameters is JsonObject body)
        {
            body["logger"] = body["logger"] is JsonValue existing && existing.TryGetValue(out string? text) && text.Length > 0 ? name + "/" + text : name;
        }

        return SendToHostAsync(new JsonRpcNotification { Method = notification.Method, Params = parameters }, cancellationToken);
    }

    private async ValueTask SendToHostAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        if (!hostReady.Task.IsCompleted)
        {
            return;
        }

        foreach (var server in hosts)
        {
            try
            {
                await server.SendMessageAsync(notification, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.ForwardFailed(logger, notification.Method, e.Message);
            }
        }
    }

    private async Task NotifyListsChangedAsync(CancellationToken cancellationToken)
    {
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.ToolListChangedNotification }, cancellationToken).ConfigureAwait(false);
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.PromptListChangedNotification }, cancellationToken).ConfigureAwait(false);
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.ResourceListChangedNotification }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A warning-level MCP logging message from the <c>steward</c> logger: how the gateway tells the host why something is missing.</summary>
    private async Task NoticeToHostAsync(string text, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["level"] = "warning",
            ["logger"] = "steward",
            ["data"] = text,
        };
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.LoggingMessageNotification, Params = body }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        var stopping = upstreams;
        upstreams = [];
        await StopAsync(stopping, "the gateway is stopping").ConfigureAwait(false);
        audit.Dispose();
        httpClient.Dispose();
        applyGate.Dispose();
    }
}

/// <summary>An upstream's answer past the gateway's message limit (<see cref="BoundedLineStream"/>): the host gets this error instead.</summary>
public sealed class MessageTooLargeException : McpProtocolException
{
    public MessageTooLargeException(string message, long size) : base(message, McpErrorCode.InternalError) => Size = size;

    public MessageTooLargeException()
    {
    }

    public MessageTooLargeException(string message) : base(message)
    {
    }

    public MessageTooLargeException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>The answer's size, in bytes.</summary>
    public long Size { get; }
}
