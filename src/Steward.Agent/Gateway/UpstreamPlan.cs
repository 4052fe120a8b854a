using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using Steward.Agent.Policy;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Registry;
using Steward.Core.Sandbox;

namespace Steward.Agent.Gateway;

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
    /// <summary>The administrator's tool pins from the registry entry (<see cref="Gateway.ToolPins.MetaKey"/>), or null.</summary>
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

/// <summary>Reason codes the gateway adds to <see cref="AdmissionReasons"/>.</summary>
public static class GatewayReasons
{
    /// <summary>The profile disables web tools and the registry marks this server as one.</summary>
    public const string WebToolsDisabled = "web_tools_disabled";
    /// <summary>A remote on plain http, and the policy does not allow loopback http (or the host is not loopback).</summary>
    public const string PlainHttp = "plain_http";
    /// <summary>A newer registry version must run, but Steward cannot build its launch.</summary>
    public const string RelaunchImpossible = "relaunch_impossible";
}

/// <summary>
/// Turns the policy and the merged configuration into what to run and what to refuse: admission by
/// <see cref="AdmissionEvaluator"/>, then the gateway's own rules (web tools, plain http).
/// </summary>
public static class UpstreamPlanner
{
    /// <summary>The registry <c>_meta</c> key an administrator sets to <c>true</c> to mark a server as a web tool.</summary>
    public const string WebToolMetaKey = "io.steward/web-tool";

    public static (ImmutableArray<UpstreamSpec> Run, ImmutableArray<UpstreamRefusal> Refused) Plan(
        PolicySnapshot snapshot, MergedMcpConfig config, string? onlyServer)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(config);
        var evaluator = new AdmissionEvaluator(snapshot.Registry);
        var run = ImmutableArray.CreateBuilder<UpstreamSpec>();
        var refused = ImmutableArray.CreateBuilder<UpstreamRefusal>();
        var servers = onlyServer is null ? config.Servers : Selected(config, evaluator, onlyServer);
        var found = !servers.IsEmpty;
        foreach (var server in servers)
        {
            var decision = WithdrawnEntries.Explain(snapshot, server.Name, server.Config, evaluator.Evaluate(server.Name, server.Config));
            var (spec, refusal) = decision switch
            {
                AdmissionDecision.Blocked b => (null, new UpstreamRefusal(b.ConfiguredName, b.ReasonCode, b.Message)),
                AdmissionDecision.Allowed a => FromAllowed(a, server.Config),
                AdmissionDecision.Relaunch r => FromRelaunch(r, server.Config),
                _ => (null, new UpstreamRefusal(server.Name, AdmissionReasons.InvalidConfig, "unknown admission decision")),
            };

            if (spec is not null)
            {
                var detail = decision switch
                {
                    AdmissionDecision.Allowed a => a.Server,
                    AdmissionDecision.Relaunch r => r.Server,
                    _ => null,
                };
                if (!snapshot.WebToolsEnabled && detail is not null && IsWebTool(detail))
                {
                    refusal = new UpstreamRefusal(server.Name, GatewayReasons.WebToolsDisabled,
                        $"\"{server.Name}\" is a web tool, and web tools are disabled by your organisation's profile");
                    spec = null;
                }
                else if (spec.Remote is { } remote && PlainHttpRefusal(server.Name, remote.Url, snapshot.AllowLoopbackHttp) is { } plain)
                {
                    refusal = plain;
                    spec = null;
                }
                else if (detail is not null && ToolPins.AdminPinsOf(detail) is { } adminPins)
                {
                    spec = spec with { AdminToolPins = adminPins };
                }
            }

            if (spec is not null)
            {
                if (spec.Local is not null)
                {
                    spec = spec with { Sandbox = snapshot.Sandbox.For(spec.RegistryName) };
                }

                run.Add(spec);
            }
            else if (refusal is not null)
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
    /// A web tool: the administrator's mark (<c>_meta["io.steward/web-tool"]: true</c>), or the publisher's category
    /// (<c>category: "web"</c> or <c>categories</c> holding <c>"web"</c>, in <c>_meta</c> or its publisher-provided block).
    /// </summary>
    public static bool IsWebTool(ServerDetail server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (server.Meta is not { ValueKind: JsonValueKind.Object } meta)
        {
            return false;
        }

        if (meta.TryGetProperty(WebToolMetaKey, out var mark) && mark.ValueKind == JsonValueKind.True)
        {
            return true;
        }

        return HasWebCategory(meta) || (server.PublisherProvided is { ValueKind: JsonValueKind.Object } publisher && HasWebCategory(publisher));
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

        var loopback = uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
        if (allowLoopbackHttp && loopback)
        {
            return null;
        }

        return new UpstreamRefusal(name, GatewayReasons.PlainHttp, loopback
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
