using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Policy;

namespace Steward.Agent.Policy;

/// <summary>One rule of the explanation: what it says, where it comes from, and whether it matches the tool.</summary>
public sealed record ExplainedRule(string Pattern, string Effect, string? Reason, string Origin, bool Matches);

/// <summary>
/// Which rule decides a tool and why (<c>steward policy explain tool &lt;server&gt;/&lt;tool&gt;</c>): the same
/// <see cref="ToolDecisions"/> the gateway uses, over the same rules (the profile's from the bundle, and a local policy
/// file's when one is given), the server's <c>disabledTools</c> and <c>autoApprove</c> from the merged <c>mcp.json</c>.
/// </summary>
/// <param name="DecidedBy"><c>rule</c>, <c>disabledTools</c>, <c>autoApprove</c> or <c>default</c>.</param>
public sealed record ToolExplanation(
    string Server,
    string? RegistryName,
    string Tool,
    bool Configured,
    string Verdict,
    string DecidedBy,
    ExplainedRule? Rule,
    string Explanation,
    IReadOnlyList<ExplainedRule> Rules,
    string? PolicySource,
    string? Revision)
{
    public bool Listed => Verdict is "allow" or "ask";
}

public static class ToolExplainer
{
    /// <summary>
    /// Explains <paramref name="tool"/> of <paramref name="server"/> (a name configured in <paramref name="config"/>, or a
    /// registry name) under <paramref name="snapshot"/>; <paramref name="localRules"/> are a local policy file's rules.
    /// </summary>
    public static ToolExplanation Explain(PolicySnapshot snapshot, MergedMcpConfig config, string server, string tool, IReadOnlyList<ToolRule>? localRules = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(tool);
        var configured = config.Find(server);
        string? registryName = null;
        if (configured is not null)
        {
            registryName = new AdmissionEvaluator(snapshot.Registry).Evaluate(server, configured.Config) switch
            {
                AdmissionDecision.Allowed a => a.Server.Name,
                AdmissionDecision.Relaunch r => r.Server.Name,
                _ => null,
            };
        }
        else if (snapshot.Registry.Any(e => e.Server.Name == server))
        {
            registryName = server;
        }

        IReadOnlyList<ToolRule> rules = [.. snapshot.ToolRules, .. localRules ?? []];
        var decision = new ToolDecisions(rules).Decide(server, registryName, tool, configured?.Config.DisabledTools, configured?.Config.AutoApprove);
        var explained = rules.Select(r => Describe(r, ToolDecisions.Matches(r.Pattern, server, registryName, tool))).ToList();
        var decidedBy = decision.Rule is not null ? "rule" : decision.Because;
        return new ToolExplanation(
            server, registryName, tool, configured is not null,
            decision.Verdict.ToString().ToLowerInvariant(),
            decidedBy,
            decision.Rule is { } rule ? Describe(rule, true) : null,
            decision.Explanation,
            explained,
            snapshot.Source,
            snapshot.Revision);
    }

    private static ExplainedRule Describe(ToolRule rule, bool matches) =>
        new(rule.Pattern, ToolRule.EffectName(rule.Effect), rule.Reason, rule.Origin == ToolRuleOrigin.LocalFile ? "local-file" : "profile", matches);
}
