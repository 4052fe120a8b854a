using System.Collections.Immutable;
using System.Text;

namespace Steward.Core.Config;

/// <summary>
/// Environment references in configuration values, expanded only at launch time.
/// <list type="bullet">
/// <item><description><c>${NAME}</c> anywhere in a value, NAME being a letter or <c>_</c> followed by letters, digits and
/// <c>_</c>.</description></item>
/// <item><description><c>$NAME</c> without braces only when it is the whole value (<c>"$GITHUB_TOKEN"</c>, as one Kiro
/// example writes it). Elsewhere a bare <c>$</c> is literal text, so that a value such as <c>pa$word</c> or
/// <c>cost: $5</c> is never mangled.</description></item>
/// <item><description>Anything else that starts with <c>${</c> (<c>${}</c>, <c>${A:-b}</c>, an unclosed <c>${A</c>) is
/// malformed: reported, never passed through, so a value cannot silently reach a server half-expanded.</description></item>
/// </list>
/// A variable set to the empty string counts as set. When any reference is unset or malformed the expansion fails as a
/// whole and reports every name at once.
/// </summary>
public static class EnvReferences
{
    /// <summary>The outcome of an expansion: the value, or null with every unset name and malformed reference.</summary>
    public sealed record Expansion(string? Value, ImmutableArray<string> Unset, ImmutableArray<string> Malformed)
    {
        public bool Succeeded => Value is not null;
    }

    public static Expansion Expand(string text, Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(lookup);
        var unset = ImmutableArray.CreateBuilder<string>();
        var malformed = ImmutableArray.CreateBuilder<string>();
        var builder = new StringBuilder(text.Length);
        foreach (var token in Tokens(text))
        {
            switch (token.Kind)
            {
                case TokenKind.Text:
                    builder.Append(token.Text);
                    break;
                case TokenKind.Reference:
                    if (lookup(token.Text) is { } value)
                    {
                        builder.Append(value);
                    }
                    else if (!unset.Contains(token.Text))
                    {
                        unset.Add(token.Text);
                    }

                    break;
                case TokenKind.Malformed:
                    malformed.Add(token.Text);
                    break;
            }
        }

        return unset.Count == 0 && malformed.Count == 0
            ? new Expansion(builder.ToString(), [], [])
            : new Expansion(null, unset.ToImmutable(), malformed.ToImmutable());
    }

    /// <summary>The variable names referred to, in order, without repeats.</summary>
    public static IReadOnlyList<string> Names(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Tokens(text).Where(t => t.Kind == TokenKind.Reference).Select(t => t.Text).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>True when the value holds a reference, well-formed or not (anything that expansion would change or refuse).</summary>
    public static bool HasReferences(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Contains('$', StringComparison.Ordinal) && Tokens(text).Any(t => t.Kind != TokenKind.Text);
    }

    private enum TokenKind
    {
        Text,
        Reference,
        Malformed,
    }

    private readonly record struct Token(TokenKind Kind, string Text);

    private static List<Token> Tokens(string text)
    {
        var tokens = new List<Token>();
        if (text.Length > 1 && text[0] == '$' && text[1] != '{' && IsName(text.AsSpan(1)))
        {
            tokens.Add(new Token(TokenKind.Reference, text[1..]));
            return tokens;
        }

        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            var open = text.IndexOf("${", i, StringComparison.Ordinal);
            if (open < 0)
            {
                break;
            }

            if (open > start)
            {
                tokens.Add(new Token(TokenKind.Text, text[start..open]));
            }

            var close = text.IndexOf('}', open + 2);
            if (close < 0)
            {
                tokens.Add(new Token(TokenKind.Malformed, text[open..]));
                return tokens;
            }

            var name = text[(open + 2)..close];
            tokens.Add(IsName(name) ? new Token(TokenKind.Reference, name) : new Token(TokenKind.Malformed, text[open..(close + 1)]));
            start = i = close + 1;
        }

        if (start < text.Length)
        {
            tokens.Add(new Token(TokenKind.Text, text[start..]));
        }

        return tokens;
    }

    /// <summary>A letter or <c>_</c>, then letters, digits and <c>_</c> (ASCII).</summary>
    public static bool IsName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || !(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }
}
