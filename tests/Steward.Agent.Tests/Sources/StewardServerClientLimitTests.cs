using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Steward.Agent.Sources;

namespace Steward.Agent.Tests.Sources;

/// <summary>A Steward server's answer is read within a limit, also when it declares no length and comes in chunks.</summary>
public sealed class StewardServerClientLimitTests
{
    [Fact]
    public async Task A_chunked_answer_over_the_limit_is_refused_naming_the_url_and_the_limit()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapGet("/api/v1/large", async (HttpContext context) =>
        {
            // No Content-Length: Kestrel sends the body chunked.
            context.Response.ContentType = "application/json";
            var chunk = new byte[4096];
            Array.Fill(chunk, (byte)' ');
            for (var i = 0; i < 64; i++)
            {
                await context.Response.Body.WriteAsync(chunk);
                await context.Response.Body.FlushAsync();
            }
        });
        app.MapGet("/api/v1/small", () => Results.Text("{\"ok\":true}", "application/json"));
        await app.StartAsync();
        var root = new Uri(app.Urls.First().TrimEnd('/') + "/");
        var server = new StewardServerClient(root, "token");
        using var http = StewardServerClient.CreateHttp(TimeSpan.FromSeconds(30));

        var refused = await server.GetAsync(http, "api/v1/large", CancellationToken.None, maxBytes: 64 * 1024);
        Assert.Null(refused.Body);
        Assert.Equal(200, refused.Status);
        Assert.Equal($"{root}api/v1/large sent more than 65,536 bytes, the limit", refused.Failure);

        var json = await server.GetJsonAsync(http, "api/v1/large", CancellationToken.None, maxBytes: 64 * 1024);
        Assert.Null(json.Document);
        Assert.Equal($"{root}api/v1/large sent more than 65,536 bytes, the limit", json.Error);

        // Within the limit (the default), the answer is read whole.
        using var small = (await server.GetJsonAsync(http, "api/v1/small", CancellationToken.None)).Document;
        Assert.NotNull(small);
        Assert.True(small.RootElement.GetProperty("ok").GetBoolean());
    }
}
