using Steward.Core.Registry;

namespace Steward.Server.Exports;

// Claude Code's managed-mcp.json (`claude-managed-mcp`).
public static partial class Exporters
{
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
        var document = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            WriteMcpServers(w, servers, typed: true);
            w.WriteEndObject();
        });
        return new ExportResult(document, skipped, notes, servers.Count);
    }
}
