using System.Globalization;
using System.Text.RegularExpressions;

namespace Steward.Core.Json;

/// <summary>RFC 3339 date-times, as the Registry API uses them (<c>updated_since</c>, <c>publishedAt</c>).</summary>
public static partial class Rfc3339
{
    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();

    public static bool TryParse(string text, out DateTimeOffset value)
    {
        value = default;
        if (!Shape().IsMatch(text))
        {
            return false;
        }

        // .NET parses at most 7 fractional digits; the registry writes up to 9 (nanoseconds from Go). Trim the excess.
        var normalized = FractionOverflow().Replace(text, m => m.Groups[1].Value);
        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);
    }

    public static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"(\.[0-9]{7})[0-9]+", RegexOptions.CultureInvariant)]
    private static partial Regex FractionOverflow();
}
