using System.Security.Cryptography;
using System.Text;

namespace Steward.Core.Admission;

/// <summary>
/// The short names the aggregated gateway puts before each tool and prompt (<c>alias__tool</c>), so that names stay
/// within what hosts accept (<c>^[a-zA-Z0-9_-]{1,64}$</c>) and two servers never produce the same name:
/// <list type="bullet">
/// <item><description>A configured name of at most 24 letters, digits and <c>-</c> is its own alias
/// (<c>everything</c>, <c>github</c>).</description></item>
/// <item><description>Any other name (<c>io.github.modelcontextprotocol/server-everything</c>, <c>shx__a</c>) becomes
/// its last <c>/</c> segment with every other character turned into <c>-</c>, cut to 20 characters, then <c>-</c> and
/// the first 6 hex digits of the SHA-256 of the whole name: <c>server-everything-1a2b3c</c>. It depends on the name
/// alone, so it is the same on every machine and across restarts.</description></item>
/// <item><description>An alias never holds <c>_</c>, so the first <c>__</c> of an exposed name always ends the alias:
/// server <c>shx</c> with tool <c>a__echo</c> is <c>shx__a__echo</c>, server <c>shx__a</c> with tool <c>echo</c> is
/// <c>shx-a-…__echo</c>.</description></item>
/// <item><description>Should two configured names still meet on one alias (a name written like another's hashed
/// alias, or 24 bits of hash colliding), each of them takes 12 hex digits instead.</description></item>
/// </list>
/// A tool name that would not fit (<see cref="Exposed"/>) is cut and given a hash of its own the same way.
/// </summary>
public static class ServerAliases
{
    public const string Separator = "__";
    public const int MaxExposedLength = 64;
    private const int MaxPlainAlias = 24;
    private const int MaxBase = 20;

    /// <summary>The alias of every name (distinct names get distinct aliases).</summary>
    public static IReadOnlyDictionary<string, string> For(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var distinct = names.Distinct(StringComparer.Ordinal).ToList();
        var aliases = distinct.ToDictionary(n => n, n => Alias(n, 6), StringComparer.Ordinal);
        foreach (var group in aliases.GroupBy(p => p.Value, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList())
        {
            foreach (var (name, _) in group)
            {
                aliases[name] = Hashed(name, 12);
            }
        }

        return aliases;
    }

    /// <summary>The alias of one name, as <see cref="For"/> gives it when no other name meets it.</summary>
    public static string Alias(string name, int hashDigits = 6)
    {
        ArgumentNullException.ThrowIfNull(name);
        return IsPlain(name) ? name : Hashed(name, hashDigits);
    }

    private static bool IsPlain(string name) =>
        name.Length is > 0 and <= MaxPlainAlias && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static string Hashed(string name, int digits)
    {
        var slash = name.LastIndexOf('/');
        var tail = slash >= 0 && slash < name.Length - 1 ? name[(slash + 1)..] : name;
        var builder = new StringBuilder(MaxBase);
        foreach (var c in tail)
        {
            if (builder.Length == MaxBase)
            {
                break;
            }

            var ok = char.IsAsciiLetterOrDigit(c);
            if (ok || (builder.Length > 0 && builder[^1] != '-'))
            {
                builder.Append(ok ? c : '-');
            }
        }

        var text = builder.ToString().TrimEnd('-');
        return (text.Length == 0 ? "server" : text) + "-" + Hash(name, digits);
    }

    private static string Hash(string text, int digits) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..digits];

    /// <summary>
    /// The exposed name of a tool or prompt: <c>alias__name</c> when that is at most 64 characters of letters, digits,
    /// <c>_</c> and <c>-</c>; otherwise the name with other characters turned into <c>-</c>, cut to fit, and
    /// <c>-</c> plus 6 hex digits of the SHA-256 of the original name.
    /// </summary>
    public static string Exposed(string alias, string name)
    {
        ArgumentNullException.ThrowIfNull(alias);
        ArgumentNullException.ThrowIfNull(name);
        var plain = alias + Separator + name;
        if (plain.Length <= MaxExposedLength && name.Length > 0 && name.All(IsAllowed))
        {
            return plain;
        }

        var room = MaxExposedLength - alias.Length - Separator.Length - 7;
        var cleaned = new string([.. name.Select(c => IsAllowed(c) ? c : '-')]);
        return alias + Separator + cleaned[..Math.Min(cleaned.Length, Math.Max(room, 0))] + "-" + Hash(name, 6);
    }

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    /// <summary>Splits an exposed name at its first <c>__</c>: the alias and the rest.</summary>
    public static (string Alias, string Name)? Split(string exposed)
    {
        ArgumentNullException.ThrowIfNull(exposed);
        var at = exposed.IndexOf(Separator, StringComparison.Ordinal);
        return at > 0 && at + Separator.Length < exposed.Length ? (exposed[..at], exposed[(at + Separator.Length)..]) : null;
    }
}
