using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ModelContextProtocol.Client;

// Tool-call latency of server-everything's echo, called directly over stdio, through `steward gateway --server`
// (stdio), and through supergateway (stdio -> streamable HTTP); and the gateway's memory with five upstreams.
// Usage: Steward.GatewayBench <repo root> <steward> [iterations] [rounds] [baseline steward]
// <steward> is the ReadyToRun publish (artifacts/steward/steward) or a steward.dll (run with dotnet). A baseline steward
// (another build) is measured in the same interleaved rounds, so that before/after share the machine's noise.
if (args.Length > 0 && args[0] == "bounds" && !OperatingSystem.IsWindows())
{
    await Bounds.RunAsync(Path.GetFullPath(args[1]), Path.GetFullPath(args[2]), args.Length > 3 ? Path.GetFullPath(args[3]) : null);
    return;
}

var root = Path.GetFullPath(args.Length > 0 ? args[0] : ".");
var steward = Path.GetFullPath(args.Length > 1 ? args[1] : Path.Combine(root, "artifacts/steward/steward"));
var iterations = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5000;
var rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 3;
var baseline = args.Length > 4 ? Path.GetFullPath(args[4]) : null;
// Warm-up calls per variant before the timed ones (BENCH_WARMUP), then a second's pause: long enough for the .NET JIT to
// finish tiering up the gateway's (and this client's) hot paths, so the timed calls measure the steady state, not the
// compiler running beside them on a 2-core machine. BENCH_WARMUP=400 reproduces the earlier runs' short warm-up.
var warmup = int.Parse(Environment.GetEnvironmentVariable("BENCH_WARMUP") ?? "3000", CultureInfo.InvariantCulture);
var node = Path.Combine(root, "tests/node/node_modules");
var bin = Path.Combine(node, ".bin");
var everything = Path.Combine(node, "@modelcontextprotocol/server-everything/dist/index.js");
var version = "2026.8.31";
var spec = "@modelcontextprotocol/server-everything@" + version;
var path = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
var workDir = Path.Combine(root, "tests/node");

var config = Path.Combine(Path.GetTempPath(), "steward-bench-" + Environment.ProcessId);
Directory.CreateDirectory(config);
string Servers(int count) => string.Join(",", Enumerable.Range(0, count).Select(i =>
    $$"""{{(i == 0 ? "\"everything\"" : $"\"everything{i}\"")}}: { "command": "npx", "args": ["-y", "{{spec}}"] }"""));
var policy = Path.Combine(config, "policy.json");
File.WriteAllText(policy, $$"""
    { "registry": { "servers": [ { "server": { "name": "everything", "description": "bench", "version": "{{version}}",
      "packages": [ { "registryType": "npm", "identifier": "@modelcontextprotocol/server-everything", "version": "{{version}}", "transport": { "type": "stdio" } } ] } } ] } }
    """);
var environment = new Dictionary<string, string?> { ["PATH"] = path, ["npm_config_offline"] = "true", ["STEWARD_CONFIG_DIR"] = config };

async Task<McpClient> Stdio(string command, params string[] arguments) => await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
{
    Command = command,
    Arguments = arguments,
    WorkingDirectory = workDir,
    EnvironmentVariables = environment,
}));

Task<McpClient> Steward(string path, params string[] arguments) => path.EndsWith(".dll", StringComparison.Ordinal)
    ? Stdio("dotnet", [path, .. arguments])
    : Stdio(path, arguments);

// CPU time (user + system) the gateway process spent on the timed calls, per call; null for the variants without one.
var cpuPerCall = new Dictionary<string, List<double>>();

async Task<double[]> Measure(McpClient client, string? cpuOf = null)
{
    var arguments = new Dictionary<string, object?> { ["message"] = "ping" };
    for (var i = 0; i < warmup; i++)
    {
        await client.CallToolAsync("echo", arguments);
    }

    await Task.Delay(TimeSpan.FromSeconds(1)); // background tier-1 compilations finish

    var pid = cpuOf is null ? 0 : ChildPid("gateway\0--server\0");
    var cpuBefore = pid > 0 ? CpuSeconds(pid) : 0;
    var samples = new double[iterations];
    for (var i = 0; i < iterations; i++)
    {
        var start = Stopwatch.GetTimestamp();
        await client.CallToolAsync("echo", arguments);
        samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    if (pid > 0)
    {
        if (!cpuPerCall.TryGetValue(cpuOf!, out var list))
        {
            cpuPerCall[cpuOf!] = list = [];
        }

        list.Add((CpuSeconds(pid) - cpuBefore) * 1e6 / iterations);
    }

    Array.Sort(samples);
    return samples;
}

static double P(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

void Report(string name, double[] s, double[]? baseline)
{
    var line = string.Create(CultureInfo.InvariantCulture,
        $"{name,-38} n={s.Length} p50={P(s, 0.50):F3} ms p90={P(s, 0.90):F3} ms p99={P(s, 0.99):F3} ms mean={s.Average():F3} ms");
    if (baseline is not null)
    {
        line += string.Create(CultureInfo.InvariantCulture, $"  added: p50 {P(s, 0.50) - P(baseline, 0.50):+0.000;-0.000} ms, p99 {P(s, 0.99) - P(baseline, 0.99):+0.000;-0.000} ms");
    }

    Console.WriteLine(line);
}

// Interleave rounds so that machine noise spreads over every variant.
var results = new Dictionary<string, List<double>>();
for (var round = 0; round < rounds; round++)
{
    File.WriteAllText(Path.Combine(config, "mcp.json"), $$"""{ "mcpServers": { {{Servers(1)}} } }""");
    await using (var direct = await Stdio("npx", "-y", spec))
    {
        Add("direct (npx, stdio)", await Measure(direct));
    }

    if (baseline is not null)
    {
        await using var before = await Steward(baseline, "gateway", "--server", "everything", "--policy", policy);
        Add("baseline gateway --server (stdio)", await Measure(before, "baseline gateway --server (stdio)"));
    }

    await using (var gateway = await Steward(steward, "gateway", "--server", "everything", "--policy", policy))
    {
        Add("steward gateway --server (stdio)", await Measure(gateway, "steward gateway --server (stdio)"));
    }

    var port = FreePort();
    using var peer = Process.Start(new ProcessStartInfo("node", [Path.Combine(node, "supergateway/dist/index.js"), "--stdio", $"node {everything}",
        "--outputTransport", "streamableHttp", "--stateful", "--port", port.ToString(CultureInfo.InvariantCulture), "--logLevel", "none"])
    { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir })!;
    try
    {
        await using var http = await ConnectHttpAsync(port);
        Add("supergateway (stdio->streamableHttp)", await Measure(http));
    }
    finally
    {
        peer.Kill(entireProcessTree: true);
        await peer.WaitForExitAsync();
    }
}

var directAll = results["direct (npx, stdio)"].ToArray();
Array.Sort(directAll);
foreach (var (name, values) in results)
{
    var sorted = values.ToArray();
    Array.Sort(sorted);
    Report(name, sorted, name.StartsWith("direct", StringComparison.Ordinal) ? null : directAll);
}

foreach (var (name, values) in cpuPerCall)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name,-38} gateway CPU per timed call (user+system, per round): {string.Join(" / ", values.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))} us"));
}

// Memory: the aggregated gateway with five upstreams.
File.WriteAllText(Path.Combine(config, "mcp.json"), $$"""{ "mcpServers": { {{Servers(5)}} } }""");
await using (var five = await Steward(steward, "gateway", "--policy", policy))
{
    var tools = await five.ListToolsAsync();
    for (var i = 0; i < 200; i++)
    {
        await five.CallToolAsync($"everything{(i % 5 == 0 ? "" : (i % 5).ToString(CultureInfo.InvariantCulture))}__echo", new Dictionary<string, object?> { ["message"] = "m" });
    }

    var pid = GatewayPid();
    var rss = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    var hwm = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    Console.WriteLine($"gateway with 5 upstreams: {tools.Count} tools; gateway process {rss.Replace("\t", " ", StringComparison.Ordinal)}; peak {hwm.Replace("\t", " ", StringComparison.Ordinal)} (upstream node processes not included)");
}

void Add(string name, double[] samples)
{
    if (!results.TryGetValue(name, out var list))
    {
        results[name] = list = [];
    }

    list.AddRange(samples);
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static async Task<McpClient> ConnectHttpAsync(int port)
{
    for (var attempt = 0; ; attempt++)
    {
        try
        {
            return await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = new Uri($"http://127.0.0.1:{port}/mcp"),
                TransportMode = HttpTransportMode.StreamableHttp,
            }));
        }
        catch (Exception) when (attempt < 50)
        {
            await Task.Delay(100); // supergateway is still starting: nothing to await but its port
        }
    }
}

// /proc/<pid>/stat fields 14 and 15 (utime, stime) in clock ticks of 1/100 s.
static double CpuSeconds(int pid)
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

// The child of this process whose command line holds marker (0 when there is none).
static int ChildPid(string marker)
{
    foreach (var dir in Directory.GetDirectories("/proc"))
    {
        if (int.TryParse(Path.GetFileName(dir), out var pid))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(marker, StringComparison.Ordinal) &&
                    File.ReadAllText(Path.Combine(dir, "status")).Contains($"PPid:\t{Environment.ProcessId}\n", StringComparison.Ordinal))
                {
                    return pid;
                }
            }
            catch (IOException)
            {
            }
        }
    }

    return 0;
}

static int GatewayPid()
{
    foreach (var dir in Directory.GetDirectories("/proc"))
    {
        if (int.TryParse(Path.GetFileName(dir), out var pid) && File.Exists(Path.Combine(dir, "cmdline")))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains("gateway\0--policy", StringComparison.Ordinal) &&
                    File.ReadAllText(Path.Combine(dir, "status")).Contains($"PPid:\t{Environment.ProcessId}\n", StringComparison.Ordinal))
                {
                    return pid;
                }
            }
            catch (IOException)
            {
            }
        }
    }

    throw new InvalidOperationException("the gateway process was not found");
}
