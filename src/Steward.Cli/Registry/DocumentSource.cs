using System.Net;
using Steward.Core.Json;
using Steward.Core.Net;

namespace Steward.Cli.Registry;

/// <summary>Reads a document from a file path or an http(s) URL, never past the size limit.</summary>
internal static class DocumentSource
{
    public sealed record Fetched(byte[]? Bytes, ReadFailure? Failure);

    public static async Task<Fetched> ReadAsync(string location, long maxBytes, CancellationToken cancellationToken)
    {
        if (Uri.TryCreate(location, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp))
        {
            return await FetchAsync(uri, maxBytes, cancellationToken).ConfigureAwait(false);
        }

        var path = Path.GetFullPath(location);
        if (Directory.Exists(path))
        {
            return Unreadable($"{location} is a directory; give the path of a JSON file");
        }

        if (!File.Exists(path))
        {
            return Unreadable($"{location} does not exist; check the path (relative paths are read from {Environment.CurrentDirectory})");
        }

        try
        {
            var length = new FileInfo(path).Length;
            if (length > maxBytes)
            {
                return new Fetched(null, TooLarge(length, maxBytes));
            }

            return new Fetched(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Unreadable($"{location} cannot be read: {e.Message}");
        }
    }

    private static async Task<Fetched> FetchAsync(Uri uri, long maxBytes, CancellationToken cancellationToken)
    {
        using var http = OutboundHttp.Create("documents", TimeSpan.FromSeconds(30));
        http.DefaultRequestHeaders.UserAgent.ParseAdd("steward/" + typeof(DocumentSource).Assembly.GetName().Version?.ToString(3));
        try
        {
            using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return Unreadable($"{uri} answered {(int)response.StatusCode} {response.ReasonPhrase}; expected 200 with a JSON document");
            }

            if (response.Content.Headers.ContentLength is { } declared && declared > maxBytes)
            {
                return new Fetched(null, TooLarge(declared, maxBytes));
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var bytes = await BoundedReader.ReadAsync(stream, maxBytes, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false);
            return bytes is null ? new Fetched(null, TooLarge(maxBytes + 1, maxBytes)) : new Fetched(bytes, null);
        }
        catch (HttpRequestException e)
        {
            return Unreadable($"{uri} cannot be reached: {Steward.Agent.Sources.NetErrors.Message(e, uri)}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Unreadable($"{uri} did not answer within 30 seconds");
        }
    }

    private static Fetched Unreadable(string message) => new(null, new ReadFailure(ReadFailureKind.Unreadable, message));

    private static ReadFailure TooLarge(long length, long maxBytes) =>
        new(ReadFailureKind.TooLarge, $"the document is at least {length:N0} bytes, over the limit of {maxBytes:N0} bytes; raise it with --max-bytes");
}
