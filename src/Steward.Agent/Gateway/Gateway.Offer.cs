using ModelContextProtocol.Protocol;

// Sampling and roots are current features of the revisions the gateway speaks; MCP9005 flags their deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

// What upstreams are offered of the hosts' client capabilities (sampling, elicitation, roots: what the gateway relays).
public sealed partial class Gateway
{
    /// <summary>
    /// What upstreams are offered: the relayed capabilities of the host sessions so far, and the client info of the first.
    /// <list type="bullet">
    /// <item><description>One session (stdio): exactly what that host offered, since upstreams start after its
    /// <c>initialize</c>, so a server that adapts to its client (listing a tool only to clients with roots) adapts to the
    /// host.</description></item>
    /// <item><description>A host of the stateless revision first (2026-07-28): everything the gateway relays
    /// (<see cref="RelayedCapabilities"/>), since such a host's capabilities are those of each request; each question is
    /// held to the request's own. Later sessions do not change that offer.</description></item>
    /// <item><description>Several sessions (<see cref="GatewayOptions.ManySessions"/>, the HTTP front): upstreams are shared
    /// and a client's capabilities are fixed for a connection, so they are offered the union of what the sessions offered.
    /// A session that offers more than the upstreams were offered has them relaunched with the union before its requests
    /// are answered (<see cref="OfferAsync"/>): a host never finds a capability it has missing because another host, without
    /// it, connected first. What an upstream then asks of a session that lacks it is refused (<see cref="SessionFor"/>).</description></item>
    /// </list>
    /// </summary>
    private Offer? offered;

    private sealed record Offer(ClientCapabilities? Capabilities, Implementation? Info);

    /// <summary>
    /// A host session initialized with <paramref name="capabilities"/>: the first sets the offer; with several sessions a
    /// wider one widens it and relaunches, under the apply gate, the upstreams that were offered less (their state, such as
    /// resource subscriptions, starts again as after a policy relaunch). Requests wait for the apply gate, so the session's
    /// first list sees the relaunched upstreams.
    /// </summary>
    private async Task OfferAsync(ClientCapabilities? capabilities, Implementation? info, CancellationToken cancellationToken)
    {
        var relayed = Relayed(capabilities);
        if (Interlocked.CompareExchange(ref offered, new Offer(relayed, info), null) is not { } before ||
            !options.ManySessions || Covers(before.Capabilities, relayed))
        {
            return;
        }

        await applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = Volatile.Read(ref offered)!;
            Volatile.Write(ref offered, current with { Capabilities = Union(current.Capabilities, relayed) });
            if (policy is { } state && !upstreams.IsEmpty)
            {
                await ApplyAsync(state, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            applyGate.Release();
        }
    }

    /// <summary>Everything the gateway relays to upstreams: what a stateless host's upstreams are offered.</summary>
    private static ClientCapabilities RelayedCapabilities { get; } = new()
    {
        Sampling = new SamplingCapability { Context = new SamplingContextCapability(), Tools = new SamplingToolsCapability() },
        Elicitation = new ElicitationCapability { Form = new FormElicitationCapability(), Url = new UrlElicitationCapability() },
        Roots = new RootsCapability { ListChanged = true },
    };

    /// <summary>Of a host's capabilities, what the gateway relays to upstreams (null when none).</summary>
    private static ClientCapabilities? Relayed(ClientCapabilities? host)
    {
        if (host is null || (host.Sampling is null && host.Elicitation is null && host.Roots is null))
        {
            return null;
        }

        return new ClientCapabilities
        {
            Sampling = host.Sampling is { } sampling ? new SamplingCapability { Context = sampling.Context, Tools = sampling.Tools } : null,
            Elicitation = host.Elicitation is { } elicitation ? new ElicitationCapability { Form = elicitation.Form, Url = elicitation.Url } : null,
            Roots = host.Roots is null ? null : new RootsCapability { ListChanged = true },
        };
    }

    /// <summary>True when <paramref name="offer"/> includes everything of <paramref name="wanted"/>.</summary>
    private static bool Covers(ClientCapabilities? offer, ClientCapabilities? wanted) =>
        (wanted?.Sampling is not { } sampling ||
         (offer?.Sampling is { } s && (sampling.Context is null || s.Context is not null) && (sampling.Tools is null || s.Tools is not null))) &&
        (wanted?.Elicitation is not { } elicitation ||
         (offer?.Elicitation is { } e && (!FormMode(elicitation) || FormMode(e)) && (elicitation.Url is null || e.Url is not null))) &&
        (wanted?.Roots is null || offer?.Roots is not null);

    /// <summary>An empty elicitation capability means form mode (2025-11-25).</summary>
    private static bool FormMode(ElicitationCapability elicitation) => elicitation.Form is not null || elicitation.Url is null;

    private static ClientCapabilities? Union(ClientCapabilities? a, ClientCapabilities? b)
    {
        if (a is null || b is null)
        {
            return a ?? b;
        }

        return new ClientCapabilities
        {
            Sampling = a.Sampling is null && b.Sampling is null ? null : new SamplingCapability
            {
                Context = a.Sampling?.Context ?? b.Sampling?.Context,
                Tools = a.Sampling?.Tools ?? b.Sampling?.Tools,
            },
            Elicitation = a.Elicitation is null && b.Elicitation is null ? null : new ElicitationCapability
            {
                Form = new[] { a.Elicitation, b.Elicitation }.Any(e => e is not null && FormMode(e)) ? new FormElicitationCapability() : null,
                Url = a.Elicitation?.Url ?? b.Elicitation?.Url,
            },
            Roots = a.Roots ?? b.Roots,
        };
    }

    /// <summary>The offer in words, for the log: "sampling, elicitation and roots".</summary>
    private static string Describe(ClientCapabilities? offer)
    {
        var parts = new List<string>();
        if (offer?.Sampling is not null)
        {
            parts.Add("sampling");
        }

        if (offer?.Elicitation is not null)
        {
            parts.Add("elicitation");
        }

        if (offer?.Roots is not null)
        {
            parts.Add("roots");
        }

        return parts.Count switch
        {
            0 => "no client capabilities",
            1 => parts[0],
            _ => string.Join(", ", parts[..^1]) + " and " + parts[^1],
        };
    }
}
