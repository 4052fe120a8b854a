using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Steward.Agent.Policy;
using Steward.Agent.Servers;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Json;

namespace Steward.Agent.Scan;

/// <summary>What a scan looks at: the home and workspace roots, Steward's own files, the policy, and the environment.</summary>
/// <param name="Policy">The last verified policy snapshot (in force or not); null when there is none.</param>
/// <param name="PolicyNote">Why the policy is not in force, when it is not (shown with the report).</param>
public sealed record ScanOptions(
    string Home,
    string Workspace,
    StewardPaths Paths,
    PolicySnapshot? Policy,
    string? PolicyNote,
    Func<string, string?> Variables)
{
    /// <summary>This Steward's executable: an entry that launches its gateway is governed by it.</summary>
    public string? StewardExecutable { get; init; } = Environment.ProcessPath;

    /// <summary>What this machine has (runners on PATH); detected when not given.</summary>
    public Core.Admission.LocalFacts? Facts { get; init; }
}

/// <summary>
/// <c>steward scan</c>: finds the MCP configuration files of every host this machine may run (<see cref="Targets"/>), and
/// for each server reports its admission against the policy, clear-text secrets in <c>env</c>, <c>headers</c> (and known
/// token shapes in <c>args</c>), references to unset variables, and files other users can read. Reading only: fixes are
/// <see cref="ScanFixer"/>'s.
/// </summary>
public static partial class Scanner
{
    /// <summary>The largest configuration file read (Claude Code's <c>~/.claude.json</c> holds history and can be large).</summary>
    public const long MaxFileBytes = JsonLimits.DefaultMaxBytes;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static readonly JsonDocumentOptions Lenient = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = JsonLimits.DefaultMaxDepth };

    /// <summary>
    /// Where each host keeps its configuration, user scope under <paramref name="home"/>, workspace scope under
    /// <paramref name="workspace"/>. Claude Desktop and VS Code list both their Linux and macOS user paths (only files that
    /// exist are read); on Windows they live under <c>%APPDATA%</c>, which <c>--home</c> does not move.
    /// </summary>
    public static IReadOnlyList<ScanTarget> Targets(string home, string workspace, StewardPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var appData = Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData);
        var targets = new List<ScanTarget>
        {
            new(ScanHost.Steward, "user", paths.UserMcpConfig),
            new(ScanHost.Steward, "workspace", Path.Combine(workspace, StewardPaths.WorkspaceDirectoryName, "mcp.json")),
            new(ScanHost.Kiro, "user", Path.Combine(home, ".kiro", "settings", "mcp.json")),
            new(ScanHost.Kiro, "workspace", Path.Combine(workspace, ".kiro", "settings", "mcp.json")),
            new(ScanHost.ClaudeCode, "user", Path.Combine(home, ".claude.json")),
            new(ScanHost.ClaudeCode, "workspace", Path.Combine(workspace, ".mcp.json")),
            new(ScanHost.ClaudeDesktop, "user", Path.Combine(home, ".config", "Claude", "claude_desktop_config.json")),
            new(ScanHost.ClaudeDesktop, "user", Path.Combine(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")),
            new(ScanHost.VsCode, "user", Path.Combine(home, ".config", "Code", "User", "mcp.json")),
            new(ScanHost.VsCode, "user", Path.Combine(home, "Library", "Application Support", "Code", "User", "mcp.json")),
            new(ScanHost.VsCode, "workspace", Path.Combine(workspace, ".vscode", "mcp.json")),
            new(ScanHost.Cursor, "user", Path.Combine(home, ".cursor", "mcp.json")),
            new(ScanHost.Cursor, "workspace", Path.Combine(workspace, ".cursor", "mcp.json")),
            new(ScanHost.Windsurf, "user", Path.Combine(home, ".codeium", "windsurf", "mcp_config.json")),
        };
        if (OperatingSystem.IsWindows() && appData.Length > 0)
        {
            targets.Add(new(ScanHost.ClaudeDesktop, "user", Path.Combine(appData, "Claude", "claude_desktop_config.json")));
            targets.Add(new(ScanHost.VsCode, "user", Path.Combine(appData, "Code", "User", "mcp.json")));
        }

        return targets.DistinctBy(t => Path.GetFullPath(t.Path)).ToList();
    }

    public static ScanReport Scan(ScanOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var files = new List<ScannedFile>();
        var servers = new List<ScannedServer>();
        var findings = new List<ScanFinding>();
        var evaluator = options.Policy is { } policy ? new AdmissionPlanner(policy.Admission, options.Facts ?? LocalRunners.Detect()) : null;
        var secrets = LoadSecrets(options.Paths);
        var names = new VariableNames(options.Variables);
        foreach (var target in Targets(options.Home, options.Workspace, options.Paths))
        {
            ScanFile(target, options, evaluator, secrets, names, files, servers, findings);
        }

        var note = options.Policy is null
            ? "no policy: " + (options.PolicyNote ?? "this machine is not logged in") + "; every server is reported as not identifiable (run `steward login`, then scan again)"
            : options.PolicyNote;
        return new ScanReport(files, servers, findings, note);
    }

    private static void ScanFile(ScanTarget target, ScanOptions options, AdmissionPlanner? evaluator, SecretStore? secrets, VariableNames names,
        List<ScannedFile> files, List<ScannedServer> servers, List<ScanFinding> findings)
    {
        var path = target.Path;
        if (!File.Exists(path))
        {
            return;
        }

        string? mode = null;
        if (!OperatingSystem.IsWindows())
        {
            var unixMode = File.GetUnixFileMode(path);
            mode = Convert.ToString((int)unixMode & 0x1FF, 8).PadLeft(4, '0');
            if ((unixMode & GroupOrOther) != 0)
            {
                findings.Add(new ScanFinding(ScanRules.FilePermissions, path,
                    $"{path} has mode {mode}: other users on this machine can read it (and any credential in it); it should be 0600")
                {
                    Host = target.Host.Id,
                    Fix = new ScanFix.Permissions(),
                });
            }
        }

        byte[] bytes;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxFileBytes)
            {
                Unreadable($"{path} is {length.ToString("N0", CultureInfo.InvariantCulture)} bytes, over the limit of {MaxFileBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes; its servers were not checked");
                return;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Unreadable($"{path} cannot be read: {e.Message}");
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes.AsMemory(bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0), Lenient);
        }
        catch (JsonException e)
        {
            Unreadable($"{path} is not valid JSON ({e.Message}); its servers were not checked");
            return;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                Unreadable($"{path} is not a JSON object; its servers were not checked");
                return;
            }

            // Kiro and Steward files are read as the gateway reads them (registry entries included).
            McpConfig? kiro = null;
            if (target.Host == ScanHost.Kiro || target.Host == ScanHost.Steward)
            {
                var read = McpConfigReader.Read(bytes);
                if (read.Failure is { } failure)
                {
                    Unreadable($"{path}: {failure}; its servers were not checked");
                    return;
                }

                kiro = read.Config;
            }

            var before = servers.Count;
            var root = document.RootElement;
            ScanServers(target, root, [target.Host.ServersKey], kiro, bytes, options, evaluator, secrets, names, servers, findings);
            if (target.Host == ScanHost.ClaudeCode && root.TryGetProperty("projects", out var projects) && projects.ValueKind == JsonValueKind.Object)
            {
                foreach (var project in projects.EnumerateObject())
                {
                    if (project.Value.ValueKind == JsonValueKind.Object)
                    {
                        ScanServers(target, project.Value, ["projects", project.Name, "mcpServers"], null, bytes, options, evaluator, secrets, names, servers, findings);
                    }
                }
            }

            files.Add(new ScannedFile(target.Host.Id, target.Scope, path, mode, servers.Count - before));
        }

        void Unreadable(string message) =>
            findings.Add(new ScanFinding(ScanRules.UnreadableConfig, path, message) { Host = target.Host.Id });
    }

    private static void ScanServers(ScanTarget target, JsonElement container, IReadOnlyList<string> serversPath, McpConfig? kiro, byte[] bytes,
        ScanOptions options, AdmissionPlanner? evaluator, SecretStore? secrets, VariableNames names, List<ScannedServer> servers, List<ScanFinding> findings)
    {
        var key = serversPath[^1];
        if (!container.TryGetProperty(key, out var map) || map.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in map.EnumerateObject())
        {
            if (!seen.Add(entry.Name) || entry.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var name = entry.Name;
            IReadOnlyList<string> entryPath = [.. serversPath, name];
            var where = new Where(target, bytes, name);
            var warnings = new List<string>();
            var config = kiro is not null
                ? kiro.Find(name)
                : HostImport.ConvertEntry(name, entry.Value, target.Host == ScanHost.VsCode ? "vscode" : target.Host.Id, options.Workspace, warnings, target.Path);
            CheckValues(where, entry.Value, entryPath, options, secrets, names, findings);
            servers.Add(Admission(where, config, entryPath, serversPath, options, evaluator, findings));
        }
    }

    /// <summary>Steward's secrets file, which its own <c>${VAR}</c> references may name; null when it cannot be read.</summary>
    private static SecretStore? LoadSecrets(StewardPaths paths)
    {
        try
        {
            return SecretStore.Load(paths);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>Secrets in env and headers (and token shapes in args), unset references everywhere.</summary>
    private static void CheckValues(Where where, JsonElement entry, IReadOnlyList<string> entryPath, ScanOptions options, SecretStore? secrets, VariableNames names, List<ScanFinding> findings)
    {
        foreach (var field in new[] { "env", "headers" })
        {
            if (!entry.TryGetProperty(field, out var map) || map.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            foreach (var item in map.EnumerateObject())
            {
                if (item.Value.ValueKind != JsonValueKind.String)
                {
                    continue;
                }

                IReadOnlyList<string> path = [.. entryPath, field, item.Name];
                var value = item.Value.GetString()!;
                Unset(where, path, value, options, secrets, findings);
                if (SecretDetector.Find(item.Name, value) is { } match)
                {
                    findings.Add(SecretFinding(where, path, match, field, item.Name, value, names));
                }
            }
        }

        foreach (var field in new[] { "command", "url", "serverUrl" })
        {
            if (entry.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String)
            {
                Unset(where, [.. entryPath, field], value.GetString()!, options, secrets, findings);
            }
        }

        if (entry.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var arg in args.EnumerateArray())
            {
                if (arg.ValueKind == JsonValueKind.String)
                {
                    var text = arg.GetString()!;
                    IReadOnlyList<string> path = [.. entryPath, "args"];
                    Unset(where, path, text, options, secrets, findings);
                    if (SecretDetector.FindShape(text) is { } match)
                    {
                        findings.Add(where.Finding(ScanRules.HardcodedSecret, path,
                            $"\"{where.Server}\" passes a {Describe(match.Kind)} ({match.Redacted}) in clear text as args[{index}]; pass it through env as a ${{VAR}} reference instead") with
                        {
                            SecretKind = match.Kind,
                            Redacted = match.Redacted,
                        });
                    }
                }

                index++;
            }
        }
    }

    private static ScanFinding SecretFinding(Where where, IReadOnlyList<string> path, SecretMatch match, string field, string key, string value, VariableNames names)
    {
        var credential = SecretDetector.CredentialPart(value);
        var variable = names.For(field == "env" && EnvReferences.IsName(key) ? key : where.Server + "_" + key, where.Server, credential);
        var reference = where.Target.Host.Reference(variable);
        ScanFix? fix = reference is null ? null : new ScanFix.Secret(path, variable, value.Replace(credential, reference, StringComparison.Ordinal), new SecretValue(credential));
        var advice = reference is null
            ? $"{where.Target.Host.DisplayName} does not expand references: add the server with `steward mcp add` (its secrets are kept in a 0600 file) and remove it here"
            : $"use {reference} and set {variable} in the environment (`steward scan --fix` does this)";
        return where.Finding(ScanRules.HardcodedSecret, path,
            $"\"{where.Server}\" has a {Describe(match.Kind)} ({match.Redacted}) in clear text in {field}.{key}; {advice}") with
        {
            SecretKind = match.Kind,
            Redacted = match.Redacted,
            Fix = fix,
        };
    }

    private static string Describe(string kind) => kind switch
    {
        "github-token" => "GitHub token",
        "aws-access-key-id" => "AWS access key id",
        "aws-secret-access-key" => "AWS secret access key",
        "slack-token" => "Slack token",
        "anthropic-api-key" => "Anthropic API key",
        "openai-api-key" => "OpenAI API key",
        _ => "long random value that looks like a credential",
    };

    private static void Unset(Where where, IReadOnlyList<string> path, string value, ScanOptions options, SecretStore? secrets, List<ScanFinding> findings)
    {
        var referenced = where.Target.Host == ScanHost.VsCode || where.Target.Host == ScanHost.Cursor || where.Target.Host == ScanHost.Windsurf
            ? VsCodeEnvReference().Matches(value).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToList()
            : EnvReferences.Names(value);
        foreach (var name in referenced)
        {
            if (options.Variables(name) is null && !(where.Target.Host == ScanHost.Steward && secrets?.Get(name) is not null))
            {
                findings.Add(where.Finding(ScanRules.UnsetVariable, path,
                    $"\"{where.Server}\" refers to ${{{name}}}, which is not set in this environment; the server will not get the value"));
            }
        }
    }

    private static ScannedServer Admission(Where where, McpServerConfig? config, IReadOnlyList<string> entryPath, IReadOnlyList<string> serversPath,
        ScanOptions options, AdmissionPlanner? evaluator, List<ScanFinding> findings)
    {
        var host = where.Target.Host;
        var jsonPath = entryPath.Aggregate("", JsonPath.Field);
        ScannedServer Server(string admission, string? reason, string message, string? registryName = null) =>
            new(host.Id, where.Target.Path, where.Server, jsonPath, admission, reason, message, registryName);

        if (config is null)
        {
            var unidentified = $"\"{where.Server}\" has neither a command nor a url that Steward can read";
            findings.Add(where.Finding(ScanRules.UnidentifiableServer, entryPath, unidentified));
            return Server("not-identifiable", AdmissionReasons.InvalidConfig, unidentified);
        }

        // Only Kiro and Steward honour "disabled"; elsewhere the flag is ignored by the host, so the entry counts as live.
        var disabled = config.IsDisabled && host.HonoursDisabled;
        config = config with { Disabled = null };
        if (options.Policy is null || evaluator is null)
        {
            var message = $"\"{where.Server}\" is not identifiable: no policy";
            findings.Add(where.Finding(ScanRules.NoPolicy, entryPath, message));
            return Server("not-identifiable", "no_policy", message);
        }

        var fix = new ScanFix.Disable(serversPath, where.Server);
        if (!options.Policy.McpEnabled)
        {
            var off = $"\"{where.Server}\" is not admitted: MCP is disabled by the profile";
            if (disabled)
            {
                return Server("disabled", "mcp_disabled", off + " (already disabled)");
            }

            findings.Add(where.Finding(ScanRules.ShadowServer, entryPath, off) with { Fix = fix });
            return Server("not-admitted", "mcp_disabled", off);
        }

        // An entry that launches this Steward's own gateway (as `steward mcp export-host` writes) is governed: the
        // gateway admits only approved servers at run time. A program merely named steward elsewhere is not trusted.
        if (GatewayEntry(config) is { } gatewayPath)
        {
            if (SameFile(gatewayPath, options.StewardExecutable))
            {
                return Server(disabled ? "disabled" : "admitted", null, $"\"{where.Server}\" runs through the Steward gateway, which starts only admitted servers");
            }

            var elsewhere = $"\"{where.Server}\" runs a steward gateway at {gatewayPath}, which is not this Steward ({options.StewardExecutable}); check that it is a Steward installation";
            findings.Add(where.Finding(ScanRules.UnidentifiableServer, entryPath, elsewhere));
            return Server("not-identifiable", "other_gateway", elsewhere);
        }

        var answer = evaluator.Decide(where.Server, config);
        if (answer.Refusal is { } refusal && answer.Decision is not AdmissionDecision.Blocked)
        {
            // Identified as an approved server, and still refused (web tools off, plain http, a runner missing here):
            // what the gateway would say. Not a shadow server, so no finding to disable it.
            return Server(disabled ? "disabled" : "not-admitted", refusal.ReasonCode,
                $"\"{where.Server}\" is not admitted: {refusal.Message}{(disabled ? " (disabled in the file)" : "")}",
                answer.Decision is AdmissionDecision.Allowed a ? a.RegistryName : (answer.Decision as AdmissionDecision.Relaunch)?.RegistryName);
        }

        var decision = answer.Decision;
        switch (decision)
        {
            case AdmissionDecision.Allowed allowed:
                return Server(disabled ? "disabled" : "admitted", null, $"\"{where.Server}\" is admitted as {allowed.RegistryName} {allowed.Version}{(disabled ? " (disabled in the file)" : "")}", allowed.RegistryName);
            case AdmissionDecision.Relaunch relaunch:
                return Server(disabled ? "disabled" : "admitted", null,
                    $"\"{where.Server}\" is admitted as {relaunch.RegistryName}, at an older version than the latest ({relaunch.Version}); the gateway runs the latest", relaunch.RegistryName);
            case AdmissionDecision.Blocked blocked:
                // What runs depends on a reference (a command or URL read from the environment): it cannot be matched as written.
                var dependsOnEnvironment = (config.Command is { } command && EnvReferences.HasReferences(command)) || (config.Url is { } url && EnvReferences.HasReferences(url));
                var identifiable = !dependsOnEnvironment &&
                                   blocked.ReasonCode is not (AdmissionReasons.UnresolvedReference or AdmissionReasons.InvalidConfig or AdmissionReasons.NoRunnableTransport);
                if (disabled)
                {
                    return Server("disabled", blocked.ReasonCode, $"\"{where.Server}\" is disabled in the file (it would not be admitted: {blocked.Message})");
                }

                if (!identifiable)
                {
                    var text = $"\"{where.Server}\" is not identifiable: {blocked.Message}";
                    findings.Add(where.Finding(ScanRules.UnidentifiableServer, entryPath, text));
                    return Server("not-identifiable", blocked.ReasonCode, text);
                }

                var shadow = $"\"{where.Server}\" in {host.DisplayName} is not admitted (a shadow server): {blocked.Message}";
                findings.Add(where.Finding(ScanRules.ShadowServer, entryPath, shadow) with { Fix = fix });
                return Server("not-admitted", blocked.ReasonCode, shadow);
            default:
                return Server("not-identifiable", null, $"\"{where.Server}\": unexpected decision");
        }
    }

    /// <summary>The executable of a <c>steward gateway …</c> entry (<c>steward gateway</c> or <c>dotnet steward.dll gateway</c>); null for anything else.</summary>
    private static string? GatewayEntry(McpServerConfig config)
    {
        var args = config.Args ?? [];
        if (config.Command is not { } command)
        {
            return null;
        }

        var name = Path.GetFileName(command);
        if ((name is "steward" or "steward.exe") && args.Length > 0 && args[0] == "gateway")
        {
            return command;
        }

        return name is "dotnet" or "dotnet.exe" && args.Length > 1 && Path.GetFileName(args[0]) == "steward.dll" && args[1] == "gateway"
            ? args[0]
            : null;
    }

    private static bool SameFile(string configured, string? running)
    {
        if (running is null)
        {
            return false;
        }

        var resolved = Path.IsPathRooted(configured) ? configured : ResolveOnPath(configured);
        if (resolved is null)
        {
            return false;
        }

        var runningPath = Path.GetFullPath(running);
        var runningDll = Path.ChangeExtension(runningPath, ".dll");
        var full = Path.GetFullPath(resolved);
        return string.Equals(full, runningPath, StringComparison.Ordinal) || string.Equals(full, runningDll, StringComparison.Ordinal);
    }

    private static string? ResolveOnPath(string command)
    {
        if (command.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, command);
            if (File.Exists(candidate))
            {
                return new FileInfo(candidate).LinkTarget is { } target ? Path.GetFullPath(target, dir) : candidate;
            }
        }

        return null;
    }

    /// <summary>The file and server a finding is about, and the line of a JSON path in the file.</summary>
    private sealed record Where(ScanTarget Target, byte[] Bytes, string Server)
    {
        public ScanFinding Finding(string rule, IReadOnlyList<string> path, string message)
        {
            long? line = null, column = null;
            if (JsonTextEdit.Locate(Bytes, path) is { } span)
            {
                var offset = (int)(span.NameStart >= 0 ? span.NameStart : span.ValueStart);
                var before = Bytes.AsSpan(0, offset);
                line = before.Count((byte)'\n') + 1;
                column = offset - before.LastIndexOf((byte)'\n');
            }

            return new ScanFinding(rule, Target.Path, message) { Host = Target.Host.Id, Path = path, Server = Server, Line = line, Column = column };
        }
    }

    /// <summary>Environment variable names for secrets moved out of files: one name per distinct value, never reusing a set variable for another value.</summary>
    private sealed class VariableNames(Func<string, string?> variables)
    {
        private readonly Dictionary<string, string> taken = new(StringComparer.Ordinal);

        public string For(string wanted, string server, string value)
        {
            var baseName = Sanitize(wanted);
            foreach (var candidate in Candidates(baseName, server))
            {
                var existing = taken.TryGetValue(candidate, out var held) ? held : variables(candidate);
                if (existing is null || existing == value)
                {
                    taken[candidate] = value;
                    return candidate;
                }
            }

            throw new InvalidOperationException("no free variable name");
        }

        private static IEnumerable<string> Candidates(string baseName, string server)
        {
            yield return baseName;
            var withServer = Sanitize(server) + "_" + baseName;
            yield return withServer;
            for (var i = 2; i < 1000; i++)
            {
                yield return withServer + "_" + i.ToString(CultureInfo.InvariantCulture);
            }
        }

        private static string Sanitize(string text)
        {
            var chars = text.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_').ToArray();
            var name = new string(chars).Trim('_');
            return name.Length == 0 ? "SECRET" : char.IsAsciiDigit(name[0]) ? "_" + name : name;
        }
    }

    [GeneratedRegex(@"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", RegexOptions.CultureInvariant)]
    private static partial Regex VsCodeEnvReference();
}
