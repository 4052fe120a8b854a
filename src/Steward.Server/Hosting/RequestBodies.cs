using Microsoft.AspNetCore.Http;

namespace Steward.Server.Hosting;

internal static class RequestBodies
{
    /// <summary>The largest body an admin endpoint reads: 1 MiB.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>The request body, or null when it is over <paramref name="maxBytes"/> (the caller answers 413).</summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    public static IResult TooLarge(int maxBytes) =>
        Problems.Result(StatusCodes.Status413PayloadTooLarge, "Content Too Large", $"the request body is over the limit of {maxBytes} bytes");
}
