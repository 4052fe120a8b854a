using System.Net;

namespace Steward.Core.Net;

/// <summary>
/// The one transport rule for every URL Steward connects to or admits: https to any host; plain http only to a
/// loopback host, and only where the caller allows it (a flag, a development option, or always for a URL the user typed
/// for their own machine). A loopback host is <c>localhost</c>, an address in 127.0.0.0/8, or ::1 (an IPv4-mapped
/// ::ffff:127.x.x.x included: it is the same socket).
/// </summary>
/// <remarks>
/// Why loopback may go without TLS: traffic to it never leaves the machine, so nothing on the network can read or
/// change it, which is what https protects against here. <c>localhost</c> counts because it is reserved for loopback
/// (RFC 6761 §6.3) and every platform Steward runs on answers it from the hosts file. Names under <c>.localhost</c>, and
/// <c>localhost.</c> with its trailing dot, do not count for allowing http: many resolvers send them to DNS, which may
/// answer anything. They do count for <see cref="PointsAtThisMachine"/>, which refuses, where the wider set is the safer one.
/// </remarks>
public static class UrlRules
{
    /// <summary>True for an absolute https URL, and for an absolute http URL to a loopback host when <paramref name="allowLoopbackHttp"/>.</summary>
    public static bool Allows(Uri url, bool allowLoopbackHttp)
    {
        ArgumentNullException.ThrowIfNull(url);
        return url.IsAbsoluteUri &&
               (url.Scheme == Uri.UriSchemeHttps || (allowLoopbackHttp && url.Scheme == Uri.UriSchemeHttp && IsLoopback(url)));
    }

    /// <summary>Whether an absolute URL's host is a loopback host (<c>localhost</c>, 127.0.0.0/8, ::1), whatever its scheme.</summary>
    public static bool IsLoopback(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);

        // IdnHost: Uri has already turned the alias "loopback" into "localhost" and 127.1 or 2130706433 into 127.0.0.1,
        // and these are the names the connection is made to.
        return url.IsAbsoluteUri && IsLoopbackHost(url.IdnHost);
    }

    /// <summary>Whether a bare host (a <c>Host</c> header's, with or without brackets around an IPv6 address) is a loopback host.</summary>
    public static bool IsLoopbackHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var literal = host.Length > 2 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
        return IPAddress.TryParse(literal, out var address) && IPAddress.IsLoopback(address);
    }

    /// <summary>
    /// Whether a URL may reach this machine: a loopback host, or a name under <c>.localhost</c> (trailing dot or not).
    /// For refusing (a remote must be another machine), so it takes the wider set.
    /// </summary>
    public static bool PointsAtThisMachine(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri)
        {
            return false;
        }

        var host = url.IdnHost.TrimEnd('.');
        return IsLoopbackHost(host) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }
}
