using System.Globalization;
using System.Text;

namespace Steward.Core.Validation;

/// <summary>
/// Names that pass for other names: a Cyrillic <c>о</c> in <c>io.github.microsoft/…</c>, a fullwidth letter, an invisible
/// joiner. Server names are ASCII by rule; this check says why a non-ASCII name is dangerous, naming each character, its
/// code point and script, and the ASCII name it imitates (its NFKC form with known look-alikes mapped back), so that an
/// administrator sees the spoof rather than a pattern error.
/// </summary>
internal static class Confusables
{
    // Letters that render like ASCII letters (Unicode's confusables for the Latin alphabet, Cyrillic and Greek subsets).
    private static readonly Dictionary<char, char> LookAlikes = new()
    {
        ['а'] = 'a', ['в'] = 'b', ['е'] = 'e', ['һ'] = 'h', ['і'] = 'i', ['ј'] = 'j', ['к'] = 'k', ['м'] = 'm', ['н'] = 'h', ['о'] = 'o',
        ['р'] = 'p', ['с'] = 'c', ['т'] = 't', ['у'] = 'y', ['х'] = 'x', ['ѕ'] = 's', ['ԁ'] = 'd', ['ԛ'] = 'q', ['ԝ'] = 'w', ['ӏ'] = 'l',
        ['А'] = 'A', ['В'] = 'B', ['Е'] = 'E', ['К'] = 'K', ['М'] = 'M', ['Н'] = 'H', ['О'] = 'O', ['Р'] = 'P', ['С'] = 'C', ['Т'] = 'T',
        ['Х'] = 'X', ['Ѕ'] = 'S', ['І'] = 'I', ['Ј'] = 'J',
        ['α'] = 'a', ['ο'] = 'o', ['ν'] = 'v', ['ρ'] = 'p', ['τ'] = 't', ['υ'] = 'u', ['ι'] = 'i', ['κ'] = 'k', ['Α'] = 'A', ['Β'] = 'B',
        ['Ε'] = 'E', ['Ζ'] = 'Z', ['Η'] = 'H', ['Ι'] = 'I', ['Κ'] = 'K', ['Μ'] = 'M', ['Ν'] = 'N', ['Ο'] = 'O', ['Ρ'] = 'P', ['Τ'] = 'T',
        ['Υ'] = 'Y', ['Χ'] = 'X',
        ['ı'] = 'i', ['ℓ'] = 'l',
    };

    /// <summary>Adds one error under <paramref name="rule"/> when <paramref name="name"/> holds anything but printable ASCII.</summary>
    public static void Check(string name, string path, string rule, List<Problem> problems)
    {
        if (name.All(c => c is >= ' ' and <= '~'))
        {
            return;
        }

        var imitated = Imitated(name);
        var characters = new List<string>();
        foreach (var rune in name.EnumerateRunes().Where(r => r.Value is < 0x20 or > 0x7E).Distinct().Take(5))
        {
            var text = rune.ToString();
            var lookAlike = text.Length == 1 && LookAlikes.TryGetValue(text[0], out var ascii) ? $", which looks like the Latin '{ascii}'" : "";
            characters.Add($"'{(Rune.IsControl(rune) || Rune.GetUnicodeCategory(rune) == UnicodeCategory.Format ? "" : text)}' (U+{rune.Value:X4}, {Script(rune)}{lookAlike})");
        }

        var passesFor = imitated != name && imitated.All(c => c is >= ' ' and <= '~') ? $"; it would pass for \"{imitated}\"" : "";
        problems.Add(Problem.Error(path, rule,
            $"the server name \"{name}\" contains {string.Join(", ", characters)}{passesFor}",
            "server names are ASCII: letters, digits, '.', '_', '-' and one '/'; retype the name rather than copying it"));
    }

    /// <summary>The name a reader would take it for: NFKC (compatibility forms folded; fullwidth ASCII folded explicitly), look-alikes mapped, invisible characters dropped.</summary>
    public static string Imitated(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string folded;
        try
        {
            folded = name.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            folded = name;
        }

        var builder = new StringBuilder(folded.Length);
        foreach (var c in folded)
        {
            if (LookAlikes.TryGetValue(c, out var ascii))
            {
                builder.Append(ascii);
            }
            else if (c is >= '\uFF01' and <= '\uFF5E')
            {
                // Fullwidth forms, folded here too: with invariant globalization, NFKC may leave them as they are.
                builder.Append((char)(c - 0xFEE0));
            }
            else if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.Format)
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static string Script(Rune rune) => rune.Value switch
    {
        >= 0x0400 and <= 0x052F => "Cyrillic",
        >= 0x0370 and <= 0x03FF => "Greek",
        >= 0xFF00 and <= 0xFFEF => "fullwidth",
        >= 0x0080 and <= 0x024F => "Latin with accents",
        _ when Rune.GetUnicodeCategory(rune) == UnicodeCategory.Format => "invisible",
        _ when Rune.IsControl(rune) => "control character",
        _ => "not ASCII",
    };
}
