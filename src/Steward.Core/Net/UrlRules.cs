using System.Net;
using Steward.Core.Validation;

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
    /// <summary>What <see cref="JudgeTemplate"/> found.</summary>
    public enum TemplateVerdict
    {
        /// <summary>Every value the variables can take leaves the URL within the rule.</summary>
        Allowed,

        /// <summary>Not an absolute http or https URL, even with its variables replaced.</summary>
        NotHttp,

        /// <summary>A variable stands for the scheme or part of it (<c>{scheme}://</c>, <c>http{s}://</c>, a leading <c>{baseUrl}</c>).</summary>
        SchemeVariable,

        /// <summary>Plain http to a host written out that is not loopback, or where loopback http is not allowed.</summary>
        PlainHttp,

        /// <summary>Plain http to a host that holds a variable: the values, not the template, would decide whether it is loopback.</summary>
        PlainHttpVariableHost,
    }

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

    /// <summary>
    /// The rule for a URL template with <c>{name}</c> variables (a server.json remote), judged before any value is known:
    /// a variable may not stand for the scheme, since a value could turn https into http; when the host holds a variable,
    /// only the scheme is judged and it must be https, since a value could make the host loopback or not; a template
    /// whose host is written out is judged as <see cref="Allows"/> judges a URL.
    /// </summary>
    public static TemplateVerdict JudgeTemplate(string template, bool allowLoopbackHttp)
    {
        ArgumentNullException.ThrowIfNull(template);
        if (UrlTemplates.SchemeVariable(template) is not null)
        {
            return TemplateVerdict.SchemeVariable;
        }

        if (!UrlTemplates.TryParseAbsolute(UrlTemplates.Substitute(template), out var url) ||
            (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp) || url.Host.Length == 0)
        {
            return TemplateVerdict.NotHttp;
        }

        if (url.Scheme == Uri.UriSchemeHttps)
        {
            return TemplateVerdict.Allowed;
        }

        if (HostHasVariable(template))
        {
            return TemplateVerdict.PlainHttpVariableHost;
        }

        return Allows(url, allowLoopbackHttp) ? TemplateVerdict.Allowed : TemplateVerdict.PlainHttp;
    }

    /// <summary>
    /// Whether the host of a URL template holds a variable: the text after <c>://</c> up to the path, query or fragment
    /// (outside a variable's braces), without user information or port. Without <c>://</c> nothing says where the host
    /// is, so any variable counts.
    /// </summary>
    internal static bool HostHasVariable(string template)
    {
        var scheme = template.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            return template.Contains('{', StringComparison.Ordinal);
        }

        var start = scheme + 3;
        var end = start;
        var inVariable = false;
        for (; end < template.Length; end++)
        {
            var c = template[end];
            if (c == '{')
            {
                inVariable = true;
            }
            else if (c == '}')
            {
                inVariable = false;
            }
            else if (!inVariable && c is '/' or '?' or '#')
            {
                break;
            }
        }

        var host = template[start..end];
        host = host[(host.LastIndexOf('@') + 1)..];
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']', StringComparison.Ordinal);
            host = close < 0 ? host : host[..(close + 1)];
        }
        else if (host.LastIndexOf(':') is var colon and >= 0)
        {
            host = host[..colon];
        }

        return host.Contains('{', StringComparison.Ordinal);
    }
}
