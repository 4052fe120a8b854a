using System.Globalization;
using System.Net;

namespace Steward.Core.Net;

/// <summary>
/// The loopback and private destinations an administrator lets <see cref="OutboundAddressPolicy.RefusePrivate"/> policies
/// reach anyway: comma-separated CIDR ranges (<c>10.1.0.0/16</c>, <c>fd12:3456::/48</c>), single addresses
/// (<c>192.168.1.20</c>) and host names (<c>registry.internal</c>: that exact name, whatever it resolves to; no wildcards).
/// Link-local and cloud metadata addresses stay refused whatever the list says.
/// </summary>
public sealed class OutboundAllowList
{
    private readonly IPNetwork[] _networks;
    private readonly string[] _hosts;

    private OutboundAllowList(IPNetwork[] networks, string[] hosts)
    {
        _networks = networks;
        _hosts = hosts;
    }

    public static OutboundAllowList Empty { get; } = new([], []);

    public IReadOnlyList<IPNetwork> Networks => _networks;

    public IReadOnlyList<string> Hosts => _hosts;

    public bool IsEmpty => _networks.Length == 0 && _hosts.Length == 0;

    /// <summary>Whether a connection to <paramref name="address"/>, which <paramref name="host"/> resolved to (or is), is on the list.</summary>
    public bool Allows(string host, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(address);
        var name = host.Trim('[', ']').TrimEnd('.');
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return _hosts.Contains(name, StringComparer.OrdinalIgnoreCase) || _networks.Any(n => n.Contains(plain));
    }

    /// <summary>Parses the comma-separated list; <paramref name="error"/> names the first entry that is not a range, an address or a host name.</summary>
    public static OutboundAllowList? Parse(string? text, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return Empty;
        }

        var networks = new List<IPNetwork>();
        var hosts = new List<string>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var entry = raw.Trim('[', ']');
            if (entry.Contains('/', StringComparison.Ordinal))
            {
                if (!IPNetwork.TryParse(entry, out var network) || !IPAddress.TryParse(entry[..entry.IndexOf('/', StringComparison.Ordinal)], out var start) || !start.Equals(network.BaseAddress))
                {
                    error = $"\"{raw}\" is not a CIDR range (expected a base address and a prefix length with no host bits set, such as 10.1.0.0/16)";
                    return null;
                }

                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
                networks.Add(new IPNetwork(plain, plain.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else if (Uri.CheckHostName(entry.TrimEnd('.')) == UriHostNameType.Dns && !entry.Contains('*', StringComparison.Ordinal))
            {
                hosts.Add(entry.TrimEnd('.').ToLower(CultureInfo.InvariantCulture));
            }
            else
            {
                error = $"\"{raw}\" is not a CIDR range, an address or a host name (expected a list such as 10.1.0.0/16,registry.internal)";
                return null;
            }
        }

        return new OutboundAllowList([.. networks], [.. hosts.Distinct(StringComparer.Ordinal)]);
    }
}
