using Steward.Core.Net;

namespace Steward.Server.Hosting;

internal static class RequestBodies
{
    /// <summary>The largest body an admin endpoint reads: 1 MiB.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>
    /// The request body, or null when it is over <paramref name="maxBytes"/> (the caller answers 413), read by
    /// <see cref="BoundedReader"/>: a declared length over the limit is refused before a byte is read.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return await BoundedReader.ReadAsync(request.Body, maxBytes, request.ContentLength, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit, reached before this one.
            return null;
        }
    }

    public static IResult TooLarge(int maxBytes) =>
        Problems.Result(StatusCodes.Status413PayloadTooLarge, "Content Too Large", $"the request body is over the limit of {maxBytes} bytes");
}
