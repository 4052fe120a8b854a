using System.Collections.Immutable;
using System.Text.Json;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Net;
using Steward.Core.Registry;
using Steward.Core.Sandbox;

namespace Steward.Core.Admission;

/// <summary>A local server to start: argv (never a shell) and the environment to add, both unexpanded until launch.</summary>
public sealed record LocalLaunch(string Command, ImmutableArray<string> Args, ImmutableArray<KeyValuePair<string, string>> Environment);

/// <summary>A remote server to connect to: transport (<c>streamable-http</c>, <c>sse</c>, or <c>http</c> to detect), URL and headers, unexpanded.</summary>
public sealed record RemoteLaunch(string Transport, string Url, ImmutableArray<KeyValuePair<string, string>> Headers);

/// <summary>
/// One admitted server the gateway runs: its configured name, what the registry calls it and at which version, and
/// exactly one of <see cref="Local"/> or <see cref="Remote"/>. <see cref="Identity"/> changes whenever what runs changes.
/// </summary>
public sealed record UpstreamSpec(string Name, string RegistryName, string Version, McpServerConfig Config, LocalLaunch? Local, RemoteLaunch? Remote)
{
    /// <summary>The administrator's tool pins from the registry entry (<see cref="AdmissionPlanner.ToolPinsMetaKey"/>), or null.</summary>
    public JsonElement? AdminToolPins { get; init; }

    /// <summary>The sandbox the administrator set for this entry (or the default); <see cref="SandboxProfile.Off"/> for remotes.</summary>
    public SandboxProfile Sandbox { get; init; } = SandboxProfile.Off;

    public string Identity => string.Join('\u001f', new[] { RegistryName, Version }
        .Concat(Local is null ? [] : [Local.Command, .. Local.Args, .. Local.Environment.Select(p => p.Key + "=" + p.Value)])
        .Concat(Remote is null ? [] : [Remote.Transport, Remote.Url, .. Remote.Headers.Select(p => p.Key + ":" + p.Value)])
        .Append(Sandbox.ToJson()));
}

/// <summary>A configured server the gateway will not run, with a stable reason code and a message without secret values.</summary>
public sealed record UpstreamRefusal(string Name, string ReasonCode, string Message);

/// <summary>Reason codes the planner adds to <see cref="AdmissionReasons"/>, after admission by what runs.</summary>
public static class GatewayReasons
{
    /// <summary>The profile disables web tools and the registry marks this server as one.</summary>
    public const string WebToolsDisabled = "web_tools_disabled";
    /// <summary>A remote on plain http, and the policy does not allow loopback http (or the host is not loopback).</summary>
    public const string PlainHttp = "plain_http";
    /// <summary>A newer registry version must run, but Steward cannot build its launch.</summary>
    public const string RelaunchImpossible = "relaunch_impossible";
    /// <summary>The runner the server needs (npx, uvx, docker, podman, dnx) is not installed on this machine.</summary>
    public const string RunnerMissing = "runner_missing";
}

/// <summary>
/// The policy admission is decided against, as Core sees it: the registry (and withdrawn versions, to say why), the
/// profile's switches, and the sandbox profiles. The agent makes one from its verified policy snapshot.
/// </summary>
public sealed record AdmissionPolicy
{
    public required IReadOnlyList<RegistryEntry> Registry { get; init; }

    /// <summary>Versions the admin deprecated or deleted (never admitted; their status message explains a refusal).</summary>
    public IReadOnlyList<RegistryEntry> Withdrawn { get; init; } = [];

    public bool WebToolsEnabled { get; init; } = true;

    /// <summary>Who turned web tools off, for the message: "your organisation's profile", "your account's profile", "the policy file".</summary>
    public string WebToolsDecidedBy { get; init; } = "your organisation's profile";

    public bool AllowLoopbackHttp { get; init; }

    public SandboxPolicy Sandbox { get; init; } = SandboxPolicy.None;
}

/// <summary>
/// What admission needs to know about this machine, found by the caller (Core does no I/O): which runner programs are
/// on <c>PATH</c>. Null <see cref="InstalledRunners"/>: not known (a server deciding for many machines), never refused for it.
/// </summary>
public sealed record LocalFacts(IReadOnlySet<string>? InstalledRunners)
{
    public static LocalFacts Unknown { get; } = new((IReadOnlySet<string>?)null);

    /// <summary>The runner programs detection looks for.</summary>
    public static IReadOnlyList<string> RunnerPrograms { get; } = [Runners.Npx, Runners.Uvx, Runners.Docker, Runners.Podman, Runners.Dnx];

    public bool IsMissing(string command) => InstalledRunners is { } installed && RunnerPrograms.Contains(command) && !installed.Contains(command);
}

/// <summary>The one answer for one configured server: the admission decision, and what runs (or why not).</summary>
/// <param name="Decision">Admission by what runs (<see cref="AdmissionEvaluator"/>, withdrawn versions explained).</param>
/// <param name="Run">What to run when admitted; null when refused.</param>
/// <param name="Refusal">Why not, when refused: admission's reason, or one the planner adds (<see cref="GatewayReasons"/>).</param>
public sealed record AdmissionAnswer(string Name, AdmissionDecision Decision, UpstreamSpec? Run, UpstreamRefusal? Refusal)
{
    public bool Admitted => Run is not null;
}

/// <summary>
/// Turns the policy, the local facts and the merged configuration into what to run and what to refuse: admission by
/// <see cref="AdmissionEvaluator"/>, then the rules that do not depend on what runs (web tools off, plain http, a
/// missing runner) and the administrator's tool pins. The gateway, <c>steward mcp list/status/add</c>,
/// <c>steward scan</c> and <c>steward mcp export-host</c> all ask <see cref="Decide"/>, so they give one answer.
/// </summary>
public sealed class AdmissionPlanner
{
    /// <summary>The registry <c>_meta</c> key an administrator (or publisher) sets to <c>true</c> to mark a server as a web tool.</summary>
    public const string WebToolMetaKey = "io.steward/web-tool";

    /// <summary>The registry <c>_meta</c> key of the administrator's tool pins.</summary>
    public const string ToolPinsMetaKey = "io.steward/tool-pins";

    private readonly AdmissionPolicy policy;
    private readonly LocalFacts facts;
    private readonly AdmissionEvaluator evaluator;

    public AdmissionPlanner(AdmissionPolicy policy, LocalFacts facts)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(facts);
        this.policy = policy;
        this.facts = facts;
        evaluator = new AdmissionEvaluator(policy.Registry);
    }

    public AdmissionEvaluator Evaluator => evaluator;

    public static (ImmutableArray<UpstreamSpec> Run, ImmutableArray<UpstreamRefusal> Refused) Plan(
        AdmissionPolicy policy, LocalFacts facts, MergedMcpConfig config, string? onlyServer) =>
        new AdmissionPlanner(policy, facts).Plan(config, onlyServer);

    public (ImmutableArray<UpstreamSpec> Run, ImmutableArray<UpstreamRefusal> Refused) Plan(MergedMcpConfig config, string? onlyServer)
    {
        ArgumentNullException.ThrowIfNull(config);
        var run = ImmutableArray.CreateBuilder<UpstreamSpec>();
        var refused = ImmutableArray.CreateBuilder<UpstreamRefusal>();
        var servers = onlyServer is null ? config.Servers : Selected(config, evaluator, onlyServer);
        var found = !servers.IsEmpty;
        foreach (var server in servers)
        {
            var answer = Decide(server.Name, server.Config);
            if (answer.Run is { } spec)
            {
                run.Add(spec);
            }
            else if (answer.Refusal is { } refusal)
            {
                refused.Add(refusal);
            }
        }

        if (onlyServer is not null && !found)
        {
            refused.Add(new UpstreamRefusal(onlyServer, AdmissionReasons.InvalidConfig,
                $"\"{onlyServer}\" is not in your MCP configuration (steward mcp list shows what is)"));
        }

        return (run.ToImmutable(), refused.ToImmutable());
    }

    /// <summary>The answer for one configured server.</summary>
    public AdmissionAnswer Decide(string name, McpServerConfig config)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(config);
        var decision = WithdrawnEntries.Explain(policy.Withdrawn, name, config, evaluator.Evaluate(name, config));
        var (spec, refusal) = decision switch
        {
            AdmissionDecision.Blocked b => (null, new UpstreamRefusal(b.ConfiguredName, b.ReasonCode, b.Message)),
            AdmissionDecision.Allowed a => FromAllowed(a, config),
            AdmissionDecision.Relaunch r => FromRelaunch(r, config),
            _ => (null, new UpstreamRefusal(name, AdmissionReasons.InvalidConfig, "unknown admission decision")),
        };

        if (spec is not null)
        {
            var detail = decision switch
            {
                AdmissionDecision.Allowed a => a.Server,
                AdmissionDecision.Relaunch r => r.Server,
                _ => null,
            };
            if (!policy.WebToolsEnabled && detail is not null && IsWebTool(detail))
            {
                refusal = new UpstreamRefusal(name, GatewayReasons.WebToolsDisabled,
                    $"\"{name}\" is a web tool, and web tools are disabled by {policy.WebToolsDecidedBy}");
                spec = null;
            }
            else if (spec.Remote is { } remote && PlainHttpRefusal(name, remote.Url, policy.AllowLoopbackHttp) is { } plain)
            {
                refusal = plain;
                spec = null;
            }
            else if (spec.Local is { } local && facts.IsMissing(local.Command))
            {
                refusal = new UpstreamRefusal(name, GatewayReasons.RunnerMissing, $"\"{name}\": {MissingRunner(local.Command)}");
                spec = null;
            }
            else if (detail is not null && AdminPinsOf(detail) is { } adminPins)
            {
                spec = spec with { AdminToolPins = adminPins };
            }
        }

        if (spec?.Local is not null)
        {
            spec = spec with { Sandbox = policy.Sandbox.For(spec.RegistryName) };
        }

        return new AdmissionAnswer(name, decision, spec, spec is null ? refusal : null);
    }

    /// <summary>What to tell a developer whose machine lacks a runner: what to install, or whom to ask.</summary>
    public static string MissingRunner(string command) => command switch
    {
        Runners.Npx => "npx is not installed: install Node.js (https://nodejs.org/), which includes npx, or ask your administrator for another package of this server",
        Runners.Uvx => "uvx is not installed: install uv (https://docs.astral.sh/uv/) or ask your administrator for another package of this server",
        Runners.Docker => "docker is not installed: install Docker (https://docs.docker.com/get-started/get-docker/) or ask your administrator for another package of this server",
        Runners.Podman => "podman is not installed: install Podman (https://podman.io/docs/installation) or ask your administrator for another package of this server",
        Runners.Dnx => "dnx is not installed: install the .NET 10 SDK (https://dotnet.microsoft.com/download), which includes dnx, or ask your administrator for another package of this server",
        _ => $"{command} is not installed",
    };

    /// <summary>The administrator's tool pins in the entry's <c>_meta</c> (or its publisher-provided block), or null.</summary>
    public static JsonElement? AdminPinsOf(ServerDetail server)
    {
        ArgumentNullException.ThrowIfNull(server);
        foreach (var block in new[] { server.PublisherProvided, server.Meta })
        {
            if (block is { ValueKind: JsonValueKind.Object } meta && meta.TryGetProperty(ToolPinsMetaKey, out var pins) && pins.ValueKind == JsonValueKind.Object)
            {
                return pins.Clone();
            }
        }

        return null;
    }

    /// <summary>
    /// What <c>--server &lt;name&gt;</c> serves: the entry configured under that name; else the configured entry that
    /// runs the registry server of that name (so that a host file listing <c>steward gateway --server
    /// io.github.acme/tool</c>, as the admin's exports and <c>steward mcp export-host</c> write it, finds an entry the
    /// developer added under a short local name); else, when the registry has a server of that name, that server as a
    /// <c>{"type": "registry"}</c> entry (what a managed host file pushed to the machine asks for). Nothing otherwise.
    /// </summary>
    internal static ImmutableArray<EffectiveServer> Selected(MergedMcpConfig config, AdmissionEvaluator evaluator, string name)
    {
        if (config.Find(name) is { } configured)
        {
            return [configured];
        }

        foreach (var server in config.Servers)
        {
            var registryName = evaluator.Evaluate(server.Name, server.Config) switch
            {
                AdmissionDecision.Allowed a => a.RegistryName,
                AdmissionDecision.Relaunch r => r.RegistryName,
                _ => null,
            };
            if (registryName == name)
            {
                return [server];
            }
        }

        var implicitEntry = new McpServerConfig { Type = McpServerTypes.Registry };
        return evaluator.Evaluate(name, implicitEntry) is AdmissionDecision.Blocked { ReasonCode: AdmissionReasons.NotInRegistry }
            ? []
            : [new EffectiveServer(name, implicitEntry, new ConfigOrigin(ConfigScope.Agent, "steward gateway --server"), [])];
    }

    /// <summary>
    /// A web tool: the mark <c>"io.steward/web-tool": true</c> or the category (<c>category: "web"</c> or
    /// <c>categories</c> holding <c>"web"</c>), in the entry's <c>_meta</c> (the administrator's) or in its
    /// publisher-provided block (the publisher's).
    /// </summary>
    public static bool IsWebTool(ServerDetail server)
    {
        ArgumentNullException.ThrowIfNull(server);
        foreach (var block in new[] { server.Meta, server.PublisherProvided })
        {
            if (block is not { ValueKind: JsonValueKind.Object } meta)
            {
                continue;
            }

            if ((meta.TryGetProperty(WebToolMetaKey, out var mark) && mark.ValueKind == JsonValueKind.True) || HasWebCategory(meta))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasWebCategory(JsonElement block)
    {
        if (block.TryGetProperty("category", out var category) && category.ValueKind == JsonValueKind.String &&
            string.Equals(category.GetString(), "web", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return block.TryGetProperty("categories", out var categories) && categories.ValueKind == JsonValueKind.Array &&
               categories.EnumerateArray().Any(c => c.ValueKind == JsonValueKind.String && string.Equals(c.GetString(), "web", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Plain http is refused unless the policy allows loopback http and the host is this machine.</summary>
    public static UpstreamRefusal? PlainHttpRefusal(string name, string url, bool allowLoopbackHttp)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            return null;
        }

        if (UrlRules.Allows(uri, allowLoopbackHttp))
        {
            return null;
        }

        return new UpstreamRefusal(name, GatewayReasons.PlainHttp, UrlRules.IsLoopback(uri)
            ? $"\"{name}\" uses plain http; your organisation's policy does not allow http even to this machine"
            : $"\"{name}\" uses plain http to another machine; only https is allowed");
    }

    private static (UpstreamSpec?, UpstreamRefusal?) FromAllowed(AdmissionDecision.Allowed allowed, McpServerConfig config)
    {
        var name = allowed.ConfiguredName;
        if (allowed.Plan is { } plan)
        {
            var local = new LocalLaunch(plan.Command, plan.Args, [.. plan.Environment.OrderBy(p => p.Key, StringComparer.Ordinal)]);
            return (new UpstreamSpec(name, allowed.RegistryName, allowed.Version, config, local, null), null);
        }

        if (allowed.Remote is { } remotePlan)
        {
            var remote = new RemoteLaunch(remotePlan.Type, remotePlan.Url, [.. remotePlan.Headers.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)]);
            return (new UpstreamSpec(name, allowed.RegistryName, allowed.Version, config, null, remote), null);
        }

        if (config.Command is { } command)
        {
            var local = new LocalLaunch(command, config.Args ?? [], PackageEnvironment(allowed.Package, config));
            return (new UpstreamSpec(name, allowed.RegistryName, allowed.Version, config, local, null), null);
        }

        if (config.Url is { } url)
        {
            var remote = new RemoteLaunch(config.Type ?? allowed.RemoteEntry?.Type ?? McpServerTypes.Http, url, RemoteHeaders(allowed.RemoteEntry, config));
            return (new UpstreamSpec(name, allowed.RegistryName, allowed.Version, config, null, remote), null);
        }

        return (null, new UpstreamRefusal(name, AdmissionReasons.InvalidConfig, $"\"{name}\" has neither a command nor a URL"));
    }

    private static (UpstreamSpec?, UpstreamRefusal?) FromRelaunch(AdmissionDecision.Relaunch relaunch, McpServerConfig config)
    {
        var name = relaunch.ConfiguredName;
        if (relaunch.Package is { } package && config.Command is { } command)
        {
            // The configured argv with the old version's package spec replaced by the new one's.
            var oldSpec = Runners.PackageSpec(package with { Version = relaunch.FromVersion });
            var newSpec = Runners.PackageSpec(package);
            var args = config.Args ?? [];
            var index = args.IndexOf(oldSpec);
            if (index >= 0)
            {
                var local = new LocalLaunch(command, args.SetItem(index, newSpec), PackageEnvironment(package, config));
                return (new UpstreamSpec(name, relaunch.RegistryName, relaunch.Version, config, local, null), null);
            }

            var planned = LaunchPlanner.Plan(package, LaunchInputs.Empty.WithEnvironment(config.Env ?? []));
            if (planned.Plan is { } plan)
            {
                var local = new LocalLaunch(plan.Command, plan.Args, [.. plan.Environment.OrderBy(p => p.Key, StringComparer.Ordinal)]);
                return (new UpstreamSpec(name, relaunch.RegistryName, relaunch.Version, config, local, null), null);
            }

            return (null, new UpstreamRefusal(name, GatewayReasons.RelaunchImpossible,
                $"\"{name}\" must move from {relaunch.FromVersion} to {relaunch.Version}, which needs inputs it does not have: " +
                string.Join("; ", planned.Problems.Select(p => p.Message)) + " (run steward mcp add again)"));
        }

        if (relaunch.RemoteEntry is { } remoteEntry)
        {
            var planned = RemotePlanner.Plan(remoteEntry, LaunchInputs.Empty.WithHeaders(config.Headers ?? []));
            if (planned.Plan is { } plan)
            {
                var remote = new RemoteLaunch(plan.Type, plan.Url, [.. plan.Headers.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)]);
                return (new UpstreamSpec(name, relaunch.RegistryName, relaunch.Version, config, null, remote), null);
            }

            return (null, new UpstreamRefusal(name, GatewayReasons.RelaunchImpossible,
                $"\"{name}\" must move to version {relaunch.Version}, whose URL needs inputs it does not have (run steward mcp add again)"));
        }

        return (null, new UpstreamRefusal(name, GatewayReasons.RelaunchImpossible,
            $"\"{name}\" must move to version {relaunch.Version}, and Steward cannot tell what to run for it"));
    }

    /// <summary>The package's own environment (fixed values and defaults) with the user's <c>env</c> on top.</summary>
    private static ImmutableArray<KeyValuePair<string, string>> PackageEnvironment(Package? package, McpServerConfig config)
    {
        var user = config.Env ?? [];
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var variable in package?.EnvironmentVariables ?? [])
        {
            if ((variable.Value ?? variable.Default) is { } value && variable.Variables is null or { Count: 0 })
            {
                result[variable.Name] = value;
            }
        }

        foreach (var (key, value) in user)
        {
            result[key] = value;
        }

        return [.. result.OrderBy(p => p.Key, StringComparer.Ordinal)];
    }

    private static ImmutableArray<KeyValuePair<string, string>> RemoteHeaders(RemoteTransport? entry, McpServerConfig config)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in entry?.Headers ?? [])
        {
            if ((header.Value ?? header.Default) is { } value && header.Variables is null or { Count: 0 })
            {
                result[header.Name] = value;
            }
        }

        foreach (var (key, value) in config.Headers ?? [])
        {
            result[key] = value;
        }

        return [.. result.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)];
    }
}
