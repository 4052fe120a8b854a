using System.Net;
using System.Net.Sockets;

namespace Steward.Core.Net;

/// <summary>An outbound connection refused by <see cref="OutboundAddressPolicy"/>, with the reason.</summary>
public sealed class OutboundRefusedException : Exception
{
    public OutboundRefusedException()
    {
    }

    public OutboundRefusedException(string message) : base(message)
    {
    }

    public OutboundRefusedException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>
/// Where Steward's outbound requests may connect (registry imports, OIDC discovery and keys, and model upstreams on the
/// server; the CLI's requests to a Steward server and to a policy source; remote MCP servers in the gateway): never to
/// link-local or cloud metadata addresses (<see cref="IsLinkLocalOrMetadata"/>: 169.254.0.0/16 with 169.254.169.254,
/// 100.100.100.200, fe80::/10, fd00:ec2::254, fd20:ce::254, and those IPv4 addresses embedded in IPv4-mapped, NAT64
/// 64:ff9b::/96 and 6to4 2002::/16 addresses) nor the metadata host names (<c>metadata.google.internal</c>,
/// <c>metadata.goog</c>, <c>metadata</c>), unless an administrator allows them (<see cref="AllowLinkLocal"/>: the server's
/// <c>STEWARD_IMPORT_ALLOW_LINK_LOCAL</c>, the agent's <c>STEWARD_OUTBOUND_ALLOW_LINK_LOCAL</c>). With
/// <see cref="RefusePrivate"/> (URLs an organisation admin gives the server) loopback and private addresses are refused
/// too (<see cref="IsLoopbackOrPrivate"/>), except those <see cref="AllowPrivate"/> names. The check runs in
/// <see cref="SocketsHttpHandler.ConnectCallback"/>, after name resolution and for every connection, so a name that
/// resolves to a refused address (DNS rebinding included) is refused too, and the socket connects to the very address
/// that was checked. Every address of a name must pass.
/// </summary>
public sealed class OutboundAddressPolicy
{
    public const string AllowVariable = "STEWARD_OUTBOUND_ALLOW_LINK_LOCAL";

    private static readonly IPAddress[] MetadataV6 = [IPAddress.Parse("fd00:ec2::254"), IPAddress.Parse("fd20:ce::254")];
    private static readonly IPAddress AlibabaMetadata = IPAddress.Parse("100.100.100.200");
    private static readonly string[] MetadataHosts = ["metadata.google.internal", "metadata.goog", "metadata"];
    private static readonly IPNetwork[] PrivateNetworks =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("224.0.0.0/4"),
        IPNetwork.Parse("240.0.0.0/4"), IPNetwork.Parse("::/128"), IPNetwork.Parse("::1/128"), IPNetwork.Parse("fc00::/7"),
        IPNetwork.Parse("fec0::/10"), IPNetwork.Parse("ff00::/8"),
    ];

    /// <summary>The administrator allows link-local and metadata addresses (a deliberate choice, off by default).</summary>
    public bool AllowLinkLocal { get; init; }

    /// <summary>Every address must be loopback (plain http to this machine).</summary>
    public bool LoopbackOnly { get; init; }

    /// <summary>Loopback and private addresses are refused too (<see cref="IsLoopbackOrPrivate"/>), except what <see cref="AllowPrivate"/> names.</summary>
    public bool RefusePrivate { get; init; }

    /// <summary>With <see cref="RefusePrivate"/>, loopback addresses still pass (a server started for tests or local mirrors).</summary>
    public bool AllowLoopback { get; init; }

    /// <summary>With <see cref="RefusePrivate"/>, the ranges and host names that may still be reached; never lifts the link-local rule.</summary>
    public OutboundAllowList AllowPrivate { get; init; } = OutboundAllowList.Empty;

    /// <summary>What the refusal says the connection was for ("imports", "policy sources", "remote servers").</summary>
    public string Purpose { get; init; } = "outbound requests";

    /// <summary>Name resolution; tests give their own.</summary>
    public Func<string, CancellationToken, Task<IPAddress[]>> Resolve { get; init; } = (host, cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);

    /// <summary>Certificate authorities trusted in addition to the platform's (<see cref="OutboundTrust"/>); null for the platform's only.</summary>
    public OutboundTrust? Trust { get; init; }

    public static OutboundAddressPolicy Default { get; } = new();

    /// <summary>The policy for the agent: link-local allowed only when <see cref="AllowVariable"/> is <c>1</c> or <c>true</c>.</summary>
    public static OutboundAddressPolicy FromEnvironment(Func<string, string?>? environment = null, string purpose = "outbound requests")
    {
        var value = (environment ?? Environment.GetEnvironmentVariable)(AllowVariable);
        return new OutboundAddressPolicy { AllowLinkLocal = value is "1" or "true", Purpose = purpose, Trust = OutboundTrust.FromEnvironment(environment) };
    }

    /// <summary>
    /// Whether the address is link-local or a cloud metadata service: 169.254.0.0/16 (AWS, GCP, Azure 169.254.169.254),
    /// 100.100.100.200 (Alibaba), fe80::/10, fd00:ec2::254 (AWS), fd20:ce::254 (GCP); an IPv4 address embedded in an
    /// IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address is judged as that IPv4 address.
    /// </summary>
    public static bool IsLinkLocalOrMetadata(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (EmbeddedIPv4(address) is { } embedded)
        {
            address = embedded;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var bytes = address.GetAddressBytes();
            return (bytes[0] == 169 && bytes[1] == 254) || address.Equals(AlibabaMetadata);
        }

        return address.IsIPv6LinkLocal || MetadataV6.Contains(address);
    }

    /// <summary>
    /// Whether the address is loopback or private, or not a unicast destination on the internet: 0.0.0.0/8, 10.0.0.0/8,
    /// 100.64.0.0/10 (CGNAT), 127.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 198.18.0.0/15, 224.0.0.0/4 (multicast),
    /// 240.0.0.0/4 (255.255.255.255 included), ::, ::1, fc00::/7, fec0::/10, ff00::/8; embedded IPv4 addresses as in
    /// <see cref="IsLinkLocalOrMetadata"/>. Link-local addresses are <see cref="IsLinkLocalOrMetadata"/>'s.
    /// </summary>
    public static bool IsLoopbackOrPrivate(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (EmbeddedIPv4(address) is { } embedded)
        {
            address = embedded;
        }

        return PrivateNetworks.Any(n => n.Contains(address));
    }

    /// <summary>
    /// A resolved address is loopback, embedded forms included (::ffff:127.0.0.1, 64:ff9b::7f00:1). For a URL's host,
    /// before any connection, the rule is <see cref="UrlRules.IsLoopback"/>.
    /// </summary>
    public static bool IsLoopback(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return IPAddress.IsLoopback(EmbeddedIPv4(address) ?? address);
    }

    /// <summary>The IPv4 address an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::) address leads to; null for others.</summary>
    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        if (bytes[..12].SequenceEqual(Nat64Prefix))
        {
            return new IPAddress(bytes[12..]);
        }

        return bytes[0] == 0x20 && bytes[1] == 0x02 ? new IPAddress(bytes[2..6]) : null;
    }

    private static ReadOnlySpan<byte> Nat64Prefix => [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

    public static bool IsMetadataHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return MetadataHosts.Contains(host.TrimEnd('.'), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Checks a URL's host before any request: why it is refused (a literal address or a metadata name), or null.</summary>
    public string? Refusal(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (AllowLinkLocal || !url.IsAbsoluteUri)
        {
            return null;
        }

        var host = url.IdnHost.TrimEnd('.');
        if (IsMetadataHost(host))
        {
            return $"{host} is a cloud metadata service; {Purpose} may not reach it";
        }

        return IPAddress.TryParse(url.Host.Trim('[', ']'), out var literal) && IsLinkLocalOrMetadata(literal)
            ? $"{literal} is a link-local or cloud metadata address; {Purpose} may not reach it"
            : null;
    }

    /// <summary>The addresses of <paramref name="host"/> this policy allows; throws <see cref="OutboundRefusedException"/> when any is refused.</summary>
    public async Task<IReadOnlyList<IPAddress>> AllowedAddressesAsync(string host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (!AllowLinkLocal && IsMetadataHost(host))
        {
            throw new OutboundRefusedException($"{host} is a cloud metadata service; {Purpose} may not reach it");
        }

        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Resolve(host, cancellationToken).ConfigureAwait(false);
        var refused = addresses.FirstOrDefault(a => Refuses(host, a));
        if (addresses.Length == 0 || refused is not null)
        {
            var what = refused is null ? "" : !AllowLinkLocal && IsLinkLocalOrMetadata(refused) ? "a link-local or cloud metadata address"
                : LoopbackOnly && !IsLoopback(refused) ? "an address that is not loopback (plain http goes to this machine only)"
                : "a loopback or private address";
            throw new OutboundRefusedException(refused is null
                ? $"{host} resolves to no address"
                : $"{host} resolves to {refused}, {what}; {Purpose} may not reach it");
        }

        return addresses;
    }

    private bool Refuses(string host, IPAddress address) =>
        (!AllowLinkLocal && IsLinkLocalOrMetadata(address))
        || (LoopbackOnly && !IsLoopback(address))
        || (RefusePrivate && IsLoopbackOrPrivate(address) && !(AllowLoopback && IsLoopback(address)) && !AllowPrivate.Allows(host, address));

    /// <summary>For <see cref="SocketsHttpHandler.ConnectCallback"/>: connects only to an address this policy allows.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.DnsEndPoint;
        var allowed = await AllowedAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        Exception? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
        }

        throw new HttpRequestException($"cannot connect to {endpoint.Host}:{endpoint.Port}", last);
    }

    /// <summary>
    /// A handler whose every connection passes this policy; redirects are not followed (callers follow them by hand,
    /// re-checking each hop). A proxy from the environment (<c>HTTPS_PROXY</c>) is used unless <paramref name="useProxy"/>
    /// is false; then the policy checks the proxy's address, not the target's: server-side clients pass false.
    /// </summary>
    public SocketsHttpHandler CreateHandler(TimeSpan? connectTimeout = null, bool useProxy = true)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = useProxy,
            ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10),
            ConnectCallback = ConnectAsync,
        };
        Trust?.Apply(handler);
        return handler;
    }
}
