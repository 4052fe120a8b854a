using System.Net;
using Steward.Core.Net;
using Steward.Server.Hosting;

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
/// metadata.google.internal) unless the server option allows it: the shared <see cref="OutboundAddressPolicy"/>, checked
/// when each connection is made, after name resolution, so a name that resolves to a refused address is refused too;
/// redirects are not followed.
/// </summary>
internal static class ImportFetcher
{
    public const int MaxPageBytes = 16 * 1024 * 1024;

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

        if (new OutboundAddressPolicy { AllowLinkLocal = options.AllowLinkLocalImport, Purpose = "imports" }.Refusal(url) is { } refusal)
        {
            throw new ImportRefusedException(refusal);
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
    public static bool IsLinkLocalOrMetadata(IPAddress address) => OutboundAddressPolicy.IsLinkLocalOrMetadata(address);

    /// <summary>A client whose every connection goes only to addresses the options allow (<see cref="OutboundAddressPolicy"/>).</summary>
    public static HttpClient CreateClient(ServeOptions options, bool loopbackOnly)
    {
        ArgumentNullException.ThrowIfNull(options);
        var policy = new OutboundAddressPolicy { AllowLinkLocal = options.AllowLinkLocalImport, LoopbackOnly = loopbackOnly, Purpose = "imports" };
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                try
                {
                    return await policy.ConnectAsync(context, cancellationToken).ConfigureAwait(false);
                }
                catch (OutboundRefusedException e)
                {
                    throw new ImportRefusedException(e.Message, e);
                }
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

        // Read once into one array, and never past the limit: the page is parsed only once it is known to be within it.
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return await RequestBodies.ReadAsync(stream, response.Content.Headers.ContentLength, MaxPageBytes, cancellationToken).ConfigureAwait(false)
            ?? throw new HttpRequestException($"{url} answered more than {MaxPageBytes} bytes");
    }
}
