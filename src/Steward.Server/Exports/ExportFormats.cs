namespace Steward.Server.Exports;

/// <summary>The export formats, by the name the API and the CLI take.</summary>
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
