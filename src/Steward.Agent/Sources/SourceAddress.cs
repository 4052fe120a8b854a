using Steward.Core.Net;

namespace Steward.Agent.Sources;

/// <summary>
/// The transport rules for a policy source: https with a certificate a trusted CA signed (the platform's default
/// validation, never bypassed); plain http only when asked for with <c>--allow-http</c>, and then only to this machine.
/// </summary>
public static class SourceAddress
{
    /// <summary>Null when <paramref name="uri"/> may be used; otherwise a one-line reason naming the value and the fix.</summary>
    public static string? Check(Uri uri, bool allowHttp)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
        {
            return $"{uri} is not an http(s) URL; give an https URL or the path of a local registry file";
        }

        if (uri.UserInfo.Length > 0)
        {
            return $"the URL {Redacted(uri)} carries credentials, which would be stored in clear; remove them and give the token with --token or STEWARD_TOKEN";
        }

        if (!UrlRules.Allows(uri, allowLoopbackHttp: allowHttp))
        {
            return allowHttp
                ? $"--allow-http is only for loopback addresses (localhost, 127.0.0.1, ::1), not {uri.Host}; serve the registry over https with a certificate signed by a trusted CA"
                : $"{uri} uses plain http; Steward fetches policy only over https with a certificate signed by a trusted CA (for a registry on this machine, add --allow-http)";
        }

        return null;
    }

    /// <summary>The URL without user information, for messages.</summary>
    public static string Redacted(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return uri.UserInfo.Length == 0 ? uri.ToString() : new UriBuilder(uri) { UserName = "", Password = "" }.Uri.ToString();
    }
}
