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
/// Where Steward's outbound requests may connect (registry imports on the server; policy sources of
/// <c>steward login</c>/<c>sync</c>; remote MCP servers in the gateway): never to link-local or cloud metadata addresses —
/// 169.254.0.0/16 (169.254.169.254 included), fe80::/10, fd00:ec2::254, their IPv4-mapped forms, and the metadata host
/// names (<c>metadata.google.internal</c>, <c>metadata.goog</c>, <c>metadata</c>) — unless an administrator allows them
/// (<see cref="AllowLinkLocal"/>: the server's <c>STEWARD_IMPORT_ALLOW_LINK_LOCAL</c>, the agent's
/// <c>STEWARD_OUTBOUND_ALLOW_LINK_LOCAL</c>). The check runs in <see cref="SocketsHttpHandler.ConnectCallback"/>, after name
/// resolution and for every connection, so a name that resolves to a refused address (DNS rebinding included) is refused
/// too, and the socket connects to the very address that was checked. Every address of a name must pass.
/// </summary>
public sealed class OutboundAddressPolicy
{
    public const string AllowVariable = "STEWARD_OUTBOUND_ALLOW_LINK_LOCAL";

    private static readonly IPAddress AwsMetadataV6 = IPAddress.Parse("fd00:ec2::254");
    private static readonly string[] MetadataHosts = ["metadata.google.internal", "metadata.goog", "metadata"];

    /// <summary>The administrator allows link-local and metadata addresses (a deliberate choice, off by default).</summary>
    public bool AllowLinkLocal { get; init; }

    /// <summary>Every address must be loopback (plain http to this machine).</summary>
    public bool LoopbackOnly { get; init; }

    /// <summary>What the refusal says the connection was for ("imports", "policy sources", "remote servers").</summary>
    public string Purpose { get; init; } = "outbound requests";

    /// <summary>Name resolution; tests give their own.</summary>
    public Func<string, CancellationToken, Task<IPAddress[]>> Resolve { get; init; } = (host, cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);

    public static OutboundAddressPolicy Default { get; } = new();

    /// <summary>The policy for the agent: link-local allowed only when <see cref="AllowVariable"/> is <c>1</c> or <c>true</c>.</summary>
    public static OutboundAddressPolicy FromEnvironment(Func<string, string?>? environment = null, string purpose = "outbound requests")
    {
        var value = (environment ?? Environment.GetEnvironmentVariable)(AllowVariable);
        return new OutboundAddressPolicy { AllowLinkLocal = value is "1" or "true", Purpose = purpose };
    }

    /// <summary>169.254.0.0/16, fe80::/10, fd00:ec2::254, and their IPv4-mapped forms.</summary>
    public static bool IsLinkLocalOrMetadata(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var bytes = address.GetAddressBytes();
            return bytes[0] == 169 && bytes[1] == 254;
        }

        return address.IsIPv6LinkLocal || address.Equals(AwsMetadataV6);
    }

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
        var refused = addresses.FirstOrDefault(a => (!AllowLinkLocal && IsLinkLocalOrMetadata(a)) || (LoopbackOnly && !IPAddress.IsLoopback(a)));
        if (addresses.Length == 0 || refused is not null)
        {
            var what = refused is not null && IsLinkLocalOrMetadata(refused) ? "a link-local or cloud metadata address" : "an address that is not loopback (plain http goes to this machine only)";
            throw new OutboundRefusedException(refused is null
                ? $"{host} resolves to no address"
                : $"{host} resolves to {refused}, {what}; {Purpose} may not reach it");
        }

        return addresses;
    }

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

    /// <summary>A handler whose every connection passes this policy; redirects are not followed (callers follow them by hand, re-checking each hop).</summary>
    public SocketsHttpHandler CreateHandler(TimeSpan? connectTimeout = null) => new()
    {
        AllowAutoRedirect = false,
        ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10),
        ConnectCallback = ConnectAsync,
    };
}
