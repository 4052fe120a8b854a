// A fleet of simulated developers syncing their policy bundle from one `steward serve` (see docs/benchmarks.md).
// Each developer has its own developer token (made through the admin API, spread over accounts); each sync is one
// GET /api/v1/policy with Accept-Encoding: br, gzip, as the agent sends it, and — for the share of developers whose
// cached bundle is still current — If-None-Match with the ETag they hold (answered 304). Every answer is checked
// (200 with a bundle, or 304); anything else is an error. The server's CPU time and memory are read from /proc.
//
// Usage: dotnet run -c Release --project bench/Steward.FleetBench -- <server-url> <admin-token> <server-pid>
//          [--developers 10000] [--accounts 10] [--current 0.8] [--concurrency 64] [--window-seconds 600] [--paced]
// Unpaced (the default) the syncs run back to back at <concurrency>; --paced spreads their starts evenly over the
// window, as a fleet syncing on its interval does.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
if (positional.Count < 3)
{
    Console.Error.WriteLine("usage: Steward.FleetBench <server-url> <admin-token> <server-pid> [--developers N] [--accounts N] [--current 0.8] [--concurrency N] [--window-seconds N] [--paced]");
    return 2;
}

string Option(string name, string fallback)
{
    var at = Array.IndexOf(args, "--" + name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}

var baseUrl = new Uri(positional[0].TrimEnd('/') + "/");
var adminToken = positional[1];
var pid = int.Parse(positional[2], CultureInfo.InvariantCulture);
var developers = int.Parse(Option("developers", "10000"), CultureInfo.InvariantCulture);
var accounts = int.Parse(Option("accounts", "10"), CultureInfo.InvariantCulture);
var current = double.Parse(Option("current", "0.8"), CultureInfo.InvariantCulture);
var concurrency = int.Parse(Option("concurrency", "64"), CultureInfo.InvariantCulture);
var window = TimeSpan.FromSeconds(int.Parse(Option("window-seconds", "600"), CultureInfo.InvariantCulture));
var paced = args.Contains("--paced");

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, AutomaticDecompression = DecompressionMethods.None, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
{
    BaseAddress = baseUrl,
    Timeout = TimeSpan.FromSeconds(120),
};

async Task<JsonNode> AdminAsync(HttpMethod method, string path, string json)
{
    using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
    using var response = await http.SendAsync(request);
    var body = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Conflict)
    {
        throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {body}");
    }

    return body.Length == 0 ? new JsonObject() : JsonNode.Parse(body)!;
}

// 1. The fleet: accounts and one developer token each, one at a time (concurrent token creation on PostgreSQL can
// deadlock in the audit chain's lock on the organisation row: a known server issue, not what this measures).
var setup = Stopwatch.StartNew();
for (var a = 0; a < accounts; a++)
{
    await AdminAsync(HttpMethod.Post, "api/v1/orgs/demo/accounts", $$"""{"slug":"fleet-{{a}}","name":"Fleet {{a}}"}""");
}

var tokens = new string[developers];
await Parallel.ForAsync(0, developers, new ParallelOptions { MaxDegreeOfParallelism = 1 }, async (i, _) =>
{
    var created = await AdminAsync(HttpMethod.Post, "api/v1/orgs/demo/tokens", $$"""{"name":"fleet developer {{i}}","role":"developer","account":"fleet-{{i % accounts}}","expiresInDays":1}""");
    tokens[i] = (string)created["token"]!;
});
Console.WriteLine($"fleet: {developers} developer tokens over {accounts} accounts made in {setup.Elapsed.TotalSeconds:0.0} s");

// 2. The ETag each account's developers hold when their cache is current (the agent's request: br, gzip).
async Task<(HttpStatusCode Status, long Bytes, string? ETag)> SyncAsync(string token, string? etag)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/policy");
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    request.Headers.AcceptEncoding.ParseAdd("br");
    request.Headers.AcceptEncoding.ParseAdd("gzip");
    if (etag is not null)
    {
        request.Headers.TryAddWithoutValidation("If-None-Match", etag);
    }

    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    await using var stream = await response.Content.ReadAsStreamAsync();
    var buffer = new byte[81920];
    long bytes = 0;
    int read;
    while ((read = await stream.ReadAsync(buffer)) > 0)
    {
        bytes += read;
    }

    return (response.StatusCode, bytes, response.Headers.ETag?.Tag);
}

var held = new string?[accounts];
long identityBytes = 0;
for (var a = 0; a < accounts; a++)
{
    var first = await SyncAsync(tokens[a], null);
    held[a] = first.ETag;
    using var plain = new HttpRequestMessage(HttpMethod.Get, "api/v1/policy");
    plain.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[a]);
    using var plainResponse = await http.SendAsync(plain);
    identityBytes = Math.Max(identityBytes, (await plainResponse.Content.ReadAsByteArrayAsync()).LongLength);
}

// 3. The syncs.
(TimeSpan Cpu, long RssKb, long HwmKb) Process()
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    long Kb(string name) => long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(name, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    return (TimeSpan.FromSeconds(ticks / 100.0), Kb("VmRSS:"), Kb("VmHWM:"));
}

var random = new Random(20261206);
var order = Enumerable.Range(0, developers).OrderBy(_ => random.Next()).ToArray();
var holdsCurrent = order.Select(_ => random.NextDouble() < current).ToArray();
var latencies = new ConcurrentBag<double>();
long ok200 = 0, ok304 = 0, errors = 0, bytes = 0;
var errorSamples = new ConcurrentQueue<string>();
var before = Process();
var clock = Stopwatch.StartNew();
await Parallel.ForAsync(0, developers, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (n, _) =>
{
    if (paced)
    {
        var due = window * n / developers;
        if (due > clock.Elapsed)
        {
            await Task.Delay(due - clock.Elapsed);
        }
    }

    var i = order[n];
    var started = Stopwatch.GetTimestamp();
    try
    {
        var (status, length, _) = await SyncAsync(tokens[i], holdsCurrent[n] ? held[i % accounts] : null);
        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Interlocked.Add(ref bytes, length);
        if (status == HttpStatusCode.OK && length > 0)
        {
            Interlocked.Increment(ref ok200);
        }
        else if (status == HttpStatusCode.NotModified)
        {
            Interlocked.Increment(ref ok304);
        }
        else
        {
            Interlocked.Increment(ref errors);
            errorSamples.Enqueue($"{(int)status} ({length} bytes)");
        }
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
    {
        Interlocked.Increment(ref errors);
        errorSamples.Enqueue(e.GetType().Name + ": " + e.Message);
    }
});
var elapsed = clock.Elapsed;
var after = Process();
var sorted = latencies.Order().ToArray();
double Percentile(double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
var cpu = after.Cpu - before.Cpu;
Console.WriteLine($"fleet: {developers} syncs ({(paced ? $"paced over {window.TotalSeconds:0} s" : $"back to back, {concurrency} at a time")}) in {elapsed.TotalSeconds:0.0} s: " +
    $"{ok200} x 200, {ok304} x 304, {errors} errors");
Console.WriteLine($"fleet: latency p50 {Percentile(0.5):0.0} ms, p99 {Percentile(0.99):0.0} ms, max {Percentile(1):0.0} ms");
Console.WriteLine($"fleet: bytes received {bytes:N0} ({bytes / (double)developers:N0} per sync; an uncompressed 200 is {identityBytes:N0} bytes: " +
    $"{bytes / (double)developers / identityBytes:P1} of it per sync, {bytes / (double)Math.Max(1, ok200) / identityBytes:P1} per 200)");
Console.WriteLine($"fleet: server CPU {cpu.TotalSeconds:0.0} s over {elapsed.TotalSeconds:0.0} s ({cpu.TotalSeconds / elapsed.TotalSeconds:P0} of one core), " +
    $"RSS {after.RssKb / 1024:N0} MiB (peak {after.HwmKb / 1024:N0} MiB)");
foreach (var sample in errorSamples.Take(5))
{
    Console.WriteLine("fleet: error " + sample);
}

return errors == 0 ? 0 : 1;
