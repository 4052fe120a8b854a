using Steward.Core.Registry;

namespace Steward.Server.Exports;

// The managed settings of Claude Code and VS Code/Copilot (allow and deny lists of server matchers, tool permissions).
public static partial class Exporters
{
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

        var document = ResponseJson.Write(w =>
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
}
