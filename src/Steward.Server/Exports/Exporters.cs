using Steward.Core.Launch;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Server.Exports;

/// <summary>
/// Each host's format from the same admitted entries (the latest active version of each server). Pure: entries and
/// settings in, bytes and a report out. The choices are documented in docs/exports.md. One file per format
/// (<c>Exporters.Kiro.cs</c>, <c>.ClaudeMcp</c>, <c>.ManagedSettings</c> for Claude Code's and VS Code's settings,
/// <c>.Cursor</c>, <c>.Gemini</c>); this one holds what several formats share (launch plans, matchers, writers).
/// </summary>
public static partial class Exporters
{
    public const int KiroTextLimit = 100;
    public const int KiroNameLimit = HostServerNames.KiroNameLimit;

    public static ExportResult Build(string format, IReadOnlyList<ServerDetail> admitted, IReadOnlyList<ServerDetail> revoked, ProfileSettings settings, ExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        options ??= ExportOptions.Default;
        var result = format switch
        {
            ExportFormats.Kiro => Kiro(admitted, settings),
            ExportFormats.ClaudeManagedMcp => ClaudeManagedMcp(admitted, settings, options),
            ExportFormats.ClaudeSettings => ManagedSettings(admitted, revoked, settings, claude: true, options),
            ExportFormats.Copilot => ManagedSettings(admitted, revoked, settings, claude: false, options),
            ExportFormats.Cursor => Cursor(admitted, settings, options),
            ExportFormats.Gemini => Gemini(admitted, settings, options),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown export format"),
        };

        // The tool rules every format's report accounts for: Claude Code settings carry those it can express.
        var rules = settings.ToolRules;
        var unexpressed = format == ExportFormats.ClaudeSettings
            ? ToolRulePermissions.ForClaude(rules, HostServerNames.Keys(admitted.Select(s => s.Name))).NotExpressed
            : ToolRulePermissions.NotExpressible(rules, format switch
            {
                ExportFormats.Kiro => "Kiro",
                ExportFormats.Copilot => "GitHub Copilot",
                ExportFormats.Cursor => "Cursor",
                ExportFormats.Gemini => "Gemini CLI",
                _ => "Claude Code's managed-mcp.json",
            });
        return unexpressed.Count == 0 ? result : result with { Notes = [.. result.Notes, .. unexpressed] };
    }

    // ---------------------------------------------------------------- Kiro

    /// <summary>One server of a host's server list: under its flat name, the gateway's argv, or else the upstream's plan.</summary>
    private sealed record HostServer(string Key, string Name, string[]? Gateway, LaunchPlan? Local, RemotePlan? Remote);

    /// <summary>
    /// The servers a host's server list holds. Gateway mode: every admitted entry (the gateway plans it at run time, with
    /// the inputs the developer gave <c>steward mcp add</c>; one that needs inputs is noted). Direct mode: the entries
    /// with a package or remote that plans without user input; the others are skipped with every reason.
    /// </summary>
    private static List<HostServer> Servers(IReadOnlyList<ServerDetail> admitted, ExportOptions options, List<SkippedEntry> skipped, List<string> notes)
    {
        var names = HostServerNames.Keys(admitted.Select(s => s.Name));
        var servers = new List<HostServer>();
        foreach (var server in admitted)
        {
            var reasons = new List<string>();
            var (local, remote) = FirstPlan(server, reasons);
            if (options.IsGateway)
            {
                if (local is null && remote is null)
                {
                    notes.Add($"{server.Name}@{server.Version}: the gateway serves it only once the developer gives its inputs with `steward mcp add {server.Name}`; {string.Join("; ", reasons)}");
                }

                servers.Add(new HostServer(names[server.Name], server.Name, options.GatewayArgv(server.Name), null, null));
                continue;
            }

            if (local is null && remote is null)
            {
                skipped.Add(new SkippedEntry(server.Name, server.Version, reasons));
                continue;
            }

            servers.Add(new HostServer(names[server.Name], server.Name, null, local, remote));
        }

        return servers;
    }

    /// <summary>
    /// The <c>mcpServers</c> object of Claude Code's managed-mcp.json and Gemini CLI's settings.json: each server under its
    /// flat name, as its command, args and env, or as its remote's URL and headers. The two hosts differ only in how they
    /// name the transport: Claude Code by a <c>type</c> field (<paramref name="typed"/>: stdio, http or sse) beside
    /// <c>url</c>; Gemini CLI by the URL's key alone (<c>httpUrl</c> for streamable HTTP, <c>url</c> for SSE).
    /// </summary>
    private static void WriteMcpServers(Utf8JsonWriter w, List<HostServer> servers, bool typed)
    {
        w.WriteStartObject("mcpServers");
        foreach (var server in servers)
        {
            w.WriteStartObject(server.Key);
            if (server.Gateway is { } argv)
            {
                WriteStdioType(w, typed);
                WriteCommand(w, argv);
            }
            else if (server.Local is { } local)
            {
                WriteStdioType(w, typed);
                WriteCommand(w, [local.Command, .. local.Args]);
                WriteEnvironment(w, "env", local);
            }
            else
            {
                var remote = server.Remote!;
                var sse = remote.Type == TransportTypes.Sse;
                if (typed)
                {
                    w.WriteString("type", sse ? "sse" : "http");
                    w.WriteString("url", remote.Url);
                }
                else
                {
                    w.WriteString(sse ? "url" : "httpUrl", remote.Url);
                }

                WriteHeaders(w, remote);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteStdioType(Utf8JsonWriter w, bool typed)
    {
        if (typed)
        {
            w.WriteString("type", "stdio");
        }
    }

    private static void WriteCommand(Utf8JsonWriter w, IReadOnlyList<string> argv)
    {
        w.WriteString("command", argv[0]);
        w.WriteStartArray("args");
        foreach (var arg in argv.Skip(1))
        {
            w.WriteStringValue(arg);
        }

        w.WriteEndArray();
    }

    private static void WriteEnvironment(Utf8JsonWriter w, string property, LaunchPlan local)
    {
        if (local.Environment.Count == 0)
        {
            return;
        }

        w.WriteStartObject(property);
        foreach (var (key, value) in local.Environment.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            w.WriteString(key, local.SecretEnvironmentNames.Contains(key) ? "${" + key + "}" : value);
        }

        w.WriteEndObject();
    }

    private static void WriteHeaders(Utf8JsonWriter w, RemotePlan remote)
    {
        if (remote.Headers.Count == 0)
        {
            return;
        }

        w.WriteStartObject("headers");
        foreach (var (key, value) in remote.Headers.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
        {
            w.WriteString(key, value);
        }

        w.WriteEndObject();
    }

    /// <summary>The first package that plans without user input and without a secret argument, else the first remote that does.</summary>
    private static (LaunchPlan? Local, RemotePlan? Remote) FirstPlan(ServerDetail server, List<string> reasons)
    {
        for (var i = 0; i < (server.Packages?.Count ?? 0); i++)
        {
            if (PlanPackage(server.Packages![i], $"packages[{i}]", reasons) is { } plan)
            {
                return (plan, null);
            }
        }

        for (var i = 0; i < (server.Remotes?.Count ?? 0); i++)
        {
            if (PlanRemote(server.Remotes![i], $"remotes[{i}]", reasons) is { } plan)
            {
                return (null, plan);
            }
        }

        if (reasons.Count == 0)
        {
            reasons.Add("the entry has neither a package nor a remote");
        }

        return (null, null);
    }

    private static LaunchPlan? PlanPackage(Package package, string path, List<string> reasons)
    {
        var result = LaunchPlanner.Plan(package, LaunchInputs.Empty, path);
        if (!result.Succeeded)
        {
            reasons.AddRange(result.Problems.Select(p => $"{p.Path}: {p.Message}"));
            return null;
        }

        if (result.Plan!.Transport.Type != TransportTypes.Stdio)
        {
            reasons.Add($"{path}.transport: a package serving {result.Plan.Transport.Type} is started by the user, not by the host");
            return null;
        }

        if (!result.Plan.SecretArgIndexes.IsEmpty)
        {
            reasons.Add($"{path}: an argument holds a secret value, which is not published in an export");
            return null;
        }

        return result.Plan;
    }

    private static RemotePlan? PlanRemote(RemoteTransport remote, string path, List<string> reasons)
    {
        var result = RemotePlanner.Plan(remote, LaunchInputs.Empty, path);
        if (!result.Succeeded)
        {
            reasons.AddRange(result.Problems.Select(p => $"{p.Path}: {p.Message}"));
            return null;
        }

        if (!result.Plan!.SecretHeaderNames.IsEmpty)
        {
            reasons.Add($"{path}.headers: a header holds a secret value, which is not published in an export");
            return null;
        }

        return result.Plan;
    }

    // ---------------------------------------------------------------- allow and deny lists

    /// <summary>What an entry allows: the exact argv of each package the planner can plan without user input, and the URL pattern of each remote.</summary>
    private static (List<string[]> Commands, List<string> Urls) Matchers(ServerDetail server, List<string> reasons)
    {
        var commands = new List<string[]>();
        var urls = new List<string>();
        for (var i = 0; i < (server.Packages?.Count ?? 0); i++)
        {
            if (PlanPackage(server.Packages![i], $"packages[{i}]", reasons) is { } plan)
            {
                commands.Add([.. plan.Argv]);
            }
        }

        for (var i = 0; i < (server.Remotes?.Count ?? 0); i++)
        {
            urls.Add(UrlPattern(server.Remotes![i]));
        }

        return (commands, urls);
    }

    /// <summary>A remote's URL with each <c>{variable}</c> that has no fixed value as <c>*</c> (a fixed one is substituted).</summary>
    public static string UrlPattern(RemoteTransport remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var url = remote.Url;
        foreach (var name in UrlTemplates.Variables(url).Distinct(StringComparer.Ordinal))
        {
            var value = remote.Variables is { } variables && variables.TryGetValue(name, out var v) && v.Value is { } fixedValue ? fixedValue : "*";
            url = url.Replace("{" + name + "}", value, StringComparison.Ordinal);
        }

        return url;
    }

    private static IEnumerable<string[]> Distinct(List<string[]> commands) =>
        commands.DistinctBy(c => string.Join('\0', c), StringComparer.Ordinal);

    private static string Shorten(string text, int limit)
    {
        if (text.Length <= limit)
        {
            return text;
        }

        var cut = limit - 1;
        if (char.IsHighSurrogate(text[cut - 1]))
        {
            cut--;
        }

        return text[..cut] + "…";
    }

    private static string Truncate(string text, int limit) => text.Length <= limit ? text : text[..limit];
}
