using System.IO.Compression;

namespace Steward.Server.Policy;

/// <summary>
/// The content codings the bundle endpoint sends (<c>br</c>, <c>gzip</c>, or none), chosen from the request's
/// <c>Accept-Encoding</c> as RFC 9110 §12.5.3 says: a coding with <c>q=0</c> (or not listed, when the header is
/// present) is not acceptable; among the acceptable ones the highest q wins, Brotli before gzip on a tie. No header:
/// no coding.
/// </summary>
internal static class BundleEncodings
{
    public const string Brotli = "br";
    public const string Gzip = "gzip";

    /// <summary><c>br</c>, <c>gzip</c> or null (identity) for this <c>Accept-Encoding</c>.</summary>
    public static string? Choose(string acceptEncoding)
    {
        if (string.IsNullOrWhiteSpace(acceptEncoding))
        {
            return null;
        }

        double brotli = -1, gzip = -1, any = -1;
        foreach (var part in acceptEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var semicolon = part.IndexOf(';', StringComparison.Ordinal);
            var coding = (semicolon < 0 ? part : part[..semicolon]).Trim().ToLowerInvariant();
            var q = 1.0;
            if (semicolon >= 0)
            {
                var parameter = part[(semicolon + 1)..].Trim();
                if (parameter.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && !double.TryParse(parameter.AsSpan(2), System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out q))
                {
                    q = 0;
                }
            }

            switch (coding)
            {
                case Brotli: brotli = q; break;
                case Gzip or "x-gzip": gzip = q; break;
                case "*": any = q; break;
            }
        }

        brotli = brotli < 0 ? any : brotli;
        gzip = gzip < 0 ? any : gzip;
        if (brotli <= 0 && gzip <= 0)
        {
            return null;
        }

        return brotli >= gzip ? Brotli : Gzip;
    }

    /// <summary>The bytes in <paramref name="coding"/>: Brotli at quality 5 with a 4 MiB window, gzip at its optimal level — about as small as the slowest settings for JSON, at a fraction of the time.</summary>
    public static byte[] Encode(byte[] body, string coding)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var output = new MemoryStream(body.Length / 6 + 64);
        if (coding == Brotli)
        {
            using var encoder = new BrotliEncoder(quality: 5, window: 22);
            var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(body.Length)];
            if (encoder.Compress(body, buffer, out _, out var written, isFinalBlock: true) != System.Buffers.OperationStatus.Done)
            {
                throw new InvalidOperationException("Brotli did not compress the bundle in one call");
            }

            return buffer[..written];
        }

        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(body);
        }

        return output.ToArray();
    }

    /// <summary>The strong ETag of a coding of the content whose ETag is <paramref name="etag"/>: <c>"…-br"</c>, <c>"…-gzip"</c>.</summary>
    public static string ETagOf(string etag, string? coding) => coding is null ? etag : etag[..^1] + "-" + coding + "\"";

    /// <summary>Whether <c>If-None-Match</c> names this content in any coding (a client that changed what it accepts still has it).</summary>
    public static bool Matches(string ifNoneMatch, string etag) =>
        Hosting.ETags.Matches(ifNoneMatch, etag) || Hosting.ETags.Matches(ifNoneMatch, ETagOf(etag, Brotli)) || Hosting.ETags.Matches(ifNoneMatch, ETagOf(etag, Gzip));

    /// <summary>Writes the answer headers of a bundle in <paramref name="coding"/>.</summary>
    public static void Describe(HttpResponse response, string? coding)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers.Vary = "Accept-Encoding";
        if (coding is not null)
        {
            response.Headers.ContentEncoding = coding;
        }
    }
}
