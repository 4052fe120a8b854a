using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;

namespace Steward.Server.Tests.Governance;

/// <summary>The bundle in Brotli or gzip, negotiated by <c>Accept-Encoding</c>, each coding with its own strong ETag, byte for byte the same bundle once decoded.</summary>
public sealed class BundleCompressionTests
{
    private static async Task<(HttpStatusCode Status, HttpResponseMessage Response, byte[] Body)> GetAsync(GovernanceServer server, string token, string? acceptEncoding, string? ifNoneMatch = null)
    {
        // No automatic decompression: the test reads the bytes as sent.
        using var client = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = server.Server.BaseUrl };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/policy");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }

        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        var response = await client.SendAsync(request);
        return (response.StatusCode, response, await response.Content.ReadAsByteArrayAsync());
    }

    private static byte[] Decode(byte[] body, string coding)
    {
        using var input = new MemoryStream(body);
        using Stream decoder = coding == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    [Fact]
    public async Task Brotli_and_gzip_are_sent_when_accepted_each_with_its_own_strong_etag_and_decode_to_the_same_bundle()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("platform");
        var (developer, _) = await server.CreateTokenAsync("developer", "platform");

        var (status, plainResponse, plain) = await GetAsync(server, developer, null);
        using var _ = plainResponse;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(plainResponse.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", plainResponse.Headers.Vary);
        var etag = plainResponse.Headers.ETag!;
        Assert.False(etag.IsWeak);

        var etags = new HashSet<string> { etag.Tag };
        foreach (var (accept, coding) in new[] { ("br", "br"), ("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip", "gzip"), ("br;q=0.5, gzip;q=0.8", "gzip") })
        {
            var (codedStatus, response, coded) = await GetAsync(server, developer, accept);
            using (response)
            {
                Assert.Equal(HttpStatusCode.OK, codedStatus);
                Assert.Equal(coding, Assert.Single(response.Content.Headers.ContentEncoding));
                Assert.False(response.Headers.ETag!.IsWeak);
                Assert.True(coded.Length < plain.Length / 2, $"{coding}: {coded.Length} bytes of {plain.Length}");
                Assert.Equal(plain, Decode(coded, coding));
                etags.Add(response.Headers.ETag.Tag);

                // Its own ETag answers 304 in its coding.
                var (again, notModified, empty) = await GetAsync(server, developer, accept, response.Headers.ETag.Tag);
                using (notModified)
                {
                    Assert.Equal(HttpStatusCode.NotModified, again);
                    Assert.Empty(empty);
                    Assert.Equal(response.Headers.ETag.Tag, notModified.Headers.ETag!.Tag);
                }
            }
        }

        // Three distinct ETags: identity, br and gzip.
        Assert.Equal(3, etags.Count);

        // A client that no longer accepts a coding still holds the same content: 304.
        var (identityAgain, identityResponse, _) = await GetAsync(server, developer, "identity", etags.First(e => e.Contains("-br", StringComparison.Ordinal)));
        using (identityResponse)
        {
            Assert.Equal(HttpStatusCode.NotModified, identityAgain);
            Assert.Equal(etag.Tag, identityResponse.Headers.ETag!.Tag);
        }

        // Nothing acceptable but identity: identity.
        var (refused, refusedResponse, identityBody) = await GetAsync(server, developer, "br;q=0, gzip;q=0");
        using (refusedResponse)
        {
            Assert.Equal(HttpStatusCode.OK, refused);
            Assert.Empty(refusedResponse.Content.Headers.ContentEncoding);
            Assert.Equal(plain, identityBody);
        }
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("br", "br")]
    [InlineData("BR;q=1.0", "br")]
    [InlineData("gzip;q=1, br;q=0.9", "gzip")]
    [InlineData("*", "br")]
    [InlineData("*;q=0", null)]
    [InlineData("gzip;q=zero", null)]
    [InlineData("deflate", null)]
    public void Accept_encoding_is_read_as_RFC_9110_says(string header, string? expected) =>
        Assert.Equal(expected, Policy.BundleEncodings.Choose(header));
}
