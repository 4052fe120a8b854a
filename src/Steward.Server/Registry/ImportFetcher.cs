using System.Net;
using System.Net.Sockets;

namespace Steward.Server.Registry;

/// <summary>A registry URL an import refuses to fetch, with the reason.</summary>
internal sealed class ImportRefusedException : Exception
{
    public ImportRefusedException()
    {
    }

    public ImportRefusedException(string message) : base(message)
    {
    }

    public ImportRefusedException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>
/// Outbound fetches of registry imports. HTTPS only (plain http only to a loopback address, and only when the server
/// option allows it); never to link-local or cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254,
/// metadata.google.internal) unless the server option allows it. Addresses are checked when each connection is made,
/// after name resolution, so a name that resolves to a refused address is refused too; redirects are not followed.
/// </summary>
internal static class ImportFetcher
{
    public const int MaxPageBytes = 16 * 1024 * 1024;
    private static readonly IPAddress AwsMetadataV6 = IPAddress.Parse("fd00:ec2::254");
    private static readonly string[] MetadataHosts = ["metadata.google.internal", "metadata.goog", "metadata"];

    /// <summary>Checks a URL before any fetch; returns whether it is plain http to loopback (then every address must be loopback).</summary>
    public static bool CheckUrl(Uri url, ServeOptions options)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(options);
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
        {
            throw new ImportRefusedException("expected an https:// URL of a registry");
        }

        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            throw new ImportRefusedException("the URL must not carry credentials");
        }

        var host = url.IdnHost.TrimEnd('.');
        if (!options.AllowLinkLocalImport && MetadataHosts.Contains(host, StringComparer.OrdinalIgnoreCase))
        {
            throw new ImportRefusedException($"{host} is a cloud metadata service; imports may not fetch it");
        }

        if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var literal) && !options.AllowLinkLocalImport && IsLinkLocalOrMetadata(literal))
        {
            throw new ImportRefusedException($"{literal} is a link-local or cloud metadata address; imports may not fetch it");
        }

        if (url.Scheme == Uri.UriSchemeHttp)
        {
            if (!options.AllowHttpLoopbackImport || !(url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var a) && IPAddress.IsLoopback(a))))
            {
                throw new ImportRefusedException("expected an https:// URL: registries are imported over HTTPS only");
            }

            return true;
        }

        return false;
    }

    /// <summary>169.254.0.0/16 (including 169.254.169.254), fe80::/10, fd00:ec2::254, and their IPv4-mapped forms.</summary>
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

    /// <summary>A client whose every connection goes only to addresses the options allow.</summary>
    public static HttpClient CreateClient(ServeOptions options, bool loopbackOnly)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var host = context.DnsEndPoint.Host;
                var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
                    ? [literal]
                    : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
                var allowed = addresses.Where(a => (options.AllowLinkLocalImport || !IsLinkLocalOrMetadata(a)) && (!loopbackOnly || IPAddress.IsLoopback(a))).ToList();
                if (allowed.Count == 0 || allowed.Count != addresses.Length)
                {
                    throw new ImportRefusedException($"{host} resolves to an address imports may not fetch (link-local, cloud metadata{(loopbackOnly ? ", or not loopback for plain http" : "")})");
                }

                Exception? last = null;
                foreach (var address in allowed)
                {
                    var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch (SocketException e)
                    {
                        socket.Dispose();
                        last = e;
                    }
                }

                throw new HttpRequestException($"cannot connect to {host}:{context.DnsEndPoint.Port}", last);
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>GET a page: its bytes, or an exception naming what went wrong (status, size).</summary>
    public static async Task<byte[]> GetAsync(HttpClient client, Uri url, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.UserAgent.ParseAdd("steward-registry-import/0.1");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"{url} answered {(int)response.StatusCode} {response.ReasonPhrase}{((int)response.StatusCode is >= 300 and < 400 ? " (redirects are not followed: give the final URL)" : "")}");
        }

        if (response.Content.Headers.ContentLength > MaxPageBytes)
        {
            throw new HttpRequestException($"{url} answered more than {MaxPageBytes} bytes");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxPageBytes)
            {
                throw new HttpRequestException($"{url} answered more than {MaxPageBytes} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
