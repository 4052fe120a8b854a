using System.Text.RegularExpressions;

namespace Steward.Core.Registry;

/// <summary>
/// Version strings as the official registry treats them. A version is "semantic" when it is exactly
/// <c>MAJOR.MINOR.PATCH</c> with an optional single <c>-prerelease</c> of letters, digits and dots; two semantic
/// versions compare numerically and then by prerelease (none beats any; otherwise SemVer precedence); two others compare by
/// publish time; a semantic version always beats a non-semantic one.
/// </summary>
public static partial class ServerVersions
{
    public const string Latest = "latest";

    public static bool IsSemantic(string version)
    {
        var dash = version.IndexOf('-', StringComparison.Ordinal);
        var core = dash < 0 ? version : version[..dash];
        if (dash >= 0)
        {
            var prerelease = version[(dash + 1)..];
            if (prerelease.Length == 0 || prerelease.Contains('-', StringComparison.Ordinal))
            {
                return false;
            }

            foreach (var c in prerelease)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '.')
                {
                    return false;
                }
            }
        }

        var parts = core.Split('.');
        return parts.Length == 3 && parts.All(p => TryParseNumber(p, out _));
    }

    /// <summary>Compares two semantic versions (both must satisfy <see cref="IsSemantic"/>).</summary>
    public static int CompareSemantic(string a, string b)
    {
        var (coreA, preA) = Split(a);
        var (coreB, preB) = Split(b);
        var partsA = coreA.Split('.');
        var partsB = coreB.Split('.');
        for (var i = 0; i < 3; i++)
        {
            TryParseNumber(partsA[i], out var x);
            TryParseNumber(partsB[i], out var y);
            if (x != y)
            {
                return x < y ? -1 : 1;
            }
        }

        return (preA, preB) switch
        {
            (null, null) => 0,
            (null, _) => 1,
            (_, null) => -1,
            _ => ComparePrerelease(preA, preB),
        };
    }

    /// <summary>
    /// SemVer 2.0.0 precedence of two prereleases: identifier by identifier, numeric ones numerically and below
    /// alphanumeric ones, alphanumeric ones in ASCII order, and a shorter list first when all shared ones are equal.
    /// </summary>
    private static int ComparePrerelease(string a, string b)
    {
        var partsA = a.Split('.');
        var partsB = b.Split('.');
        for (var i = 0; i < Math.Min(partsA.Length, partsB.Length); i++)
        {
            var x = partsA[i];
            var y = partsB[i];
            var numericX = x.Length > 0 && x.All(char.IsAsciiDigit);
            var numericY = y.Length > 0 && y.All(char.IsAsciiDigit);
            var order = (numericX, numericY) switch
            {
                (true, true) => CompareDigits(x, y),
                (true, false) => -1,
                (false, true) => 1,
                _ => Math.Sign(string.CompareOrdinal(x, y)),
            };
            if (order != 0)
            {
                return order;
            }
        }

        return partsA.Length.CompareTo(partsB.Length) switch { < 0 => -1, > 0 => 1, _ => 0 };
    }

    /// <summary>Compares two runs of ASCII digits of any length by numeric value.</summary>
    private static int CompareDigits(string x, string y)
    {
        x = x.TrimStart('0');
        y = y.TrimStart('0');
        return x.Length != y.Length ? (x.Length < y.Length ? -1 : 1) : Math.Sign(string.CompareOrdinal(x, y));
    }

    /// <summary>The registry's ordering of two versions of one server: &lt;0, 0 or &gt;0.</summary>
    public static int Compare(string a, DateTimeOffset aPublishedAt, string b, DateTimeOffset bPublishedAt)
    {
        var semanticA = IsSemantic(a);
        var semanticB = IsSemantic(b);
        return (semanticA, semanticB) switch
        {
            (true, true) => CompareSemantic(a, b),
            (false, false) => aPublishedAt.CompareTo(bPublishedAt) switch { < 0 => -1, > 0 => 1, _ => 0 },
            (true, false) => 1,
            (false, true) => -1,
        };
    }

    /// <summary>
    /// The latest of a server's versions: the one no other version beats. On a tie the earlier in the sequence wins,
    /// as the registry keeps the current latest unless a new version compares strictly greater.
    /// </summary>
    public static T? PickLatest<T>(IEnumerable<T> versions, Func<T, string> version, Func<T, DateTimeOffset> publishedAt)
    {
        var found = false;
        T? best = default;
        foreach (var candidate in versions)
        {
            if (!found || Compare(version(candidate), publishedAt(candidate), version(best!), publishedAt(best!)) > 0)
            {
                best = candidate;
                found = true;
            }
        }

        return best;
    }

    /// <summary>True for a range or wildcard rather than one version: <c>^1.2.3</c>, <c>~1.2</c>, <c>&gt;=1.0.0</c>, <c>1.x</c>, <c>1.2.*</c>, <c>1 - 2</c>, <c>1.2 || 1.3</c>.</summary>
    public static bool LooksLikeRange(string version)
    {
        var trimmed = version.Trim();
        if (trimmed.Length == 0)
        {
            return false;
        }

        if (ComparatorRange().IsMatch(trimmed) || HyphenRange().IsMatch(trimmed) || OrRange().IsMatch(trimmed))
        {
            return true;
        }

        if (!DottedWildcard().IsMatch(trimmed))
        {
            return false;
        }

        // Only a wildcard among the dotted numbers makes a range. The official registry also looks inside the
        // prerelease and so refuses "1.0.0-next" or "2.0.0-beta.x"; those are single versions and are accepted here.
        var dash = trimmed.IndexOf('-', StringComparison.Ordinal);
        var core = dash < 0 ? trimmed : trimmed[..dash];
        return core.Contains('x', StringComparison.Ordinal) || core.Contains('X', StringComparison.Ordinal) || core.Contains('*', StringComparison.Ordinal);
    }

    private static (string Core, string? Prerelease) Split(string version)
    {
        var dash = version.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? (version, null) : (version[..dash], version[(dash + 1)..]);
    }

    /// <summary>A decimal integer with an optional sign that fits in 64 bits, as Go's <c>strconv.Atoi</c> accepts it.</summary>
    private static bool TryParseNumber(string text, out long value)
    {
        value = 0;
        var digits = text.AsSpan();
        var negative = false;
        if (digits.Length > 0 && (digits[0] == '+' || digits[0] == '-'))
        {
            negative = digits[0] == '-';
            digits = digits[1..];
        }

        if (digits.Length == 0)
        {
            return false;
        }

        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            var next = (value * 10) + (c - '0');
            if (value > (long.MaxValue - (c - '0')) / 10)
            {
                return false;
            }

            value = next;
        }

        value = negative ? -value : value;
        return true;
    }

    private const string Num = @"v?[0-9]+(?:\.[0-9]+){0,3}(?:-[0-9A-Za-z.-]+)?";

    [GeneratedRegex(@"^\s*(?:\^|~|>=|<=|>|<|=)\s*" + Num + @"\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex ComparatorRange();

    [GeneratedRegex(@"^\s*" + Num + @"\s-\s*" + Num + @"\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex HyphenRange();

    [GeneratedRegex(@"^\s*(?:" + Num + @"\s*)(?:\|\|\s*" + Num + @"\s*)+$", RegexOptions.CultureInvariant)]
    private static partial Regex OrRange();

    [GeneratedRegex(@"^\s*(?:v?[0-9]+|x|X|\*)(?:\.(?:[0-9]+|x|X|\*)){1,2}(?:-[0-9A-Za-z.-]+)?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex DottedWildcard();
}
