using System.Text.RegularExpressions;
using Steward.Core.Policy;

namespace Steward.Server.Exports;

/// <summary>
/// The profile's tool rules as a host's permission rules, where the host can express them, and a line for each rule it
/// cannot (docs/exports.md). Claude Code names an MCP tool <c>mcp__&lt;server&gt;__&lt;tool&gt;</c>, the server being the
/// name of its entry in the host's configuration: the short key <c>managed-mcp.json</c> and <c>steward mcp export-host</c>
/// give it (<see cref="Steward.Core.Registry.HostServerNames.Keys"/>), and — for an entry written by hand under the
/// registry name — the registry name with every character outside <c>[A-Za-z0-9_-]</c> replaced by <c>_</c>. Each rule
/// is written for both spellings when they differ. <c>mcp__&lt;server&gt;</c> alone covers every tool of the server. So a rule on one exact tool or on a whole
/// server (<c>server/*</c>) maps; a glob anywhere else does not.
/// </summary>
public static partial class ToolRulePermissions
{
    /// <summary>Permission rules for <c>permissions.deny</c> and <c>permissions.ask</c>, and what could not be expressed.</summary>
    public sealed record Mapping(IReadOnlyList<string> Deny, IReadOnlyList<string> Ask, IReadOnlyList<string> NotExpressed);

    /// <summary>The Claude Code mapping of <paramref name="rules"/>.</summary>
    /// <param name="hostKeys">Registry name → the key <c>managed-mcp.json</c> lists it under; a name not in it has only its flat spelling.</param>
    public static Mapping ForClaude(IReadOnlyList<ToolRule> rules, IReadOnlyDictionary<string, string>? hostKeys = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var deny = new List<string>();
        var ask = new List<string>();
        var notExpressed = new List<string>();
        foreach (var rule in rules)
        {
            if (rule.Effect == ToolRuleEffect.Allow)
            {
                // Allow is Steward's default and never lifts a deny or an ask: a host permission would pre-approve instead.
                notExpressed.Add($"tool rule {Describe(rule)}: allow rules are not exported (allow is the default; a host allow rule would skip the host's own prompt)");
                continue;
            }

            if (ClaudeName(rule.Pattern) is not { } name)
            {
                notExpressed.Add($"tool rule {Describe(rule)}: Claude Code permissions name one tool (mcp__server__tool) or a whole server (mcp__server), not a glob; enforced by steward gateway only");
                continue;
            }

            var into = rule.Effect == ToolRuleEffect.Deny ? deny : ask;
            var server = rule.Pattern[..rule.Pattern.LastIndexOf('/')];
            if (hostKeys is not null && hostKeys.TryGetValue(server, out var key) && ClaudeName(key + rule.Pattern[server.Length..]) is { } keyed)
            {
                into.Add(keyed);
            }

            into.Add(name);
        }

        // An ask that a deny covers would only be overridden: deny wins in the host as in Steward.
        return new Mapping([.. deny.Distinct(StringComparer.Ordinal)], [.. ask.Distinct(StringComparer.Ordinal).Where(a => !deny.Contains(a, StringComparer.Ordinal))], notExpressed);
    }

    /// <summary>What a format without tool permissions reports: one line per rule, enforced by the gateway only.</summary>
    public static IReadOnlyList<string> NotExpressible(IReadOnlyList<ToolRule> rules, string host)
    {
        ArgumentNullException.ThrowIfNull(rules);
        return [.. rules.Select(r => $"tool rule {Describe(r)}: {host} has no tool permissions in this format; enforced by steward gateway only")];
    }

    /// <summary><c>mcp__server__tool</c> or <c>mcp__server</c> for a pattern on one exact tool or a whole server; null for any other glob.</summary>
    public static string? ClaudeName(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var slash = pattern.LastIndexOf('/');
        if (slash <= 0 || slash == pattern.Length - 1)
        {
            return null;
        }

        var (server, tool) = (pattern[..slash], pattern[(slash + 1)..]);
        if (HasGlob(server))
        {
            return null;
        }

        if (tool == "*")
        {
            return "mcp__" + Normalise(server);
        }

        return HasGlob(tool) ? null : "mcp__" + Normalise(server) + "__" + Normalise(tool);
    }

    private static bool HasGlob(string text) => text.AsSpan().IndexOfAny('*', '?') >= 0;

    private static string Normalise(string name) => NotMcpName().Replace(name, "_");

    private static string Describe(ToolRule rule) => $"{ToolRule.EffectName(rule.Effect)} {rule.Pattern}";

    [GeneratedRegex("[^A-Za-z0-9_-]", RegexOptions.CultureInvariant)]
    private static partial Regex NotMcpName();
}
