using System.Collections.Immutable;
using System.Text.RegularExpressions;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Policy;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Policy;

// Logging is a current feature of the revisions the gateway speaks; MCP9005 flags its deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

// The upstreams' lifecycle: which servers run under the policy in force, starting (with the revision each answers), watching and stopping them.
public sealed partial class Gateway
{
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
            var offer = Volatile.Read(ref offered)?.Capabilities;
            // An upstream offered less than is offered now is relaunched with it, unless calls are in flight to it (they would be cut off).
            var keep = current.Where(u => wanted.TryGetValue(u.Name, out var s) && s.Identity == u.Spec.Identity &&
                                          (Covers(u.Offered, offer) || (callers.TryGetValue(u.Name, out var calling) && !calling.IsEmpty))).ToList();
            var stop = current.Where(u => !keep.Contains(u)).ToList();
            foreach (var kept in keep)
            {
                kept.Spec = wanted[kept.Name];
            }

            upstreams = [.. keep];
            foreach (var upstream in stop)
            {
                GatewayLog.Stopping(logger, upstream.Name, !wanted.TryGetValue(upstream.Name, out var next)
                    ? "no longer admitted"
                    : next.Identity == upstream.Spec.Identity
                        ? $"relaunching to offer it {Describe(offer)}, which a new host session offers"
                        : $"relaunching at {next.RegistryName} {next.Version}");
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
            var offer = Volatile.Read(ref offered);
            try
            {
                upstream = await Upstream.StartAsync(spec, UpstreamOptions(spec, timeout, LatestRevision, offer), options.Lookup, options.WorkingDirectory, loggerFactory, httpClient,
                    outbound, cancellationToken, options.SandboxHost, options.MessageLimit, message => InterceptAsync(spec.Name, message)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is UpstreamStartException or McpException && (OlderRevision(e.Message) ?? StatelessOnly(e)) is { } other)
            {
                // The server answered another revision the SDK speaks (an older one, or only the stateless one): it is
                // started again in that revision, as it asked.
                GatewayLog.OtherRevision(logger, spec.Name, other);
                upstream = await Upstream.StartAsync(spec, UpstreamOptions(spec, timeout, other, offer), options.Lookup, options.WorkingDirectory, loggerFactory, httpClient,
                    outbound, cancellationToken, options.SandboxHost, options.MessageLimit, message => InterceptAsync(spec.Name, message)).ConfigureAwait(false);
            }

            upstream.Offered = offer?.Capabilities;
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
            var message = e switch
            {
                OperationCanceledException => $"no answer within {timeout.TotalSeconds:0} s",
                HttpRequestException => Sources.NetErrors.Message(e),
                _ => e.Message,
            };
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

    /// <summary>
    /// <see cref="StatelessRevision"/> when the server refused <c>initialize</c> with <c>-32022</c> naming only revisions
    /// without sessions (a server written for 2026-07-28 alone), else null.
    /// </summary>
    internal static string? StatelessOnly(Exception e)
    {
        for (var inner = (Exception?)e; inner is not null; inner = inner.InnerException)
        {
            if (inner is McpProtocolException { ErrorCode: McpErrorCode.UnsupportedProtocolVersion } refusal)
            {
                var supported = refusal is UnsupportedProtocolVersionException { Supported: { } listed } ? listed : [];
                return supported.Contains(StatelessRevision, StringComparer.Ordinal) || supported.Count == 0 ? StatelessRevision : null;
            }
        }

        return null;
    }

    [GeneratedRegex(@"protocol version mismatch\. Expected [0-9-]+, got (?<got>[0-9]{4}-[0-9]{2}-[0-9]{2})", RegexOptions.CultureInvariant)]
    private static partial Regex RevisionMismatch();

    private McpClientOptions UpstreamOptions(UpstreamSpec spec, TimeSpan timeout, string revision, Offer? offer)
    {
        var capabilities = offer?.Capabilities;
        var name = spec.Name;
        var handlers = new McpClientHandlers
        {
            NotificationHandlers =
            [
                new(NotificationMethods.ToolListChangedNotification, (_, ct) => UpstreamListChangedAsync(name, NotificationMethods.ToolListChangedNotification, ct)),
                new(NotificationMethods.PromptListChangedNotification, (_, ct) => UpstreamListChangedAsync(name, NotificationMethods.PromptListChangedNotification, ct)),
                new(NotificationMethods.ResourceListChangedNotification, (_, ct) => UpstreamListChangedAsync(name, NotificationMethods.ResourceListChangedNotification, ct)),
                new(NotificationMethods.ProgressNotification, (n, ct) => ForwardAsync(n, ct)),
            ],
        };
        // A handler only where the capability is offered: each relayed request is then held to the calling session's own (SessionFor).
        if (capabilities?.Sampling is not null)
        {
            handlers.SamplingHandler = (request, _, ct) => SampleAsync(name, request, ct);
        }

        if (capabilities?.Elicitation is not null)
        {
            handlers.ElicitationHandler = (request, ct) => ElicitAsync(name, request, ct);
        }

        if (capabilities?.Roots is not null)
        {
            handlers.RootsHandler = (request, ct) => RequestRootsAsync(name, request, ct);
        }

        return new McpClientOptions
        {
            ClientInfo = offer?.Info is { } info
                ? new Implementation { Name = info.Name, Version = info.Version, Title = info.Title }
                : new Implementation { Name = "steward-gateway", Version = GatewayVersion },
            // Pinned: the SDK's default would try the stateless 2026-07-28 revision first, which the gateway does not bridge yet.
            ProtocolVersion = revision,
            InitializationTimeout = timeout,
            Capabilities = capabilities,
            Handlers = handlers,
        };
    }
}
