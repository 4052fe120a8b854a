using System.Net;
using Steward.Core.Net;

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

/// <summary>An answer of a registry that is not a page (a status other than 200, too many bytes): it connected and answered.</summary>
internal sealed class ImportAnswerException : Exception
{
    public ImportAnswerException()
    {
    }

    public ImportAnswerException(string message) : base(message)
    {
    }

    public ImportAnswerException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>
/// Outbound fetches of registry imports. HTTPS only (plain http only to a loopback address, and only when the server
/// option allows it); redirects are not followed. Connections pass <see cref="ServerOutbound"/>'s policy, checked when
/// each connection is made, after name resolution, so a name that resolves to a refused address is refused too: never
/// link-local or cloud metadata addresses (a literal one is refused before any fetch) unless the server option allows
/// it, and for an organisation that is not the server's first, no loopback or private address outside the server's
/// allow list.
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
            if (!UrlRules.Allows(url, options.AllowHttpLoopbackImport))
            {
                throw new ImportRefusedException("expected an https:// URL: registries are imported over HTTPS only");
            }

            return true;
        }

        return false;
    }

    /// <summary>169.254.0.0/16, 100.100.100.200, fe80::/10, fd00:ec2::254, fd20:ce::254, and their IPv4-mapped, NAT64 and 6to4 forms (<see cref="OutboundAddressPolicy.IsLinkLocalOrMetadata"/>).</summary>
    public static bool IsLinkLocalOrMetadata(IPAddress address) => OutboundAddressPolicy.IsLinkLocalOrMetadata(address);

    /// <summary>A client whose every connection goes only to addresses the server allows for this importer (<see cref="ServerOutbound"/>).</summary>
    public static HttpClient CreateClient(ServerOutbound outbound, ServeOptions options, bool serverAdministrator, bool loopbackOnly)
    {
        ArgumentNullException.ThrowIfNull(outbound);
        ArgumentNullException.ThrowIfNull(options);
        var policy = outbound.Policy(serverAdministrator, "imports", devLoopback: options.AllowHttpLoopbackImport, loopbackOnly: loopbackOnly);
        var handler = ServerOutbound.Handler(policy, TimeSpan.FromSeconds(10));
        handler.AutomaticDecompression = DecompressionMethods.All;
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>GET a page: its bytes; <see cref="ImportAnswerException"/> naming what was wrong with the answer (status, size); what <see cref="HttpClient"/> throws when there was none.</summary>
    public static async Task<byte[]> GetAsync(HttpClient client, Uri url, CancellationToken cancellationToken) =>
        (await GetConditionalAsync(client, url, null, cancellationToken).ConfigureAwait(false)).Bytes!;

    /// <summary>
    /// GET a document, conditional on <paramref name="etag"/> when given: its bytes and ETag, or (on 304) no bytes.
    /// Failures as <see cref="GetAsync"/>.
    /// </summary>
    public static async Task<(byte[]? Bytes, string? ETag)> GetConditionalAsync(HttpClient client, Uri url, string? etag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.UserAgent.ParseAdd("steward-registry-import/0.1");
        if (etag is not null && System.Net.Http.Headers.EntityTagHeaderValue.TryParse(etag, out var tag))
        {
            request.Headers.IfNoneMatch.Add(tag);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (etag is not null && response.StatusCode == HttpStatusCode.NotModified)
        {
            return (null, response.Headers.ETag?.ToString() ?? etag);
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new ImportAnswerException($"{url} answered {(int)response.StatusCode} {response.ReasonPhrase}{((int)response.StatusCode is >= 300 and < 400 ? " (redirects are not followed: give the final URL)" : "")}");
        }

        if (response.Content.Headers.ContentLength > MaxPageBytes)
        {
            throw new ImportAnswerException($"{url} answered more than {MaxPageBytes} bytes");
        }

        // Read once into one array, and never past the limit: the page is parsed only once it is known to be within it.
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var bytes = await BoundedReader.ReadAsync(stream, MaxPageBytes, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false)
            ?? throw new ImportAnswerException($"{url} answered more than {MaxPageBytes} bytes");
        return (bytes, response.Headers.ETag?.ToString());
    }
}
