using System.Collections.Immutable;
using Steward.Agent.Policy;

namespace Steward.Agent.Gateway;

/// <summary>What the gateway does with one tool: list and forward it, ask the user first, or hide and refuse it.</summary>
public enum ToolVerdict
{
    Allow,
    Ask,
    Deny,
    /// <summary>The developer turned the tool off (<c>disabledTools</c>).</summary>
    Disabled,
}

/// <summary>A verdict and what decided it (a rule's pattern, <c>disabledTools</c>, <c>autoApprove</c>), safe to show and to audit.</summary>
public sealed record ToolDecision(ToolVerdict Verdict, string Because)
{
    /// <summary>Listed in <c>tools/list</c> (and so callable, subject to approval for <see cref="ToolVerdict.Ask"/>).</summary>
    public bool IsListed => Verdict is ToolVerdict.Allow or ToolVerdict.Ask;
}

/// <summary>
/// The one decision used by both <c>tools/list</c> and <c>tools/call</c>, so what is listed is exactly what is callable.
/// </summary>
/// <remarks>
/// In order: a tool named in the server's <c>disabledTools</c> is <see cref="ToolVerdict.Disabled"/>; then the
/// administrator's rules are matched against <c>server/tool</c> (the configured server name, and also the registry name
/// when they differ): any matching deny wins; otherwise any matching ask makes it <see cref="ToolVerdict.Ask"/>, unless
/// the server's <c>autoApprove</c> names the tool (or holds <c>*</c>), which the developer may do only for tools the
/// administrator did not deny; otherwise it is allowed (no rule means allow). Globs: <c>*</c> matches any run of
/// characters (<c>/</c> included), <c>?</c> one character; comparison is ordinal.
/// </remarks>
public sealed class ToolDecisions(IReadOnlyList<ToolRule> rules)
{
    public static ToolDecisions None { get; } = new([]);

    public ToolDecision Decide(string server, string? registryName, string tool, ImmutableArray<string>? disabledTools, ImmutableArray<string>? autoApprove)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(tool);
        if (disabledTools is { } disabled && disabled.Contains(tool, StringComparer.Ordinal))
        {
            return new ToolDecision(ToolVerdict.Disabled, "disabledTools");
        }

        var subject = server + "/" + tool;
        var alternate = registryName is not null && registryName != server ? registryName + "/" + tool : null;
        ToolRule? ask = null;
        foreach (var rule in rules)
        {
            if (!Glob(rule.Pattern, subject) && (alternate is null || !Glob(rule.Pattern, alternate)))
            {
                continue;
            }

            if (rule.Effect == ToolRuleEffect.Deny)
            {
                return new ToolDecision(ToolVerdict.Deny, "rule " + rule.Pattern);
            }

            if (rule.Effect == ToolRuleEffect.Ask)
            {
                ask ??= rule;
            }
        }

        if (ask is not null)
        {
            return autoApprove is { } approved && (approved.Contains(tool, StringComparer.Ordinal) || approved.Contains("*", StringComparer.Ordinal))
                ? new ToolDecision(ToolVerdict.Allow, "autoApprove")
                : new ToolDecision(ToolVerdict.Ask, "rule " + ask.Pattern);
        }

        return new ToolDecision(ToolVerdict.Allow, "default");
    }

    /// <summary>Glob match: <c>*</c> any run of characters, <c>?</c> any one character, everything else literal.</summary>
    public static bool Glob(string pattern, string text)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(text);
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]) && pattern[p] != '*')
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
