using System.Buffers.Text;
using System.Security.Cryptography;

namespace Steward.Server.Hosting;

/// <summary>
/// Strong ETags computed from the response bytes: the same data gives the same ETag on every instance, and a client
/// that sends it back in <c>If-None-Match</c> gets 304 without a body.
/// </summary>
internal static class ETags
{
    public static string Of(ReadOnlySpan<byte> body) => "\"" + Base64Url.EncodeToString(SHA256.HashData(body).AsSpan(0, 18)) + "\"";

    public static IResult Json(HttpContext context, byte[] body)
    {
        var etag = Of(body);
        context.Response.Headers.ETag = etag;
        if (Matches(context.Request.Headers.IfNoneMatch.ToString(), etag))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return new JsonBytes(body, StatusCodes.Status200OK);
    }

    /// <summary><c>If-None-Match</c> uses the weak comparison: <c>W/"x"</c> matches <c>"x"</c>; <c>*</c> matches anything.</summary>
    public static bool Matches(string ifNoneMatch, string etag)
    {
        if (ifNoneMatch.Length == 0)
        {
            return false;
        }

        foreach (var part in ifNoneMatch.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = part.StartsWith("W/", StringComparison.Ordinal) ? part[2..] : part;
            if (candidate == "*" || string.Equals(candidate, etag, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
