using System.Globalization;

namespace Steward.Core.Admission;

/// <summary>
/// Remote URLs as admission compares them. Canonical form: scheme and host lower case, the host's trailing dot dropped,
/// international host names in punycode, the default port dropped, the fragment dropped, the path and query kept as
/// they are (case-sensitive) after <see cref="Uri"/>'s own normalisation (dot segments removed, an empty path is
/// <c>/</c>), user information kept (so a URL carrying credentials never equals one without).
/// </summary>
public static class RemoteUrls
{
    /// <summary>The canonical form of an absolute http or https URL, or null for anything else.</summary>
    public static string? Canonicalize(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return null;
        }

        return Canonicalize(uri);
    }

    internal static string Canonicalize(Uri uri)
    {
        var host = Host(uri);
        var port = uri.IsDefaultPort ? "" : ":" + uri.Port.ToString(CultureInfo.InvariantCulture);
        var user = uri.UserInfo.Length > 0 ? uri.GetComponents(UriComponents.UserInfo, UriFormat.UriEscaped) + "@" : "";
        return uri.Scheme + "://" + user + host + port + uri.GetComponents(UriComponents.PathAndQuery, UriFormat.UriEscaped);
    }

    internal static string Host(Uri uri) => uri.IdnHost.ToLowerInvariant().TrimEnd('.');
}
