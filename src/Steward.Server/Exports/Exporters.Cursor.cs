using Steward.Core.Registry;

namespace Steward.Server.Exports;

// Cursor's mcp.json (`cursor`).
public static partial class Exporters
{
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

        var document = ResponseJson.Write(w =>
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
}
