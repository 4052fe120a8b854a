using Steward.Core.Registry;

namespace Steward.Server.Exports;

// Gemini CLI's settings.json (`gemini`).
public static partial class Exporters
{
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

        var document = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            WriteMcpServers(w, servers, typed: false);
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
}
