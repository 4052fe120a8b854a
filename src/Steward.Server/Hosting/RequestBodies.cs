using Microsoft.AspNetCore.Http;

namespace Steward.Server.Hosting;

internal static class RequestBodies
{
    /// <summary>The largest body an admin endpoint reads: 1 MiB.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>
    /// The request body, or null when it is over <paramref name="maxBytes"/> (the caller answers 413). A declared
    /// length over the limit is refused before a byte is read; otherwise the body is read once into one array (of
    /// the declared length when there is one), never more than the limit.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return await ReadAsync(request.Body, request.ContentLength, maxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit, reached before this one.
            return null;
        }
    }

    /// <summary>At most <paramref name="maxBytes"/> of <paramref name="stream"/>, or null when it holds more (or declares more).</summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, long? declaredLength, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (declaredLength > maxBytes)
        {
            return null;
        }

        if (declaredLength is { } length)
        {
            // One array of the declared length, filled in place.
            var exact = new byte[length];
            var filled = 0;
            while (filled < exact.Length)
            {
                var got = await stream.ReadAsync(exact.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (got == 0)
                {
                    return exact.AsSpan(0, filled).ToArray();
                }

                filled += got;
            }

            // Kestrel never gives more than the declared length; another stream might.
            var probe = new byte[1];
            return await stream.ReadAsync(probe, cancellationToken).ConfigureAwait(false) == 0 ? exact : null;
        }

        // No declared length: room for one byte more than the limit, so that a body over it is seen without reading the rest.
        var buffer = new byte[Math.Min(maxBytes + 1L, 16 * 1024)];
        var used = 0;
        while (true)
        {
            if (used == buffer.Length)
            {
                if (used > maxBytes)
                {
                    return null;
                }

                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1L, buffer.Length * 2L));
            }

            var read = await stream.ReadAsync(buffer.AsMemory(used), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            used += read;
            if (used > maxBytes)
            {
                return null;
            }
        }

        return used == buffer.Length ? buffer : buffer.AsSpan(0, used).ToArray();
    }

    public static IResult TooLarge(int maxBytes) =>
        Problems.Result(StatusCodes.Status413PayloadTooLarge, "Content Too Large", $"the request body is over the limit of {maxBytes} bytes");
}
