using System.Text;

namespace Steward.Core.Launch;

/// <summary>
/// <c>{name}</c> placeholders in server.json values. A placeholder is a <c>{</c>, one or more characters other than
/// braces, and a <c>}</c>. A name the lookup does not know is left exactly as written, as the specification says.
/// </summary>
public static class ValueTemplate
{
    /// <summary>The placeholder names in <paramref name="text"/>, in order, repeats kept.</summary>
    public static IReadOnlyList<string> Names(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var names = new List<string>();
        foreach (var part in Parse(text))
        {
            if (part.IsPlaceholder)
            {
                names.Add(part.Text);
            }
        }

        return names;
    }

    /// <summary>Replaces each placeholder that <paramref name="lookup"/> answers; leaves the others unchanged.</summary>
    public static string Substitute(string text, Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(lookup);
        if (!text.Contains('{', StringComparison.Ordinal))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        foreach (var part in Parse(text))
        {
            if (part.IsPlaceholder && lookup(part.Text) is { } value)
            {
                builder.Append(value);
            }
            else
            {
                builder.Append(part.IsPlaceholder ? "{" + part.Text + "}" : part.Text);
            }
        }

        return builder.ToString();
    }

    /// <summary>One piece of a template: literal text, or a placeholder's name.</summary>
    public readonly record struct Part(string Text, bool IsPlaceholder);

    /// <summary>Splits a template into literal text and placeholders (adjacent literal text merged).</summary>
    public static IReadOnlyList<Part> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = new List<Part>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var open = text.IndexOf('{', i);
            if (open < 0)
            {
                literal.Append(text, i, text.Length - i);
                break;
            }

            var close = open + 1 < text.Length ? text.IndexOfAny(['{', '}'], open + 1) : -1;
            if (close < 0 || text[close] == '{' || close == open + 1)
            {
                // Not a placeholder: keep the brace as text and look again after it.
                literal.Append(text, i, open + 1 - i);
                i = open + 1;
                continue;
            }

            literal.Append(text, i, open - i);
            if (literal.Length > 0)
            {
                parts.Add(new Part(literal.ToString(), false));
                literal.Clear();
            }

            parts.Add(new Part(text[(open + 1)..close], true));
            i = close + 1;
        }

        if (literal.Length > 0)
        {
            parts.Add(new Part(literal.ToString(), false));
        }

        return parts;
    }
}
