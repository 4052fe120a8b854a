using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Steward.Server;

// Time to first byte of a streamed chat completion (OpenAI SSE) called directly on a local fake upstream, and through
// Steward's model endpoint (POST /v1/chat/completions: token check, policy read, model resolution, rewrite, proxy) to
// the same upstream. Requests alternate between the two, one at a time, on keep-alive connections.
// Usage: Steward.ModelBench [iterations] [warmup]
var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5000;
var warmup = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 500;
const string AdminToken = "stw_model-bench-admin-token-0123456789abcdef";

// The upstream: the first SSE chunk is written and flushed at once, then the rest of a short completion.
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
var upstream = builder.Build();
var chunks = Enumerable.Range(0, 8).Select(i => Encoding.UTF8.GetBytes(
    $$"""data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"content":"token {{i}}"},"finish_reason":null}]}""" + "\n\n"))
    .Append("data: [DONE]\n\n"u8.ToArray()).ToArray();
upstream.MapPost("/v1/chat/completions", async context =>
{
    await context.Request.Body.CopyToAsync(Stream.Null);
    context.Response.ContentType = "text/event-stream";
    foreach (var chunk in chunks)
    {
        await context.Response.Body.WriteAsync(chunk);
        await context.Response.Body.FlushAsync();
    }
});
await upstream.StartAsync();
var upstreamUrl = new Uri(upstream.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

var dataDir = Directory.CreateTempSubdirectory("steward-model-bench-").FullName;
await using var steward = await StewardServer.StartAsync(new ServeOptions
{
    DataDir = dataDir,
    Urls = ["http://127.0.0.1:0"],
    BootstrapAdminToken = AdminToken,
    Messages = TextWriter.Null,
    LogLevel = LogLevel.Warning,
}, CancellationToken.None);

using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
using (var put = new HttpRequestMessage(HttpMethod.Put, new Uri(steward.BaseUrl, "/api/v1/models/upstreams")))
{
    put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
    put.Content = new StringContent($$"""{"upstreams": [{"provider": "anthropic", "placement": "*", "baseUrl": "{{upstreamUrl.GetLeftPart(UriPartial.Authority)}}/v1", "apiKey": "sk-bench"}]}""", Encoding.UTF8, "application/json");
    using var response = await http.SendAsync(put);
    response.EnsureSuccessStatusCode();
}

var body = """{"model": "claude-sonnet-4-6", "stream": true, "messages": [{"role": "user", "content": "Say hello."}]}"""u8.ToArray();
var direct = new Uri(upstreamUrl, "/v1/chat/completions");
var proxied = new Uri(steward.BaseUrl, "/v1/chat/completions");
var buffer = new byte[64 * 1024];

async Task<(double FirstByte, double Total)> Once(Uri url, bool authorize)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
    if (authorize)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
    }

    var start = Stopwatch.GetTimestamp();
    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    if (!response.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    await using var stream = await response.Content.ReadAsStreamAsync();
    if (await stream.ReadAsync(buffer) == 0)
    {
        throw new InvalidOperationException($"{url}: an empty body");
    }

    var firstByte = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    while (await stream.ReadAsync(buffer) > 0)
    {
    }

    return (firstByte, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
}

for (var i = 0; i < warmup; i++)
{
    await Once(direct, false);
    await Once(proxied, true);
}

var directSamples = new List<(double FirstByte, double Total)>(iterations);
var proxiedSamples = new List<(double FirstByte, double Total)>(iterations);
for (var i = 0; i < iterations; i++)
{
    directSamples.Add(await Once(direct, false));
    proxiedSamples.Add(await Once(proxied, true));
}

static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];

string Row(string name, List<double> values)
{
    values.Sort();
    return string.Create(CultureInfo.InvariantCulture, $"| {name} | {Percentile(values, 50):0.000} | {Percentile(values, 90):0.000} | {Percentile(values, 99):0.000} | {values.Average():0.000} |");
}

var d = directSamples.Select(s => s.FirstByte).ToList();
var p = proxiedSamples.Select(s => s.FirstByte).ToList();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{iterations} requests each (after {warmup} warm-up), alternating; milliseconds; {Environment.ProcessorCount} CPUs; .NET {Environment.Version}"));
Console.WriteLine("| Time to first byte | p50 | p90 | p99 | mean |");
Console.WriteLine("|---|---:|---:|---:|---:|");
Console.WriteLine(Row("upstream called directly", d));
Console.WriteLine(Row("through Steward /v1/chat/completions", p));
Console.WriteLine(Row("whole stream, directly", directSamples.Select(s => s.Total).ToList()));
Console.WriteLine(Row("whole stream, through Steward", proxiedSamples.Select(s => s.Total).ToList()));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"added at p50: {Percentile(p, 50) - Percentile(d, 50):0.000} ms; added at p99: {Percentile(p, 99) - Percentile(d, 99):0.000} ms"));

await steward.StopAsync(CancellationToken.None);
await upstream.StopAsync();
Directory.Delete(dataDir, recursive: true);
