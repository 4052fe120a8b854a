using Steward.Core.Json;

namespace Steward.Agent.Scan;

/// <summary>The hosts whose MCP configuration <c>steward scan</c> reads, and how each one stores, references and disables servers.</summary>
public sealed record ScanHost(string Id, string DisplayName, string ServersKey, string? ReferenceFormat, bool HonoursDisabled)
{
    public static readonly ScanHost Steward = new("steward", "Steward", "mcpServers", "${{{0}}}", true);
    public static readonly ScanHost Kiro = new("kiro", "Kiro", "mcpServers", "${{{0}}}", true);
    public static readonly ScanHost ClaudeCode = new("claude-code", "Claude Code", "mcpServers", "${{{0}}}", false);

    /// <summary>Claude Desktop passes values as written: no reference syntax, so a secret cannot be moved out automatically.</summary>
    public static readonly ScanHost ClaudeDesktop = new("claude-desktop", "Claude Desktop", "mcpServers", null, false);

    public static readonly ScanHost VsCode = new("vscode", "VS Code", "servers", "${{env:{0}}}", false);
    public static readonly ScanHost Cursor = new("cursor", "Cursor", "mcpServers", "${{env:{0}}}", false);
    public static readonly ScanHost Windsurf = new("windsurf", "Windsurf", "mcpServers", "${{env:{0}}}", false);

    public static IReadOnlyList<ScanHost> All { get; } = [Steward, Kiro, ClaudeCode, ClaudeDesktop, VsCode, Cursor, Windsurf];

    /// <summary>How this host writes a reference to environment variable <paramref name="name"/>; null when it has none.</summary>
    public string? Reference(string name) => ReferenceFormat is null ? null : string.Format(System.Globalization.CultureInfo.InvariantCulture, ReferenceFormat, name);
}

/// <summary>One configuration file to look at: its host, scope (user or workspace) and path.</summary>
public sealed record ScanTarget(ScanHost Host, string Scope, string Path);

/// <summary>The rules of <c>steward scan</c>, with their SARIF level.</summary>
public static class ScanRules
{
    public const string ShadowServer = "shadow-server";
    public const string UnidentifiableServer = "unidentifiable-server";
    public const string HardcodedSecret = "hardcoded-secret";
    public const string FilePermissions = "file-permissions";
    public const string UnsetVariable = "unset-variable";
    public const string UnreadableConfig = "unreadable-config";
    public const string NoPolicy = "no-policy";

    public static IReadOnlyList<(string Id, string Level, string Description)> All { get; } =
    [
        (ShadowServer, "error", "An MCP server that the policy does not admit (a shadow server): it runs outside what the administrator approved."),
        (UnidentifiableServer, "warning", "An MCP server whose command or URL cannot be matched against the policy (unset references, an invalid entry)."),
        (HardcodedSecret, "error", "A credential written in clear text in a configuration file instead of a ${VAR} reference."),
        (FilePermissions, "warning", "A configuration file that other users can read or write (mode wider than 0600)."),
        (UnsetVariable, "warning", "A ${VAR} reference to an environment variable that is not set."),
        (UnreadableConfig, "error", "A configuration file that cannot be read or parsed, so its servers cannot be checked."),
        (NoPolicy, "note", "No policy is in force on this machine, so servers cannot be identified as admitted or not."),
    ];

    public static string LevelOf(string rule) => All.First(r => r.Id == rule).Level;
}

/// <summary>A secret held in memory for <c>--fix</c>; printing the object never shows it.</summary>
public sealed class SecretValue(string value)
{
    public string Reveal() => value;

    public override string ToString() => "(secret)";
}

/// <summary>What <c>--fix</c> would do about a finding.</summary>
public abstract record ScanFix
{
    private ScanFix()
    {
    }

    /// <summary>Replace the value at <paramref name="Path"/> by <paramref name="NewValue"/>, the secret going to environment variable <paramref name="Variable"/>.</summary>
    public sealed record Secret(IReadOnlyList<string> Path, string Variable, string NewValue, SecretValue Value) : ScanFix;

    /// <summary>Disable the server whose servers object is <paramref name="ServersPath"/> and key is <paramref name="Name"/>.</summary>
    public sealed record Disable(IReadOnlyList<string> ServersPath, string Name) : ScanFix;

    public sealed record Permissions : ScanFix;
}

/// <summary>
/// One finding: its rule and level, where (file, JSON path and line), the server, a message, and for a secret its kind
/// and a redacted prefix. Never the secret itself (the fix holds it, and prints as "(secret)").
/// </summary>
public sealed record ScanFinding(string Rule, string File, string Message)
{
    public string Level => ScanRules.LevelOf(Rule);
    public string Host { get; init; } = "";
    public IReadOnlyList<string> Path { get; init; } = [];
    public string? Server { get; init; }
    public string? SecretKind { get; init; }
    public string? Redacted { get; init; }
    public long? Line { get; init; }
    public long? Column { get; init; }
    public ScanFix? Fix { get; init; }

    /// <summary>The JSON path as the validator prints it: <c>mcpServers.github.env.GITHUB_TOKEN</c>.</summary>
    public string JsonPathText => Path.Aggregate("", JsonPath.Field);
}

/// <summary>One server found: where, and its admission.</summary>
/// <param name="Admission"><c>admitted</c>, <c>not-admitted</c>, <c>not-identifiable</c> or <c>disabled</c>.</param>
public sealed record ScannedServer(string Host, string File, string Name, string JsonPath, string Admission, string? Reason, string Message, string? RegistryName);

/// <summary>One configuration file found, with its mode (octal, Unix only) and how many servers it holds.</summary>
public sealed record ScannedFile(string Host, string Scope, string Path, string? Mode, int Servers);

public sealed record ScanReport(IReadOnlyList<ScannedFile> Files, IReadOnlyList<ScannedServer> Servers, IReadOnlyList<ScanFinding> Findings, string? PolicyNote)
{
    /// <summary>Findings that count for the exit code: errors and warnings, not notes.</summary>
    public bool HasFindings => Findings.Any(f => f.Level != "note");
}
