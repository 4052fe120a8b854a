using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Tests;

public sealed class TelemetryTests
{
    [Fact]
    public async Task With_an_OTLP_endpoint_configured_traces_and_metrics_are_exported_over_http_protobuf()
    {
        var received = new ConcurrentBag<(string Path, string ContentType, long Length)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.MapPost("/{**signal}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Add((context.Request.Path, context.Request.ContentType ?? "", body.Length));
            return Results.Ok();
        });
        await collector.StartAsync();
        var endpoint = collector.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        await using (var server = await TestServer.StartAsync(o => o with { OtlpEndpoint = endpoint }))
        {
            using var client = server.Client();
            Assert.True((await client.GetAsync("/v0.1/servers?limit=1")).IsSuccessStatusCode);
        }

        // Disposing the server flushes both providers.
        Assert.Contains(received, r => r.Path == "/v1/traces" && r.ContentType == "application/x-protobuf" && r.Length > 0);
        Assert.Contains(received, r => r.Path == "/v1/metrics" && r.Length > 0);
    }

    [Fact]
    public void Without_an_endpoint_nothing_is_collected() => Assert.Null(Hosting.Telemetry.Start(null, null));
}
