using System.Text.RegularExpressions;

namespace Steward.Core.Validation;

/// <summary>
/// URLs and values holding <c>{variable}</c> templates: which variables they use, and whether they are valid URLs
/// once every variable is replaced by a placeholder of the right kind (a host, a port or a path segment).
/// </summary>
public static partial class UrlTemplates
{
    /// <summary>The names inside <c>{...}</c> in <paramref name="text"/>, in order of appearance, repeats kept.</summary>
    public static IReadOnlyList<string> Variables(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Contains('{', StringComparison.Ordinal))
        {
            return [];
        }

        return Template().Matches(text).Select(m => m.Groups[1].Value).ToList();
    }

    /// <summary>
    /// The URL with its variables replaced so that it can be parsed: a leading <c>{baseUrl}</c> by an https base URL,
    /// <c>{host}</c> by a host name, a variable in port position by a port number, any other by a plain word.
    /// </summary>
    public static string Substitute(string url)
    {
        if (!url.Contains('{', StringComparison.Ordinal))
        {
            return url;
        }

        // A whole base URL as the first variable ("{baseUrl}/mcp"), as the draft schema allows.
        var result = LeadingBase().Replace(url, "https://placeholder.example", 1)
            .Replace("{host}", "example.com", StringComparison.Ordinal)
            .Replace("{port}", "8080", StringComparison.Ordinal)
            .Replace("{path}", "api", StringComparison.Ordinal)
            .Replace("{protocol}", "http", StringComparison.Ordinal)
            .Replace("{scheme}", "http", StringComparison.Ordinal);
        result = PortTemplate().Replace(result, ":8080$2");
        return Template().Replace(result, "placeholder");
    }

    /// <summary>
    /// Parses an absolute URL written with an explicit scheme. Unlike <see cref="Uri.TryCreate(string, UriKind, out Uri)"/>
    /// alone, a rooted path such as <c>/icon.png</c> is not taken for a <c>file:</c> URL.
    /// </summary>
    public static bool TryParseAbsolute(string? text, out Uri uri)
    {
        uri = null!;
        if (string.IsNullOrEmpty(text) || !SchemePrefix().IsMatch(text))
        {
            return false;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed))
        {
            return false;
        }

        uri = parsed;
        return true;
    }

    /// <summary>True when the text, variables substituted, is an http or https URL with a host and no whitespace.</summary>
    public static bool IsHttpUrl(string url, out Uri uri)
    {
        uri = null!;
        if (url.Any(char.IsWhiteSpace))
        {
            return false;
        }

        var substituted = Substitute(url);
        if (!TryParseAbsolute(substituted, out var parsed) ||
            !(parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps) ||
            parsed.Host.Length == 0)
        {
            return false;
        }

        uri = parsed;
        return true;
    }

    /// <summary>
    /// The variable that chooses a URL's scheme (<c>{scheme}://…</c>, <c>http{s}://…</c>, or a leading <c>{baseUrl}</c> that
    /// stands for the whole origin); null when the scheme is written out.
    /// </summary>
    public static string? SchemeVariable(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var match = SchemePart().Match(url);
        if (match.Success)
        {
            return Template().Match(match.Groups[1].Value) is { Success: true } inScheme ? inScheme.Groups[1].Value : null;
        }

        return LeadingBase().Match(url) is { Success: true } leading ? leading.Value.Trim('{', '}') : null;
    }

    [GeneratedRegex(@"\{([^}]+)\}", RegexOptions.CultureInvariant)]
    private static partial Regex Template();

    [GeneratedRegex(@":(\{[^}]+\})(/|$)", RegexOptions.CultureInvariant)]
    private static partial Regex PortTemplate();

    [GeneratedRegex(@"^\{[a-zA-Z_][a-zA-Z0-9_]*\}", RegexOptions.CultureInvariant)]
    private static partial Regex LeadingBase();

    [GeneratedRegex(@"^([^:/?#]*)://", RegexOptions.CultureInvariant)]
    private static partial Regex SchemePart();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.-]*:", RegexOptions.CultureInvariant)]
    private static partial Regex SchemePrefix();
}
