using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Steward.Agent.Sources;

namespace Steward.Agent.Tests.Sync;

/// <summary>The agent asks for Brotli or gzip and decodes what it gets, within its size limit counted on the decoded bytes.</summary>
public sealed class PolicyFetcherEncodingTests
{
    [Theory]
    [InlineData("br")]
    [InlineData("gzip")]
    public async Task A_coded_answer_is_decoded_to_the_document_and_the_request_offers_both_codings(string coding)
    {
        var document = File.ReadAllBytes(FixturePaths.Kiro);
        var offered = new List<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapGet("/kiro.json", async (HttpContext context) =>
        {
            lock (offered)
            {
                offered.Add(context.Request.Headers.AcceptEncoding.ToString());
            }

            using var buffer = new MemoryStream();
            await using (Stream encoder = coding == "br" ? new BrotliStream(buffer, CompressionLevel.Optimal, leaveOpen: true) : new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
            {
                await encoder.WriteAsync(document);
            }

            context.Response.Headers.ContentEncoding = coding;
            context.Response.Headers.ETag = "\"kiro-1\"";
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(buffer.ToArray());
        });
        await app.StartAsync();
        var url = app.Urls.First().TrimEnd('/') + "/kiro.json";

        using var fetcher = new PolicyFetcher();
        var outcome = await fetcher.FetchAsync(new PolicySource { Kind = SourceKind.RegistryFile, Location = url, AllowHttp = true }, null, null, CancellationToken.None);
        var fetched = Assert.IsType<FetchOutcome.Fetched>(outcome);
        Assert.Equal(document, fetched.Document);
        Assert.Equal("\"kiro-1\"", fetched.ETag);
        var accept = Assert.Single(offered);
        Assert.Contains("br", accept, StringComparison.Ordinal);
        Assert.Contains("gzip", accept, StringComparison.Ordinal);

        // The limit is on the decoded bytes: a small coded answer of a large document is refused.
        using var small = new PolicyFetcher(maxBytes: document.Length - 1);
        var refused = await small.FetchAsync(new PolicySource { Kind = SourceKind.RegistryFile, Location = url, AllowHttp = true }, null, null, CancellationToken.None);
        Assert.Contains("limit", Assert.IsType<FetchOutcome.Failed>(refused).Message, StringComparison.Ordinal);
    }
}
