using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Steward.Core.Net;

namespace Steward.Server.Hosting;

/// <summary>
/// Where the server's own outbound requests may connect, by who gave the URL (<see cref="OutboundAddressPolicy"/> in
/// each client's <see cref="SocketsHttpHandler.ConnectCallback"/>, no proxy):
/// <list type="bullet">
/// <item>never link-local or cloud metadata addresses, unless <see cref="ServeOptions.AllowLinkLocalImport"/>;</item>
/// <item>URLs of an organisation admin who is not a server administrator (registry imports, the organisation's OIDC
/// issuer and the endpoints its discovery document names): no loopback or private address either, except the ranges
/// and hosts of <see cref="ServeOptions.OutboundAllowPrivate"/> (and loopback when the server is started with
/// <see cref="ServeOptions.AllowHttpLoopbackImport"/> or <see cref="ServeOptions.AllowHttpLoopbackOidc"/>);</item>
/// <item>URLs of a server administrator (the first organisation's imports and OIDC issuer, the model upstreams): private
/// addresses too — they run the machine.</item>
/// </list>
/// Certificates are validated against the platform's CAs and those of <see cref="ServeOptions.OutboundCaFile"/>.
/// </summary>
internal sealed class ServerOutbound(ServeOptions options, OutboundAllowList allowPrivate, OutboundTrust? trust = null)
{
    /// <summary>What a fetch of a URL someone gave says when it did not get an answer: the same for a refused or failed connection, a failed TLS handshake and the address policy, so that it cannot scan ports.</summary>
    public const string ConnectionFailed = "the connection failed or was refused (connect, TLS or address policy)";

    private static readonly OutboundAddressPolicy Default = new();

    /// <summary>The policy for URLs given by a server administrator (<paramref name="serverAdministrator"/>) or an organisation admin; <paramref name="devLoopback"/> lets the latter reach loopback.</summary>
    public OutboundAddressPolicy Policy(bool serverAdministrator, string purpose, bool devLoopback = false, bool loopbackOnly = false) => new()
    {
        AllowLinkLocal = options.AllowLinkLocalImport,
        LoopbackOnly = loopbackOnly,
        RefusePrivate = !serverAdministrator,
        AllowLoopback = devLoopback,
        AllowPrivate = allowPrivate,
        Purpose = serverAdministrator ? purpose : purpose + " of an organisation",
        Resolve = options.Resolve ?? Default.Resolve,
        Trust = trust,
    };

    /// <summary>A handler whose connections pass <paramref name="policy"/>; no proxy, no redirects.</summary>
    public static SocketsHttpHandler Handler(OutboundAddressPolicy policy, TimeSpan connectTimeout, TimeSpan? pooledConnectionLifetime = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var handler = policy.CreateHandler(connectTimeout, useProxy: false);
        if (pooledConnectionLifetime is { } lifetime)
        {
            handler.PooledConnectionLifetime = lifetime;
        }

        return handler;
    }

    /// <summary>
    /// Whether <paramref name="exception"/> (or one it wraps) says the request got no answer: the address policy refused,
    /// the name did not resolve, the connection or the TLS handshake failed, or it timed out.
    /// </summary>
    public static bool IsConnectionFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is OutboundRefusedException or SocketException or AuthenticationException or TimeoutException
                || e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.ProxyTunnelError })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>For the server's log: the exception's type and message, and those of the innermost one it wraps (never a header or a body).</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var inner = exception.GetBaseException();
        return inner == exception ? $"{exception.GetType().Name}: {exception.Message}" : $"{exception.GetType().Name}: {exception.Message} ({inner.GetType().Name}: {inner.Message})";
    }
}
