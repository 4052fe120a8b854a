using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Steward.Core.Launch;
using Steward.Core.Registry;
using Steward.Core.Validation;
using Steward.Server.Organisations;
using Steward.Server.Registry;

namespace Steward.Server.Exports;

/// <summary>An admitted entry that a host's format cannot express, and every reason.</summary>
public sealed record SkippedEntry(string Name, string Version, IReadOnlyList<string> Reasons);

/// <summary>An export: the document, what it could not express, and notes (what the profile did to it, partial entries).</summary>
public sealed record ExportResult(byte[] Document, IReadOnlyList<SkippedEntry> Skipped, IReadOnlyList<string> Notes, int Exported);

public static class ExportFormats
{
    public const string Kiro = "kiro";
    public const string ClaudeManagedMcp = "claude-managed-mcp";
    public const string ClaudeSettings = "claude-settings";
    public const string Copilot = "copilot";
    public const string Cursor = "cursor";
    public const string Gemini = "gemini";

    public static readonly IReadOnlyList<string> All = [Kiro, ClaudeManagedMcp, ClaudeSettings, Copilot, Cursor, Gemini];

    /// <summary>The formats that list commands, and so have a gateway mode (Kiro's registry file names packages, not commands).</summary>
    public static bool HasGatewayMode(string format) => format != Kiro;
}

/// <summary>
/// How an export's servers are started. <see cref="Gateway"/> (the default): each server is
/// <c>&lt;command&gt; gateway --server &lt;name&gt;</c>, so the host runs Steward's gateway, which starts the approved
/// upstream and enforces the policy at run time, and the allowlists admit exactly those argv. <see cref="Direct"/>: the
/// upstream's own argv or URL, for machines without Steward installed.
/// </summary>
public static class ExportModes
{
    public const string Gateway = "gateway";
    public const string Direct = "direct";

    /// <summary>The command hosts start in gateway mode unless the admin gives another: <c>steward</c>, found on PATH.</summary>
    public const string DefaultCommand = "steward";

    public const int CommandLimit = 1024;

    /// <summary>
    /// Why <paramref name="command"/> cannot be the gateway's command, or null: a bare program name (found on PATH) or
    /// an absolute path (<c>/usr/local/bin/steward</c>, <c>C:\Program Files\Steward\steward.exe</c>), without control
    /// characters; a relative path would depend on the host's working directory.
    /// </summary>
    public static string? CommandProblem(string command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.Length == 0 || command.Length > CommandLimit || command.Trim() != command || command.Any(char.IsControl))
        {
            return $"command: give the program hosts start for Steward's gateway, a name on PATH (steward) or an absolute path, at most {CommandLimit} characters, without control characters or surrounding spaces";
        }

        var bare = !command.Contains('/', StringComparison.Ordinal) && !command.Contains('\\', StringComparison.Ordinal);
        var absolute = command.StartsWith('/') || (command.Length > 2 && char.IsAsciiLetter(command[0]) && command[1] == ':' && command[2] is '\\' or '/');
        return bare || absolute ? null : $"command: \"{command}\" is a relative path, which depends on the host's working directory; give a name on PATH (steward) or an absolute path";
    }
}

/// <summary>The mode of an export and, in gateway mode, the command hosts start.</summary>
public sealed record ExportOptions(string Mode, string Command)
{
    public static ExportOptions Default { get; } = new(ExportModes.Gateway, ExportModes.DefaultCommand);

    public static ExportOptions DirectMode { get; } = new(ExportModes.Direct, ExportModes.DefaultCommand);

    public bool IsGateway => Mode == ExportModes.Gateway;

    /// <summary>The argv a host runs for <paramref name="name"/> through the gateway.</summary>
    public string[] GatewayArgv(string name) => [Command, "gateway", "--server", name];
}

/// <summary>
/// Each host's format from the same admitted entries (the latest active version of each server). Pure: entries and
/// settings in, bytes and a report out. The choices are documented in docs/exports.md.
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

    /// <summary>
    /// The Kiro registry file: one package (npm, pypi or oci over stdio, every argument a fixed value) or else one remote
    /// per server, the package version pinned in the identifier; fixed environment variables and headers as name/value.
    /// With MCP off in the profile, the file lists no server (Kiro then stops every installed one).
    /// </summary>
    public static ExportResult Kiro(IReadOnlyList<ServerDetail> admitted, ProfileSettings settings)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        ArgumentNullException.ThrowIfNull(settings);
        var notes = new List<string>();
        var skipped = new List<SkippedEntry>();
        var written = new List<byte[]>();
        if (!settings.McpEnabled)
        {
            notes.Add("MCP is disabled in this profile: the file lists no server, so Kiro stops the servers it runs");
            admitted = [];
        }

        var names = HostServerNames.Flat(admitted.Select(s => s.Name));
        foreach (var server in admitted)
        {
            var reasons = new List<string>();
            var entry = KiroEntry(server, names[server.Name], reasons);
            if (entry is null)
            {
                skipped.Add(new SkippedEntry(server.Name, server.Version, reasons));
                continue;
            }

            var check = RegistryLoader.Load(Wrap([entry]), RegistryShape.KiroFile);
            if (!check.IsValid)
            {
                skipped.Add(new SkippedEntry(server.Name, server.Version,
                    check.Failure is { } failure ? [failure.ToString()] : [.. check.Problems.Where(p => p.IsError).Select(p => $"{p.Path}: {p.Message}")]));
                continue;
            }

            written.Add(entry);
        }

        return new ExportResult(Wrap(written), skipped, notes, written.Count);
    }

    private static byte[] Wrap(IReadOnlyList<byte[]> entries) => RegistryJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("servers");
        foreach (var entry in entries)
        {
            w.WriteRawValue(entry, skipInputValidation: true);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static byte[]? KiroEntry(ServerDetail server, string flatName, List<string> reasons)
    {
        Action<Utf8JsonWriter>? endpoint = null;
        for (var i = 0; i < (server.Packages?.Count ?? 0) && endpoint is null; i++)
        {
            endpoint = KiroPackage(server.Packages![i], $"packages[{i}]", reasons);
        }

        for (var i = 0; i < (server.Remotes?.Count ?? 0) && endpoint is null; i++)
        {
            endpoint = KiroRemote(server.Remotes![i], $"remotes[{i}]", reasons);
        }

        if (endpoint is null)
        {
            if (reasons.Count == 0)
            {
                reasons.Add("the entry has neither a package nor a remote");
            }

            return null;
        }

        return RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("server");
            w.WriteString("name", flatName);
            if (server.Title is { Length: > 0 } title)
            {
                w.WriteString("title", Shorten(title, KiroTextLimit));
            }

            w.WriteString("description", Shorten(server.Description, KiroTextLimit));
            w.WriteString("version", server.Version);
            endpoint(w);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static Action<Utf8JsonWriter>? KiroPackage(Package package, string path, List<string> reasons)
    {
        if (package.RegistryType is not (RegistryTypes.Npm or RegistryTypes.Pypi or RegistryTypes.Oci))
        {
            reasons.Add($"{path}: Kiro runs npm, pypi and oci packages only, not {package.RegistryType}");
            return null;
        }

        if (package.Transport.Type != TransportTypes.Stdio)
        {
            reasons.Add($"{path}: Kiro runs packages over stdio only, not {package.Transport.Type}");
            return null;
        }

        var before = reasons.Count;
        var runtime = FixedArguments(package.RuntimeArguments, path + ".runtimeArguments", reasons);
        var arguments = FixedArguments(package.PackageArguments, path + ".packageArguments", reasons);
        var environment = FixedValues(package.EnvironmentVariables, path + ".environmentVariables", "environment variable", reasons, secretsAllowed: false);
        if (reasons.Count > before)
        {
            return null;
        }

        var identifier = Runners.PackageSpec(package);
        return w =>
        {
            w.WriteStartArray("packages");
            w.WriteStartObject();
            w.WriteString("registryType", package.RegistryType);
            if (package.RegistryBaseUrl is { } baseUrl)
            {
                w.WriteString("registryBaseUrl", baseUrl);
            }

            w.WriteString("identifier", identifier);
            w.WriteStartObject("transport");
            w.WriteString("type", TransportTypes.Stdio);
            w.WriteEndObject();
            WritePositional(w, "runtimeArguments", runtime!);
            WritePositional(w, "packageArguments", arguments!);
            WriteNameValues(w, "environmentVariables", environment!);
            w.WriteEndObject();
            w.WriteEndArray();
        };
    }

    private static Action<Utf8JsonWriter>? KiroRemote(RemoteTransport remote, string path, List<string> reasons)
    {
        if (remote.Type is not (TransportTypes.StreamableHttp or TransportTypes.Sse))
        {
            reasons.Add($"{path}: Kiro connects to streamable-http and sse remotes only, not {remote.Type}");
            return null;
        }

        var before = reasons.Count;
        var url = Substitute(remote.Url, remote.Variables, path + ".url", reasons, fixedOnly: true);
        var headers = FixedValues(remote.Headers, path + ".headers", "header", reasons, secretsAllowed: false);
        if (reasons.Count > before)
        {
            return null;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            reasons.Add($"{path}.url: Kiro needs an https URL, not \"{url}\"");
            return null;
        }

        return w =>
        {
            w.WriteStartArray("remotes");
            w.WriteStartObject();
            w.WriteString("type", remote.Type);
            w.WriteString("url", url);
            WriteNameValues(w, "headers", headers!);
            w.WriteEndObject();
            w.WriteEndArray();
        };
    }

    /// <summary>
    /// Arguments as fixed positional values: a positional argument's value (else its default); a named one becomes its
    /// name then its value, a boolean flag its name alone when true (as the launcher builds them). An optional argument
    /// without a value is left out, as the launcher leaves it out; a required one is a reason the entry cannot be expressed.
    /// </summary>
    private static List<string>? FixedArguments(IReadOnlyList<Argument>? arguments, string path, List<string> reasons)
    {
        var result = new List<string>();
        var before = reasons.Count;
        for (var i = 0; i < (arguments?.Count ?? 0); i++)
        {
            var argument = arguments![i];
            var argumentPath = $"{path}[{i}]";
            var label = argument.IsNamed ? $"named argument \"{argument.Name}\"" : $"argument \"{argument.ValueHint ?? argument.Value ?? "?"}\"";
            var raw = argument.Value ?? argument.Default;
            if (raw is null)
            {
                if (argument.Required)
                {
                    reasons.Add($"{argumentPath}: the required {label} has no fixed value; Kiro cannot ask the user for it");
                }

                continue;
            }

            if (argument.Secret)
            {
                reasons.Add($"{argumentPath}: the {label} is secret; a secret is not published in a registry file");
                continue;
            }

            var value = Substitute(raw, argument.Variables, argumentPath, reasons, fixedOnly: true);
            if (value is null)
            {
                continue;
            }

            if (!argument.IsNamed)
            {
                result.Add(value);
            }
            else if (argument.Format == InputFormats.Boolean)
            {
                if (value == "true")
                {
                    result.Add(argument.Name!);
                }
            }
            else
            {
                result.Add(argument.Name!);
                result.Add(value);
            }
        }

        return reasons.Count > before ? null : result;
    }

    private static List<KeyValuePair<string, string>>? FixedValues(IReadOnlyList<KeyValueInput>? inputs, string path, string kind, List<string> reasons, bool secretsAllowed)
    {
        var result = new List<KeyValuePair<string, string>>();
        var before = reasons.Count;
        for (var i = 0; i < (inputs?.Count ?? 0); i++)
        {
            var input = inputs![i];
            var inputPath = $"{path}[{i}]";
            var raw = input.Value ?? input.Default;
            if (raw is null)
            {
                if (input.Required)
                {
                    reasons.Add($"{inputPath}: the required {kind} {input.Name} has no fixed value; the host cannot ask the user for it");
                }

                continue;
            }

            if (input.Secret && !secretsAllowed)
            {
                reasons.Add($"{inputPath}: the {kind} {input.Name} is secret; a secret is not published in an export");
                continue;
            }

            if (Substitute(raw, input.Variables, inputPath, reasons, fixedOnly: true) is { } value)
            {
                result.Add(new KeyValuePair<string, string>(input.Name, value));
            }
        }

        return reasons.Count > before ? null : result;
    }

    /// <summary>
    /// Replaces each declared <c>{variable}</c> with its fixed value (else its default when <paramref name="fixedOnly"/>);
    /// one that has neither is a reason. An undeclared <c>{x}</c> stays as written, as the launcher leaves it.
    /// </summary>
    private static string? Substitute(string text, IReadOnlyDictionary<string, Input>? variables, string path, List<string> reasons, bool fixedOnly)
    {
        var result = text;
        foreach (var name in UrlTemplates.Variables(text).Distinct(StringComparer.Ordinal))
        {
            if (variables is null || !variables.TryGetValue(name, out var variable))
            {
                continue;
            }

            var value = variable.Value ?? (fixedOnly ? variable.Default : null);
            if (value is null || variable.Secret)
            {
                reasons.Add($"{path}: the variable {{{name}}} has no fixed value{(variable.Secret ? " (or is secret)" : "")}; the host cannot ask the user for it");
                return null;
            }

            result = result.Replace("{" + name + "}", value, StringComparison.Ordinal);
        }

        return result;
    }

    private static void WritePositional(Utf8JsonWriter w, string property, List<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        w.WriteStartArray(property);
        foreach (var value in values)
        {
            w.WriteStartObject();
            w.WriteString("type", ArgumentTypes.Positional);
            w.WriteString("value", value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteNameValues(Utf8JsonWriter w, string property, List<KeyValuePair<string, string>> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        w.WriteStartArray(property);
        foreach (var (name, value) in values)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("value", value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    // ---------------------------------------------------------------- Claude Code managed-mcp.json

    /// <summary>
    /// Claude Code's <c>managed-mcp.json</c>: <c>{"mcpServers": {name: {...}}}</c>. Gateway mode: every admitted entry as
    /// <c>{"type":"stdio","command":"steward","args":["gateway","--server",registry name]}</c>. Direct mode:
    /// <c>{"type":"stdio","command","args","env"} | {"type":"http"|"sse","url","headers"}</c> from the first package the
    /// launch planner can plan without user input, else the first remote; a secret environment variable becomes a
    /// <c>${NAME}</c> reference that Claude Code expands from the user's environment. MCP off: <c>{"mcpServers": {}}</c>.
    /// </summary>
    public static ExportResult ClaudeManagedMcp(IReadOnlyList<ServerDetail> admitted, ProfileSettings settings, ExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        ArgumentNullException.ThrowIfNull(settings);
        options ??= ExportOptions.DirectMode;
        var notes = new List<string>();
        var skipped = new List<SkippedEntry>();
        if (!settings.McpEnabled)
        {
            notes.Add("MCP is disabled in this profile: {\"mcpServers\": {}} turns MCP off in Claude Code");
            admitted = [];
        }

        var servers = Servers(admitted, options, skipped, notes);
        var document = RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("mcpServers");
            foreach (var server in servers)
            {
                w.WriteStartObject(server.Key);
                if (server.Gateway is { } argv)
                {
                    w.WriteString("type", "stdio");
                    WriteCommand(w, argv);
                }
                else if (server.Local is { } local)
                {
                    w.WriteString("type", "stdio");
                    WriteCommand(w, [local.Command, .. local.Args]);
                    WriteEnvironment(w, "env", local);
                }
                else
                {
                    var remote = server.Remote!;
                    w.WriteString("type", remote.Type == TransportTypes.Sse ? "sse" : "http");
                    w.WriteString("url", remote.Url);
                    WriteHeaders(w, remote);
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        });
        return new ExportResult(document, skipped, notes, servers.Count);
    }

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

    /// <summary>
    /// Claude Code managed settings and GitHub Copilot's <c>managed-settings.json</c>. Gateway mode:
    /// <c>allowedMcpServers</c> admits exactly <c>{"serverCommand": ["steward","gateway","--server",name]}</c> per
    /// admitted entry (no upstream argv or URL, so only the gateway may start a server). Direct mode: a
    /// <c>serverCommand</c> per plannable package and a <c>serverUrl</c> per remote of each admitted entry. Both:
    /// <c>deniedMcpServers</c> with the upstream matchers of deleted (revoked) versions (and, in gateway mode, the
    /// gateway argv of a revoked name with no admitted version). MCP off: <c>allowedMcpServers: []</c>. Registry mode
    /// none: no <c>allowedMcpServers</c> (nothing is restricted). Claude Code only: web tools off adds
    /// <c>permissions.deny: ["WebFetch", "WebSearch"]</c>, and the profile's deny and ask tool rules that name one tool or
    /// a whole server go to <c>permissions.deny</c> / <c>permissions.ask</c> (<see cref="ToolRulePermissions"/>).
    /// </summary>
    public static ExportResult ManagedSettings(IReadOnlyList<ServerDetail> admitted, IReadOnlyList<ServerDetail> revoked, ProfileSettings settings, bool claude, ExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        ArgumentNullException.ThrowIfNull(revoked);
        ArgumentNullException.ThrowIfNull(settings);
        options ??= ExportOptions.DirectMode;
        var notes = new List<string>();
        var skipped = new List<SkippedEntry>();
        var allowCommands = new List<string[]>();
        var allowUrls = new List<string>();
        var exported = 0;
        if (!settings.McpEnabled)
        {
            notes.Add("MCP is disabled in this profile: allowedMcpServers is [] (no server may run)");
        }
        else
        {
            if (settings.RegistryMode == RegistryModes.None)
            {
                notes.Add("registry mode is none: allowedMcpServers is left out, so the host allows every server not denied");
            }

            foreach (var server in admitted)
            {
                var reasons = new List<string>();
                var (commands, urls) = options.IsGateway ? ([options.GatewayArgv(server.Name)], []) : Matchers(server, reasons);
                if (commands.Count + urls.Count == 0)
                {
                    skipped.Add(new SkippedEntry(server.Name, server.Version, reasons));
                    continue;
                }

                if (reasons.Count > 0)
                {
                    notes.Add($"{server.Name}@{server.Version}: only part of the entry is allowed; {string.Join("; ", reasons)}");
                }

                exported++;
                allowCommands.AddRange(commands);
                allowUrls.AddRange(urls);
            }
        }

        var denyCommands = new List<string[]>();
        var denyUrls = new List<string>();
        foreach (var server in revoked)
        {
            var (commands, urls) = Matchers(server, []);
            if (options.IsGateway && !admitted.Any(a => a.Name == server.Name))
            {
                commands.Add(options.GatewayArgv(server.Name));
            }

            denyCommands.AddRange(commands.Where(c => !allowCommands.Any(a => a.SequenceEqual(c, StringComparer.Ordinal))));
            denyUrls.AddRange(urls.Where(u => !allowUrls.Contains(u, StringComparer.Ordinal)));
        }

        var document = RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            if (!settings.McpEnabled || settings.RegistryMode != RegistryModes.None)
            {
                WriteMatchers(w, "allowedMcpServers", Distinct(allowCommands), allowUrls.Distinct(StringComparer.Ordinal));
            }

            WriteMatchers(w, "deniedMcpServers", Distinct(denyCommands), denyUrls.Distinct(StringComparer.Ordinal));
            var toolRules = claude ? ToolRulePermissions.ForClaude(settings.ToolRules, HostServerNames.Keys(admitted.Select(s => s.Name))) : null;
            List<string> deny = claude && !settings.WebToolsEnabled ? ["WebFetch", "WebSearch"] : [];
            deny.AddRange(toolRules?.Deny ?? []);
            var ask = toolRules?.Ask ?? [];
            if (deny.Count + ask.Count > 0)
            {
                w.WriteStartObject("permissions");
                if (deny.Count > 0)
                {
                    w.WriteStartArray("deny");
                    deny.ForEach(w.WriteStringValue);
                    w.WriteEndArray();
                }

                if (ask.Count > 0)
                {
                    w.WriteStartArray("ask");
                    foreach (var rule in ask)
                    {
                        w.WriteStringValue(rule);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
        if (!claude && !settings.WebToolsEnabled)
        {
            notes.Add("web tools are off in this profile; Copilot's managed settings have no switch for them");
        }

        return new ExportResult(document, skipped, notes, exported);
    }

    private static IEnumerable<string[]> Distinct(List<string[]> commands) =>
        commands.DistinctBy(c => string.Join('\0', c), StringComparer.Ordinal);

    private static void WriteMatchers(Utf8JsonWriter w, string property, IEnumerable<string[]> commands, IEnumerable<string> urls)
    {
        w.WriteStartArray(property);
        foreach (var command in commands)
        {
            w.WriteStartObject();
            w.WriteStartArray("serverCommand");
            foreach (var part in command)
            {
                w.WriteStringValue(part);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        foreach (var url in urls)
        {
            w.WriteStartObject();
            w.WriteString("serverUrl", url);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    // ---------------------------------------------------------------- Cursor

    /// <summary>
    /// Cursor's team allowlist, as <c>{"mcpAllowlistCommands": [...], "mcpAllowlistUrls": [...]}</c>: a command entry is
    /// <c>*</c> then the argv joined by spaces (Cursor matches the full command string and usually resolves <c>npx</c>
    /// to an absolute path, hence the leading <c>*</c>); a URL entry is the remote URL with <c>*</c> for each variable.
    /// MCP off: both lists empty. Gateway mode: one command per admitted entry, <c>steward gateway --server name</c> (with
    /// the leading <c>*</c> only for a bare command, which Cursor resolves on PATH), and no URL.
    /// </summary>
    public static ExportResult Cursor(IReadOnlyList<ServerDetail> admitted, ProfileSettings settings, ExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        ArgumentNullException.ThrowIfNull(settings);
        options ??= ExportOptions.DirectMode;
        var notes = new List<string>();
        var skipped = new List<SkippedEntry>();
        var commands = new List<string>();
        var urls = new List<string>();
        var exported = 0;
        if (!settings.McpEnabled)
        {
            notes.Add("MCP is disabled in this profile: both allowlists are empty");
            admitted = [];
        }

        foreach (var server in admitted)
        {
            var reasons = new List<string>();
            if (options.IsGateway)
            {
                var argv = options.GatewayArgv(server.Name);
                var bare = ExportModes.CommandProblem(options.Command) is null && !options.Command.Contains('/', StringComparison.Ordinal) && !options.Command.Contains('\\', StringComparison.Ordinal);
                commands.Add((bare ? "*" : "") + string.Join(' ', argv));
                exported++;
                continue;
            }

            var (argvs, patterns) = Matchers(server, reasons);
            if (argvs.Count + patterns.Count == 0)
            {
                skipped.Add(new SkippedEntry(server.Name, server.Version, reasons));
                continue;
            }

            if (reasons.Count > 0)
            {
                notes.Add($"{server.Name}@{server.Version}: only part of the entry is allowed; {string.Join("; ", reasons)}");
            }

            exported++;
            commands.AddRange(argvs.Select(a => "*" + string.Join(' ', a)));
            urls.AddRange(patterns);
        }

        var document = RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("mcpAllowlistCommands");
            foreach (var command in commands.Distinct(StringComparer.Ordinal))
            {
                w.WriteStringValue(command);
            }

            w.WriteEndArray();
            w.WriteStartArray("mcpAllowlistUrls");
            foreach (var url in urls.Distinct(StringComparer.Ordinal))
            {
                w.WriteStringValue(url);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        return new ExportResult(document, skipped, notes, exported);
    }

    // ---------------------------------------------------------------- Gemini CLI

    /// <summary>
    /// Gemini CLI's system settings (<c>/etc/gemini-cli/settings.json</c>): <c>mcpServers</c> under flat names and
    /// <c>mcp.allowed</c> naming exactly those servers. Gemini matches <c>mcp.allowed</c> by name only; what stops a
    /// user's server that reuses an allowed name with another command is that system settings override the user's and
    /// the workspace's entry of the same name (and, in gateway mode, that the gateway runs only what the policy admits).
    /// Gateway mode: <c>{"command":"steward","args":["gateway","--server",name]}</c> per admitted entry. Direct mode: the
    /// planner's <c>command</c>/<c>args</c>/<c>env</c>, else <c>httpUrl</c> (streamable HTTP) or <c>url</c> (SSE) with
    /// <c>headers</c>. MCP off: no server and <c>admin.mcp.enabled: false</c>.
    /// </summary>
    public static ExportResult Gemini(IReadOnlyList<ServerDetail> admitted, ProfileSettings settings, ExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(admitted);
        ArgumentNullException.ThrowIfNull(settings);
        options ??= ExportOptions.DirectMode;
        var notes = new List<string>();
        var skipped = new List<SkippedEntry>();
        if (!settings.McpEnabled)
        {
            notes.Add("MCP is disabled in this profile: no server, and admin.mcp.enabled is false");
            admitted = [];
        }

        if (!settings.WebToolsEnabled)
        {
            notes.Add("web tools are off in this profile; the gateway refuses web-tool servers, but Gemini's own web tools are switched off with tools.exclude by the admin");
        }

        var servers = Servers(admitted, options, skipped, notes);
        if (settings.McpEnabled && settings.RegistryMode == RegistryModes.None)
        {
            notes.Add("registry mode is none: mcp.allowed is left out, so Gemini allows every server");
        }
        else if (settings.McpEnabled && servers.Count == 0)
        {
            notes.Add("no server can be listed: admin.mcp.enabled is false, as an empty mcp.allowed would allow every server");
        }

        var document = RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("mcpServers");
            foreach (var server in servers)
            {
                w.WriteStartObject(server.Key);
                if (server.Gateway is { } argv)
                {
                    WriteCommand(w, argv);
                }
                else if (server.Local is { } local)
                {
                    WriteCommand(w, [local.Command, .. local.Args]);
                    WriteEnvironment(w, "env", local);
                }
                else
                {
                    var remote = server.Remote!;
                    w.WriteString(remote.Type == TransportTypes.Sse ? "url" : "httpUrl", remote.Url);
                    WriteHeaders(w, remote);
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
            if (settings.RegistryMode != RegistryModes.None || !settings.McpEnabled)
            {
                // An empty mcp.allowed restricts nothing in Gemini; with no server to allow, MCP is switched off below.
                w.WriteStartObject("mcp");
                w.WriteStartArray("allowed");
                foreach (var server in servers)
                {
                    w.WriteStringValue(server.Key);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            if (servers.Count == 0)
            {
                w.WriteStartObject("admin");
                w.WriteStartObject("mcp");
                w.WriteBoolean("enabled", false);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
        return new ExportResult(document, skipped, notes, servers.Count);
    }

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
