using System.Collections.Immutable;
using System.Text.Json;

namespace Steward.Core.Policy;

/// <summary>What a tool rule does to the tools it matches. Deny wins over ask, ask over allow.</summary>
public enum ToolRuleEffect
{
    Allow,
    Ask,
    Deny,
}

/// <summary>Where a tool rule comes from: the Steward server's signed bundle (the admin's profile) or a local policy file.</summary>
public enum ToolRuleOrigin
{
    Profile,
    LocalFile,
}

/// <summary>
/// A tool rule: allow, ask or deny for a glob on <c>server/tool</c> (the server by its registry name or the name it is
/// configured under), with the administrator's reason, shown to the developer when the rule refuses a call.
/// </summary>
public sealed record ToolRule(string Pattern, ToolRuleEffect Effect, string? Reason = null)
{
    /// <summary>Where the rule came from (not part of its JSON: the bundle's rules are all <see cref="ToolRuleOrigin.Profile"/>).</summary>
    public ToolRuleOrigin Origin { get; init; } = ToolRuleOrigin.Profile;

    public static string EffectName(ToolRuleEffect effect) => effect switch
    {
        ToolRuleEffect.Allow => "allow",
        ToolRuleEffect.Ask => "ask",
        _ => "deny",
    };

    /// <summary>Writes <c>{"pattern", "effect", "reason"?}</c>: the one JSON form of a rule (profile API, audit, bundle).</summary>
    public void WriteTo(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteString("pattern", Pattern);
        w.WriteString("effect", EffectName(Effect));
        if (Reason is not null)
        {
            w.WriteString("reason", Reason);
        }

        w.WriteEndObject();
    }

    public static void WriteList(Utf8JsonWriter w, IReadOnlyList<ToolRule> rules)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(rules);
        w.WriteStartArray();
        foreach (var rule in rules)
        {
            rule.WriteTo(w);
        }

        w.WriteEndArray();
    }
}

/// <summary>A problem with one tool rule, naming its JSON path (<c>$.toolRules[2].pattern</c>) and how to fix it.</summary>
public sealed record ToolRuleProblem(string Path, string Message, string? Value)
{
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>
/// Reading and checking a list of tool rules, the same for the admin API, the bundle and a local policy file: at most
/// <see cref="MaxRules"/> rules; a pattern of 1 to <see cref="MaxPatternLength"/> printable characters without spaces,
/// with one <c>/</c> separating the server part from the tool part (either may be a glob); an effect of
/// <c>allow</c>, <c>ask</c> or <c>deny</c>; a reason of at most <see cref="MaxReasonLength"/> characters; no two rules
/// with the same pattern and effect.
/// </summary>
public static class ToolRuleList
{
    public const int MaxRules = 500;
    public const int MaxPatternLength = 300;
    public const int MaxReasonLength = 500;

    private static readonly string[] Fields = ["pattern", "effect", "reason"];

    /// <summary>The rules of <paramref name="array"/>, or the first problem, its path starting at <paramref name="path"/> (<c>$.toolRules</c>).</summary>
    public static (IReadOnlyList<ToolRule>? Rules, ToolRuleProblem? Problem) Read(JsonElement array, string path = "$.toolRules", bool lenientEffectCase = false)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            return (null, new ToolRuleProblem(path, "expected an array of {\"pattern\": \"server/tool\", \"effect\": \"allow|ask|deny\", \"reason\"?: \"…\"}", Raw(array)));
        }

        if (array.GetArrayLength() > MaxRules)
        {
            return (null, new ToolRuleProblem(path, $"at most {MaxRules} rules (there are {array.GetArrayLength()}): use globs to cover many tools with one rule", null));
        }

        var rules = new List<ToolRule>();
        var seen = new HashSet<(string, ToolRuleEffect)>();
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var at = $"{path}[{i}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                return (null, new ToolRuleProblem(at, "expected an object {\"pattern\", \"effect\", \"reason\"?}", Raw(item)));
            }

            foreach (var member in item.EnumerateObject())
            {
                if (!Fields.Contains(member.Name, StringComparer.Ordinal))
                {
                    return (null, new ToolRuleProblem($"{at}.{member.Name}", "unknown field; expected pattern, effect and optionally reason", null));
                }
            }

            if (!item.TryGetProperty("pattern", out var patternElement) || patternElement.ValueKind != JsonValueKind.String)
            {
                return (null, new ToolRuleProblem($"{at}.pattern", "required: a glob on server/tool, such as \"io.github.example/files/delete_*\" or \"*/shell\"", Raw(patternElement)));
            }

            var pattern = patternElement.GetString()!;
            if (CheckPattern(pattern) is { } why)
            {
                return (null, new ToolRuleProblem($"{at}.pattern", why, patternElement.GetRawText()));
            }

            if (!item.TryGetProperty("effect", out var effectElement) || effectElement.ValueKind != JsonValueKind.String ||
                ParseEffect(effectElement.GetString()!, lenientEffectCase) is not { } effect)
            {
                return (null, new ToolRuleProblem($"{at}.effect", "required: one of allow, ask, deny", Raw(effectElement)));
            }

            string? reason = null;
            if (item.TryGetProperty("reason", out var reasonElement) && reasonElement.ValueKind != JsonValueKind.Null)
            {
                if (reasonElement.ValueKind != JsonValueKind.String || reasonElement.GetString()!.Trim() is not { Length: <= MaxReasonLength } trimmed ||
                    trimmed.Any(char.IsControl))
                {
                    return (null, new ToolRuleProblem($"{at}.reason", $"expected null or one line of text of at most {MaxReasonLength} characters", Raw(reasonElement)));
                }

                reason = trimmed.Length == 0 ? null : trimmed;
            }

            if (!seen.Add((pattern, effect)))
            {
                return (null, new ToolRuleProblem($"{at}.pattern", $"the same pattern with the same effect ({ToolRule.EffectName(effect)}) is already an earlier rule: remove one", patternElement.GetRawText()));
            }

            rules.Add(new ToolRule(pattern, effect, reason));
            i++;
        }

        return (rules, null);
    }

    /// <summary>Why <paramref name="pattern"/> is not a valid rule pattern, or null.</summary>
    public static string? CheckPattern(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (pattern.Length is 0 or > MaxPatternLength)
        {
            return $"expected 1 to {MaxPatternLength} characters";
        }

        if (pattern.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "no spaces or control characters: a pattern is server/tool, with * for any run of characters and ? for one";
        }

        if (!pattern.Contains('/', StringComparison.Ordinal) && pattern != "*")
        {
            return "expected server/tool (the server by its registry name, such as io.github.example/files/delete_file, or a glob such as */delete_*); \"*\" alone matches every tool";
        }

        return null;
    }

    private static ToolRuleEffect? ParseEffect(string text, bool lenient) =>
        (lenient ? text.ToLowerInvariant() : text) switch
        {
            "allow" => ToolRuleEffect.Allow,
            "ask" => ToolRuleEffect.Ask,
            "deny" => ToolRuleEffect.Deny,
            _ => null,
        };

    private static string? Raw(JsonElement element) => element.ValueKind == JsonValueKind.Undefined ? null : element.GetRawText();
}

/// <summary>What the gateway does with one tool: list and forward it, ask the user first, or hide and refuse it.</summary>
public enum ToolVerdict
{
    Allow,
    Ask,
    Deny,
    /// <summary>The developer turned the tool off (<c>disabledTools</c>).</summary>
    Disabled,
}

/// <summary>
/// A verdict and what decided it (a rule's pattern, <c>disabledTools</c>, <c>autoApprove</c>, <c>default</c>), safe to
/// show and to audit; <see cref="Rule"/> is the rule that decided, when one did.
/// </summary>
public sealed record ToolDecision(ToolVerdict Verdict, string Because, ToolRule? Rule = null)
{
    /// <summary>Listed in <c>tools/list</c> (and so callable, subject to approval for <see cref="ToolVerdict.Ask"/>).</summary>
    public bool IsListed => Verdict is ToolVerdict.Allow or ToolVerdict.Ask;

    /// <summary>Why, in words for the developer: the rule with its origin and reason, or what else decided.</summary>
    public string Explanation => (Verdict, Because, Rule) switch
    {
        (_, _, { } rule) => $"{ToolRule.EffectName(rule.Effect)} rule \"{rule.Pattern}\" of {Origin(rule)}{(rule.Reason is { } reason ? ": " + reason : "")}",
        (ToolVerdict.Disabled, _, _) => "the server's disabledTools in mcp.json names it",
        (ToolVerdict.Allow, "autoApprove", _) => "an ask rule matches, and the server's autoApprove in mcp.json names it",
        _ => "no rule matches it: tools are allowed by default",
    };

    private static string Origin(ToolRule rule) => rule.Origin == ToolRuleOrigin.LocalFile ? "the local policy file" : "your organisation's profile";
}

/// <summary>
/// The one decision used by both <c>tools/list</c> and <c>tools/call</c>, so what is listed is exactly what is callable.
/// </summary>
/// <remarks>
/// In order: a tool named in the server's <c>disabledTools</c> is <see cref="ToolVerdict.Disabled"/>; then the rules
/// (the profile's from the bundle and a local policy file's, together) are matched against <c>server/tool</c> (the
/// configured server name, and also the registry name when they differ): any matching deny wins; otherwise any
/// matching ask makes it <see cref="ToolVerdict.Ask"/>, unless the server's <c>autoApprove</c> names the tool (or holds
/// <c>*</c>), which the developer may do only for tools the administrator did not deny; otherwise it is allowed (no
/// rule means allow). Globs: <c>*</c> matches any run of characters (<c>/</c> included), <c>?</c> one character;
/// comparison is ordinal.
/// </remarks>
public sealed class ToolDecisions(IReadOnlyList<ToolRule> rules)
{
    public static ToolDecisions None { get; } = new([]);

    public IReadOnlyList<ToolRule> Rules => rules;

    public ToolDecision Decide(string server, string? registryName, string tool, ImmutableArray<string>? disabledTools, ImmutableArray<string>? autoApprove)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(tool);
        if (disabledTools is { } disabled && disabled.Contains(tool, StringComparer.Ordinal))
        {
            return new ToolDecision(ToolVerdict.Disabled, "disabledTools");
        }

        ToolRule? ask = null;
        foreach (var rule in rules)
        {
            if (!Matches(rule.Pattern, server, registryName, tool))
            {
                continue;
            }

            if (rule.Effect == ToolRuleEffect.Deny)
            {
                return new ToolDecision(ToolVerdict.Deny, "rule " + rule.Pattern, rule);
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
                : new ToolDecision(ToolVerdict.Ask, "rule " + ask.Pattern, ask);
        }

        return new ToolDecision(ToolVerdict.Allow, "default");
    }

    /// <summary>Whether <paramref name="pattern"/> matches the tool under the configured name or the registry name of its server.</summary>
    public static bool Matches(string pattern, string server, string? registryName, string tool)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return Glob(pattern, server + "/" + tool) || (registryName is not null && registryName != server && Glob(pattern, registryName + "/" + tool));
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
