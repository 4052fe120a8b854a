using System.Globalization;

namespace Steward.Server.AdminConsole;

/// <summary>One change of the shared settings and what it does to developers and to each host's export.</summary>
internal sealed record Consequence(string Setting, string Change, IReadOnlyList<string> Effects);

/// <summary>
/// What a change of the shared settings will do, said before it is saved. The words follow what the code does: clients
/// apply a new policy at their next sync (within the current interval) or, a running gateway holding the change channel,
/// within seconds; the exports follow the profile (docs/exports.md). A switch of the organisation's profile does not reach
/// an account with a profile of its own, and the sentences say so (only the emergency stop reaches every account).
/// </summary>
internal static class SettingsConsequences
{
    /// <param name="ownProfiles">
    /// For the organisation's profile: the accounts with a profile of their own, which supersedes it for them — no switch
    /// of the organisation's profile reaches them, and every sentence says so. Empty for an account's profile.
    /// </param>
    /// <param name="stopped">The organisation's emergency stop is engaged: MCP stays off for every account whatever this profile says.</param>
    public static IReadOnlyList<Consequence> Describe(ProfileSettings before, ProfileSettings after, int approvedServers, string scope, IReadOnlyList<string>? ownProfiles = null, bool stopped = false)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var within = $"at their next sync (within {Duration(before.SyncIntervalSeconds)}, the current sync interval; a running gateway that holds this server's change channel within seconds)";
        if (ownProfiles is { Count: > 0 })
        {
            var names = string.Join(", ", ownProfiles.Take(5)) + (ownProfiles.Count > 5 ? $" and {ownProfiles.Count - 5} more" : "");
            scope = $"{scope} except the {Plural(ownProfiles.Count, "account")} with a profile of their own ({names}), which keep their own settings";
        }

        var list = new List<Consequence>();
        if (before.McpEnabled != after.McpEnabled)
        {
            list.Add(after.McpEnabled
                ? new Consequence("Model Context Protocol (MCP)", "off → on",
                [
                    stopped
                        ? $"The emergency stop is engaged: MCP stays off for every account of the organisation until it is lifted; then developers of {scope} may run approved MCP servers again."
                        : $"Developers of {scope} may run approved MCP servers again {within}.",
                    "The Kiro file, Claude Code managed-mcp.json and the Claude Code / Copilot / Cursor allowlists list the approved servers again.",
                ])
                : new Consequence("Model Context Protocol (MCP)", "on → off",
                [
                    $"MCP off: every developer's gateway in {scope} stops all MCP servers {within}, and steward mcp add is refused.",
                    .. ownProfiles is { Count: > 0 }
                        ? (string[])["To stop MCP for every account at once, whatever their own profiles say, use the emergency stop on this page."]
                        : [],
                    "The Kiro file becomes {\"servers\":[]} (Kiro stops every server it runs).",
                    "Claude Code exports will contain an empty mcpServers (managed-mcp.json), which turns MCP off in Claude Code.",
                    "Claude Code and Copilot managed settings allow no server (allowedMcpServers: []); the Cursor allowlists become empty.",
                ]));
        }

        if (before.WebToolsEnabled != after.WebToolsEnabled)
        {
            list.Add(after.WebToolsEnabled
                ? new Consequence("Web search and web fetch tools", "off → on",
                [
                    $"Agents of {scope} may use web search and web fetch again {within}.",
                    "Claude Code managed settings no longer deny WebFetch and WebSearch.",
                ])
                : new Consequence("Web search and web fetch tools", "on → off",
                [
                    $"Agents of {scope} lose web search and web fetch {within}.",
                    "Claude Code managed settings deny WebFetch and WebSearch (permissions.deny).",
                    "Copilot has no such switch: its export says so in its report.",
                ]));
        }

        if (before.RegistryMode != after.RegistryMode || before.RegistryUrl != after.RegistryUrl)
        {
            var change = $"{Mode(before)} → {Mode(after)}";
            list.Add(after.RegistryMode switch
            {
                RegistryModes.None => new Consequence("MCP registry", change,
                [
                    $"No allowlist: developers of {scope} may run any MCP server{(after.McpEnabled ? "" : " once MCP is on")}; nothing is stopped for not being approved.",
                    "Claude Code and Copilot managed settings leave out allowedMcpServers (every server not denied is allowed).",
                ]),
                RegistryModes.Hosted => new Consequence("MCP registry", change,
                [
                    $"The allowlist becomes this organisation's registry ({approvedServers.ToString(CultureInfo.InvariantCulture)} approved server{(approvedServers == 1 ? "" : "s")}).",
                    $"A server that is not in it is stopped {within} and cannot be added back; a newer registry version relaunches it at that version.",
                    "The exports (Kiro file, Claude Code, Copilot, Cursor) are made from this registry.",
                ]),
                _ => new Consequence("MCP registry", change,
                [
                    $"This server fetches {after.RegistryUrl} at once and then every sync interval; developers of {scope} receive its last good copy {within}, and a server that is not in it is stopped.",
                    "Until a good copy has been fetched no server is admitted; a copy that fails validation is refused whole and the last good one stays in force (shown here after saving).",
                    "The exports, this server's Registry API for the profile and the signed bundle are made from that copy.",
                ]),
            });
        }

        if (before.SyncIntervalSeconds != after.SyncIntervalSeconds)
        {
            list.Add(new Consequence("Sync interval", $"{Duration(before.SyncIntervalSeconds)} → {Duration(after.SyncIntervalSeconds)}",
            [
                $"Clients fetch the policy every {Duration(after.SyncIntervalSeconds)} (from their next sync, within {Duration(before.SyncIntervalSeconds)}); a later change reaches every developer within {Duration(after.SyncIntervalSeconds)}.",
            ]));
        }

        if (before.MaxOfflineAgeSeconds != after.MaxOfflineAgeSeconds)
        {
            list.Add(new Consequence("Maximum offline age", $"{Offline(before.MaxOfflineAgeSeconds)} → {Offline(after.MaxOfflineAgeSeconds)}",
            [
                after.MaxOfflineAgeSeconds is { } max
                    ? $"A client that cannot reach this server keeps its last verified policy for at most {Duration(max)}; after that MCP is disabled on that machine (fail closed) until it syncs."
                    : "A client that cannot reach this server keeps its last verified policy for at most 7 days (the default, or twice the sync interval when that is longer); after that MCP is disabled on that machine (fail closed) until it syncs.",
            ]));
        }

        if (before.ModelControlEnabled != after.ModelControlEnabled)
        {
            list.Add(after.ModelControlEnabled
                ? new Consequence("Model availability", "all models → controlled",
                [
                    $"Developers of {scope} see only the models enabled in the model list (see Models) {within}; a request for any other model is refused.",
                    "Models that are not GA with regional inference never arrive enabled.",
                ])
                : new Consequence("Model availability", "controlled → all models",
                [
                    $"Every model of the catalog becomes available to developers of {scope} {within}; the model list is kept but not applied.",
                ]));
        }

        if (before.AuditToolArguments != after.AuditToolArguments)
        {
            list.Add(after.AuditToolArguments
                ? new Consequence("Audit of tool calls", "without argument values → with argument values",
                [
                    $"From their next sync (within {Duration(before.SyncIntervalSeconds)}), the gateways of {scope} record the argument values of every tool call.",
                    "Argument values may contain secrets or personal data: they are stored in each developer's local audit log and sent to this server, where admins and auditors can read them.",
                    "Arguments whose names look like secrets (password, token, secret, key, authorization, credential, cookie…) are replaced by \"[redacted]\"; a secret passed under any other name is recorded.",
                ])
                : new Consequence("Audit of tool calls", "with argument values → without argument values",
                [
                    $"Gateways of {scope} stop recording argument values {within}; values already recorded stay in the audit logs (local and on this server).",
                ]));
        }

        return list;
    }

    public static string Mode(ProfileSettings settings) => settings.RegistryMode switch
    {
        RegistryModes.None => "none",
        RegistryModes.Hosted => "hosted on this server",
        _ => "external (" + settings.RegistryUrl + ")",
    };

    public static string Offline(long? seconds) => seconds is { } s ? Duration(s) : "default (7 days)";

    public static string Duration(long seconds) =>
        seconds == 86400 ? "24 h"
        : seconds % 86400 == 0 ? Plural(seconds / 86400, "day")
        : seconds % 3600 == 0 ? (seconds / 3600).ToString(CultureInfo.InvariantCulture) + " h"
        : seconds % 60 == 0 ? (seconds / 60).ToString(CultureInfo.InvariantCulture) + " min"
        : seconds.ToString(CultureInfo.InvariantCulture) + " s";

    private static string Plural(long n, string unit) => n.ToString(CultureInfo.InvariantCulture) + " " + unit + (n == 1 ? "" : "s");
}
