using System.Net;
using IPNetwork = System.Net.IPNetwork;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Hosting;

/// <summary>
/// How people and tools reach this server when a reverse proxy terminates TLS in front of it (deploy/nginx.conf). The
/// proxy's <c>X-Forwarded-Proto</c> and <c>X-Forwarded-For</c> are believed only from the addresses the administrator
/// names (<see cref="ServeOptions.TrustedProxies"/>): from anyone else they are ignored, so a client cannot make a plain
/// http request look secure or spoof its address for rate limits and audit. Requests that arrive as https (directly or
/// through a trusted proxy) get HSTS; cookies are <c>Secure</c> on such requests, and always when the public URL is https.
/// </summary>
internal static class PublicAddress
{
    /// <summary>One year, as browsers' preload lists ask; sent only on https answers (RFC 6797 §7.2).</summary>
    public const string StrictTransportSecurity = "max-age=31536000";

    /// <summary>The trusted proxies as addresses and networks; throws <see cref="ServeException"/> naming the bad entry.</summary>
    public static IReadOnlyList<IPNetwork> ParseProxies(IReadOnlyList<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var networks = new List<IPNetwork>();
        foreach (var entry in entries)
        {
            var text = entry.Trim();
            if (IPAddress.TryParse(text, out var address))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else if (IPNetwork.TryParse(text, out var network))
            {
                networks.Add(network);
            }
            else
            {
                throw new ServeException("--trusted-proxy",
                    $"\"{text}\" is not an IP address or network; give the reverse proxy's address as seen by this server, such as 10.0.0.5 or 10.0.0.0/24 (separate several with commas)");
            }
        }

        return networks;
    }

    /// <summary>Cookies are sent over https only: on an https request, and on every request when the public URL is https.</summary>
    public static bool SecureCookies(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Request.IsHttps || context.RequestServices.GetRequiredService<ServeOptions>().PublicUrl?.Scheme == Uri.UriSchemeHttps;
    }

    /// <summary>The origin people reach the server at: the public URL when set, else the request's own (scheme as forwarded by a trusted proxy).</summary>
    public static string Origin(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.RequestServices.GetRequiredService<ServeOptions>().PublicUrl is { } url
            ? url.GetLeftPart(UriPartial.Authority)
            : context.Request.Scheme + "://" + context.Request.Host;
    }

    /// <summary>First in the pipeline: forwarded headers from trusted proxies only, then HSTS on https answers.</summary>
    public static void Use(WebApplication app, ServeOptions options)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(options);
        var proxies = ParseProxies(options.TrustedProxies);
        if (proxies.Count > 0)
        {
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto };
            // The defaults trust loopback; only the administrator's list is trusted.
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var network in proxies)
            {
                forwarded.KnownIPNetworks.Add(network);
            }

            app.UseForwardedHeaders(forwarded);
        }

        app.Use(async (context, next) =>
        {
            if (context.Request.IsHttps)
            {
                context.Response.Headers.StrictTransportSecurity = StrictTransportSecurity;
            }

            await next(context).ConfigureAwait(false);
        });
    }
}
