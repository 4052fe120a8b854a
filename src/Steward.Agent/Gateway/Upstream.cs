using Steward.Core.Admission;
using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Sandbox;
using Steward.Core.Config;
using Steward.Core.Net;

namespace Steward.Agent.Gateway;

/// <summary>
/// One running upstream server: its MCP client connection (Steward's stdio launcher, <see cref="UpstreamProcess"/>, or
/// the SDK's HTTP client transport) and the lists it serves, cached until the server says they changed.
/// </summary>
internal sealed class Upstream : IAsyncDisposable
{
    /// <summary>Variables a local server inherits from the gateway's environment; everything else it gets only from its entry and the user.</summary>
    public static readonly ImmutableArray<string> InheritedVariables =
    [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "TERM",
        "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT",
        "SystemRoot", "SystemDrive", "windir", "ComSpec", "PATHEXT", "USERPROFILE", "APPDATA", "LOCALAPPDATA",
        "ProgramData", "ProgramFiles", "ProgramFiles(x86)", "HOMEDRIVE", "HOMEPATH", "USERNAME",
    ];

    /// <summary>Prefixes of inherited variables: the package runners' own settings (registry mirror, cache, offline mode).</summary>
    public static readonly ImmutableArray<string> InheritedPrefixes = ["npm_config_", "NPM_CONFIG_", "UV_", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"];

    private readonly ILogger logger;
    private IReadOnlyList<Tool>? tools;
    private IReadOnlyList<Prompt>? prompts;
    private IReadOnlyList<Resource>? resources;
    private IReadOnlyList<ResourceTemplate>? templates;

    private readonly SandboxedLaunch? sandbox;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> oversized;

    /// <summary>Ends the <c>subscriptions/listen</c> stream of a 2026-07-28 upstream when it stops.</summary>
    private readonly CancellationTokenSource stopping = new();

    private Upstream(UpstreamSpec spec, McpClient client, ILogger logger, SandboxedLaunch? sandbox, System.Collections.Concurrent.ConcurrentDictionary<string, long> oversized)
    {
        this.oversized = oversized;
        Spec = spec;
        Client = client;
        this.logger = logger;
        this.sandbox = sandbox;
    }

    /// <summary>
    /// The size of the answer to request <paramref name="id"/> if it was past the message limit (and replaced by an
    /// error), forgotten once asked.
    /// </summary>
    public long? TakeOversized(RequestId id) => oversized.TryRemove(id.ToString(), out var size) ? size : null;

    /// <summary>The server's sandbox as it runs (off for remotes).</summary>
    public SandboxStatus SandboxStatus => sandbox?.Status ?? SandboxStatus.None;

    /// <summary>
    /// What this upstream runs. Replaced (never its identity) when the configuration changes what the gateway decides
    /// for it — disabled or auto-approved tools, the call timeout — so such an edit needs no relaunch.
    /// </summary>
    public UpstreamSpec Spec { get; internal set; }

    /// <summary>The client capabilities this upstream was offered when it started (<see cref="Gateway"/>'s offer), null for none.</summary>
    public ClientCapabilities? Offered { get; internal set; }

    public string Name => Spec.Name;

    public McpClient Client { get; }

    public ServerCapabilities Capabilities => Client.ServerCapabilities;

    public TimeSpan? CallTimeout => Spec.Config.Timeout is { } ms and > 0 ? TimeSpan.FromMilliseconds(ms) : null;

    /// <summary>Starts (or connects to) the server and completes the MCP handshake; throws <see cref="UpstreamStartException"/> with a message safe to show.</summary>
    public static async Task<Upstream> StartAsync(UpstreamSpec spec, McpClientOptions options, Func<string, string?> lookup, string? workingDirectory,
        ILoggerFactory loggerFactory, HttpClient httpClient, OutboundAddressPolicy outbound, CancellationToken cancellationToken, SandboxHost? sandboxHost = null,
        long messageLimit = BoundedLineStream.DefaultLimitMib * 1024L * 1024L, Func<JsonRpcMessage, ValueTask<bool>>? intercept = null)
    {
        var oversized = new System.Collections.Concurrent.ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var logger = loggerFactory.CreateLogger("Steward.Gateway");
        var watch = Stopwatch.StartNew();
        IClientTransport transport;
        // Local upstreams only: a remote's messages come over HTTP, which has no stdout to slow down.
        MessageWindow? window = null;
        SandboxedLaunch? sandbox = null;
        if (spec.Local is { } local)
        {
            var args = new List<string>(local.Args.Length);
            var unset = new List<string>();
            foreach (var arg in local.Args)
            {
                args.Add(Expand(arg, lookup, unset) ?? "");
            }

            var environment = BaseEnvironment();
            foreach (var (key, value) in local.Environment)
            {
                environment[key] = Expand(value, lookup, unset) ?? "";
            }

            if (unset.Count > 0)
            {
                throw new UpstreamStartException($"environment variable(s) {string.Join(", ", unset.Distinct(StringComparer.Ordinal))} referenced by its configuration are not set");
            }

            GatewayLog.StartingLocal(logger, spec.Name, spec.RegistryName, spec.Version, local.Command, Redacted(local.Args));
            // The server's sandbox: the launch wrapped in bubblewrap (or docker flags, or sandbox-exec); mode on throws here when it cannot be made.
            sandbox = SandboxLauncher.Wrap(spec.Name, spec.Sandbox, local.Command, args, environment, environment, workingDirectory, sandboxHost ?? new SandboxHost(), logger);
            var name = spec.Name;
            window = new MessageWindow(MessageWindow.DefaultSize);
            transport = new UpstreamProcess(spec.Name, sandbox.Command, [.. sandbox.Args], environment, workingDirectory, messageLimit,
                line => GatewayLog.UpstreamStderr(logger, name, line),
                (id, size) =>
                {
                    GatewayLog.Oversized(logger, name, size, messageLimit, id ?? "none");
                    if (id is not null)
                    {
                        oversized[id.Trim('"')] = size;
                    }
                },
                loggerFactory,
                window);
        }
        else if (spec.Remote is { } remote)
        {
            var unset = new List<string>();
            var url = Expand(remote.Url, lookup, unset);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, value) in remote.Headers)
            {
                headers[key] = Expand(value, lookup, unset) ?? "";
            }

            if (unset.Count > 0 || url is null)
            {
                throw new UpstreamStartException($"environment variable(s) {string.Join(", ", unset.Distinct(StringComparer.Ordinal))} referenced by its configuration are not set");
            }

            if (!Uri.TryCreate(url, UriKind.Absolute, out var endpoint))
            {
                throw new UpstreamStartException("its URL is not an absolute URL");
            }

            // A literal link-local or metadata address is refused before any connection; a name resolving to one is
            // refused by the HTTP client's connect callback (the same policy), after resolution.
            if (outbound.Refusal(endpoint) is { } refusal)
            {
                throw new UpstreamStartException($"refused: {refusal} (an administrator may allow it with {OutboundAddressPolicy.AllowVariable}=1)");
            }

            GatewayLog.ConnectingRemote(logger, spec.Name, spec.RegistryName, spec.Version, remote.Transport, endpoint.Host);
            transport = new HttpClientTransport(new HttpClientTransportOptions
            {
                Name = spec.Name,
                Endpoint = endpoint,
                TransportMode = remote.Transport switch
                {
                    McpServerTypes.Sse => HttpTransportMode.Sse,
                    McpServerTypes.StreamableHttp => HttpTransportMode.StreamableHttp,
                    _ => HttpTransportMode.AutoDetect,
                },
                AdditionalHeaders = headers,
            }, httpClient, loggerFactory, ownsHttpClient: false);
        }
        else
        {
            throw new UpstreamStartException("nothing to run or connect to");
        }

        if (intercept is not null)
        {
            transport = new InterceptingTransport(transport, intercept, window);
        }

        McpClient client;
        try
        {
            client = await McpClient.CreateAsync(transport, options, loggerFactory, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await DisposeSandboxAsync(sandbox).ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            await DisposeSandboxAsync(sandbox).ConfigureAwait(false);
            throw new UpstreamStartException(Describe(e), e);
        }

        GatewayLog.Started(logger, spec.Name, client.ServerInfo?.Name ?? "?", client.ServerInfo?.Version ?? "?", watch.ElapsedMilliseconds);
        var upstream = new Upstream(spec, client, logger, sandbox, oversized);
        upstream.ListenForListChanges();
        return upstream;
    }

    /// <summary>
    /// An upstream of the stateless revision sends its list changes only on a <c>subscriptions/listen</c> stream: one is
    /// held open for the lists it says change, and its notifications reach the client's handlers as a session's do.
    /// </summary>
    private void ListenForListChanges()
    {
        if (!Stateless)
        {
            return;
        }

        lock (listenGate)
        {
            Relisten();
        }
    }

    /// <summary>True when the server speaks the stateless revision: its notifications come only on a listen stream.</summary>
    private bool Stateless => Gateway.IsStatelessRevision(Client.NegotiatedProtocolVersion);

    private readonly Lock listenGate = new();
    private ImmutableSortedSet<string> watched = ImmutableSortedSet.Create<string>(StringComparer.Ordinal);
    private CancellationTokenSource? listening;

    /// <summary>
    /// Subscribes to the updates of <paramref name="uri"/>: <c>resources/subscribe</c> to a server of a session revision;
    /// to one of the stateless revision, its listen stream is opened again with the resource among those it asks for
    /// (that revision has no <c>resources/subscribe</c>).
    /// </summary>
    public async Task SubscribeAsync(string uri, CancellationToken cancellationToken)
    {
        if (!Stateless)
        {
            await Client.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = uri }, cancellationToken).ConfigureAwait(false);
            return;
        }

        lock (listenGate)
        {
            // Already watched (another subscriber's): the stream open now asks for it, and is not opened again.
            var more = watched.Add(uri);
            if (more != watched)
            {
                watched = more;
                Relisten();
            }
        }
    }

    /// <summary>Ends the updates of <paramref name="uri"/>, as <see cref="SubscribeAsync"/> began them.</summary>
    public async Task UnsubscribeAsync(string uri, CancellationToken cancellationToken)
    {
        if (!Stateless)
        {
            await Client.UnsubscribeFromResourceAsync(new UnsubscribeRequestParams { Uri = uri }, cancellationToken).ConfigureAwait(false);
            return;
        }

        lock (listenGate)
        {
            var fewer = watched.Remove(uri);
            if (fewer != watched)
            {
                watched = fewer;
                Relisten();
            }
        }
    }

    /// <summary>
    /// (Re)opens the listen stream for what this gateway needs of the server now: the lists it says change, and the
    /// resources watched. The stream before it is closed once the new one is asked for, so a change between the two
    /// may come twice, never not at all. Called under <see cref="listenGate"/>.
    /// </summary>
    private void Relisten()
    {
        var notifications = new SubscriptionsListenNotifications
        {
            ToolsListChanged = Capabilities.Tools?.ListChanged == true ? true : null,
            PromptsListChanged = Capabilities.Prompts?.ListChanged == true ? true : null,
            ResourcesListChanged = Capabilities.Resources?.ListChanged == true ? true : null,
            ResourceSubscriptions = watched.IsEmpty ? null : [.. watched],
        };
        var previous = listening;
        listening = null;
        if (notifications is not { ToolsListChanged: null, PromptsListChanged: null, ResourcesListChanged: null, ResourceSubscriptions: null } &&
            !stopping.IsCancellationRequested)
        {
            listening = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            _ = ListenAsync(notifications, listening.Token);
        }

        previous?.Cancel();
        previous?.Dispose();
    }

    private async Task ListenAsync(SubscriptionsListenNotifications notifications, CancellationToken cancellationToken)
    {
        try
        {
            await Client.SendRequestAsync<SubscriptionsListenRequestParams, EmptyResult>(RequestMethods.SubscriptionsListen,
                new SubscriptionsListenRequestParams { Notifications = notifications }, McpJsonUtilities.DefaultOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
            GatewayLog.ListenEnded(logger, Name, "the server answered it");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is McpException or IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
        {
            GatewayLog.ListenEnded(logger, Name, e.Message);
        }
    }

    private static async ValueTask DisposeSandboxAsync(SandboxedLaunch? sandbox)
    {
        if (sandbox is not null)
        {
            await sandbox.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string Describe(Exception e)
    {
        var message = e.Message;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            message += ": " + inner.Message;
        }

        return message;
    }

    private static string Redacted(ImmutableArray<string> args) =>
        string.Join(' ', args.Select(a => EnvReferences.HasReferences(a) ? "<from environment>" : a));

    private static string? Expand(string text, Func<string, string?> lookup, List<string> unset)
    {
        var expansion = EnvReferences.Expand(text, lookup);
        if (!expansion.Succeeded)
        {
            unset.AddRange(expansion.Unset);
            unset.AddRange(expansion.Malformed);
        }

        return expansion.Value;
    }

    /// <summary>The gateway's own variables that a local server may inherit (<see cref="InheritedVariables"/>, <see cref="InheritedPrefixes"/>).</summary>
    public static Dictionary<string, string?> BaseEnvironment()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key && entry.Value is string value &&
                (InheritedVariables.Contains(key) || InheritedPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal))))
            {
                result[key] = value;
            }
        }

        return result;
    }

    /// <summary>The tools list the pins were last checked against, and the tools they block.</summary>
    public (IReadOnlyList<Tool> Tools, IReadOnlyDictionary<string, PinMismatch> Blocked)? PinCheck { get; set; }

    /// <summary>Pin mismatches already audited and told to the host (tool and hash), so each is reported once.</summary>
    public HashSet<string> ReportedMismatches { get; } = new(StringComparer.Ordinal);

    public void InvalidateTools() => tools = null;

    public void InvalidatePrompts() => prompts = null;

    public void InvalidateResources()
    {
        resources = null;
        templates = null;
    }

    public async ValueTask<IReadOnlyList<Tool>> ToolsAsync(CancellationToken cancellationToken)
    {
        if (tools is { } cached)
        {
            return cached;
        }

        if (Capabilities.Tools is null)
        {
            return tools = [];
        }

        var all = new List<Tool>();
        string? cursor = null;
        do
        {
            var page = await Client.ListToolsAsync(new ListToolsRequestParams { Cursor = cursor }, cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Tools);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return tools = all;
    }

    public async ValueTask<IReadOnlyList<Prompt>> PromptsAsync(CancellationToken cancellationToken)
    {
        if (prompts is { } cached)
        {
            return cached;
        }

        if (Capabilities.Prompts is null)
        {
            return prompts = [];
        }

        var all = new List<Prompt>();
        string? cursor = null;
        do
        {
            var page = await Client.ListPromptsAsync(new ListPromptsRequestParams { Cursor = cursor }, cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Prompts);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return prompts = all;
    }

    public async ValueTask<IReadOnlyList<Resource>> ResourcesAsync(CancellationToken cancellationToken)
    {
        if (resources is { } cached)
        {
            return cached;
        }

        if (Capabilities.Resources is null)
        {
            return resources = [];
        }

        var all = new List<Resource>();
        string? cursor = null;
        do
        {
            var page = await Client.ListResourcesAsync(new ListResourcesRequestParams { Cursor = cursor }, cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Resources);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return resources = all;
    }

    public async ValueTask<IReadOnlyList<ResourceTemplate>> TemplatesAsync(CancellationToken cancellationToken)
    {
        if (templates is { } cached)
        {
            return cached;
        }

        if (Capabilities.Resources is null)
        {
            return templates = [];
        }

        var all = new List<ResourceTemplate>();
        string? cursor = null;
        do
        {
            var page = await Client.ListResourceTemplatesAsync(new ListResourceTemplatesRequestParams { Cursor = cursor }, cancellationToken).ConfigureAwait(false);
            all.AddRange(page.ResourceTemplates);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return templates = all;
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Client.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            GatewayLog.StartFailed(logger, Name, "while stopping: " + e.Message);
        }

        await DisposeSandboxAsync(sandbox).ConfigureAwait(false);
    }
}

/// <summary>An upstream could not be started; the message is safe to show (no argument, header or environment values).</summary>
public sealed class UpstreamStartException : Exception
{
    public UpstreamStartException(string message) : base(message)
    {
    }

    public UpstreamStartException()
    {
    }

    public UpstreamStartException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
