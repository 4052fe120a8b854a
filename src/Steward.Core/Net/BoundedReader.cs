namespace Steward.Core.Net;

/// <summary>
/// Reads a whole body (a request body, a fetched page or document) into one array, never past a limit, so that what
/// comes over a connection is refused by its size before any of it is parsed or held whole.
/// </summary>
public static class BoundedReader
{
    /// <summary>
    /// The bytes of <paramref name="stream"/> to its end, or null when there are more than <paramref name="maxBytes"/>.
    /// A <paramref name="declaredLength"/> (Content-Length) over the limit is refused before a byte is read; one within it
    /// is read into one array of that length, and a stream that then has more than it declared is refused too, since
    /// its length was a lie. Without a declared length at most one byte past the limit is read: enough to tell a body
    /// over the limit from one exactly at it, without reading the rest. A limit past what one array holds (about
    /// 2 GiB) is taken as that.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, long maxBytes, long? declaredLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var limit = Math.Min(maxBytes, Array.MaxLength - 1L);
        if (declaredLength > limit)
        {
            return null;
        }

        if (declaredLength is { } length)
        {
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

            // Kestrel and HttpClient never give more than the declared length; another stream might.
            var probe = new byte[1];
            return await stream.ReadAsync(probe, cancellationToken).ConfigureAwait(false) == 0 ? exact : null;
        }

        // Room for one byte more than the limit, so that a body over it is seen without reading the rest.
        var buffer = new byte[Math.Min(limit + 1, 16 * 1024)];
        var used = 0;
        while (true)
        {
            if (used == buffer.Length)
            {
                if (used > limit)
                {
                    return null;
                }

                Array.Resize(ref buffer, (int)Math.Min(limit + 1, buffer.Length * 2L));
            }

            var read = await stream.ReadAsync(buffer.AsMemory(used), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            used += read;
            if (used > limit)
            {
                return null;
            }
        }

        return used == buffer.Length ? buffer : buffer.AsSpan(0, used).ToArray();
    }
}
