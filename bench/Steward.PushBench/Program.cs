// Push propagation benchmark (docs/benchmarks.md "Change channel"): real `steward serve` processes, N held change
// channels (real HTTP connections to GET /api/v1/policy/events, one developer token each) and a few real
// `steward gateway` processes with a real server-everything upstream, driven by the C# SDK client as host.
// Each round commits one admin change (PUT profile, web tools toggled) and measures, for every held channel, the time
// from sending the change to receiving the event; the last round deletes the everything entry and also measures, per
// real gateway, the time to its upstream process exiting. Baseline: the same rounds with one held channel, in the same
// run. The server's memory (RSS) and CPU are read from /proc before and while the channels are held.
// Usage: Steward.PushBench <repo> <steward.dll> [holders=1000] [rounds=10] [gateways=3] [postgres-connection-string]
//   With a PostgreSQL connection string, two instances run on a fresh database; changes go through instance 1 and every
//   channel and gateway is connected to instance 2.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;

var repo = args[0];
var steward = args[1];
var holders = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1000;
var rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 10;
var gatewayCount = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 3;
var postgres = args.Length > 5 ? args[5] : null;
const string AdminToken = "stw_push-bench-admin-token-0123456789abcdef";
const string Entry = "io.github.modelcontextprotocol/server-everything";
var node = Path.Combine(repo, "tests", "node", "node_modules");
var work = Directory.CreateTempSubdirectory("steward-push-bench-").FullName;
var servers = new List<Process>();
var kek = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
string? database = null;

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

async Task<string> StartServerAsync(string name, bool bootstrap)
{
    var port = FreePort();
    var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
    foreach (var a in new[] { steward, "serve", "--urls", $"http://127.0.0.1:{port}", "--data-dir", Path.Combine(work, name) })
    {
        info.ArgumentList.Add(a);
    }

    info.Environment["STEWARD_KEY_ENCRYPTION_KEY"] = kek;
    info.Environment["STEWARD_LOG_LEVEL"] = "Warning";
    if (bootstrap)
    {
        info.Environment["STEWARD_ADMIN_TOKEN"] = AdminToken;
    }

    if (database is not null)
    {
        info.Environment["STEWARD_DATABASE"] = database;
    }

    var process = Process.Start(info)!;
    process.OutputDataReceived += (_, _) => { };
    process.ErrorDataReceived += (_, _) => { };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    servers.Add(process);
    var url = $"http://127.0.0.1:{port}";
    using var probe = new HttpClient();
    for (var i = 0; i < 600; i++)
    {
        try
        {
            if ((await probe.GetAsync(url + "/readyz")).IsSuccessStatusCode)
            {
                return url;
            }
        }
        catch (HttpRequestException)
        {
        }

        await Task.Delay(100);
    }

    throw new InvalidOperationException($"{name} did not become ready");
}

(long RssKb, double CpuSeconds) Sample(Process process)
{
    var status = File.ReadAllLines($"/proc/{process.Id}/status");
    var rss = long.Parse(status.First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    var stat = File.ReadAllText($"/proc/{process.Id}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    return (rss, ticks / 100.0);
}

static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

try
{
    if (postgres is not null)
    {
        var name = "steward_push_bench_" + Environment.ProcessId;
        await using (var connection = new Npgsql.NpgsqlConnection(postgres))
        {
            await connection.OpenAsync();
            await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        database = new Npgsql.NpgsqlConnectionStringBuilder(postgres) { Database = name }.ConnectionString;
    }

    var first = await StartServerAsync("one", bootstrap: true);
    var second = postgres is not null ? await StartServerAsync("two", bootstrap: false) : first;
    var held = postgres is not null ? servers[1] : servers[0];
    Console.WriteLine($"database: {(postgres is null ? "SQLite (one instance)" : "PostgreSQL, two instances; changes through instance 1, channels on instance 2")}");
    using var admin = new HttpClient { BaseAddress = new Uri(first + "/") };
    admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
    (await admin.PutAsync("api/v1/orgs/demo/profile", Json("""{"syncIntervalSeconds":259200}"""))).EnsureSuccessStatusCode();
    (await admin.PostAsync("api/v1/orgs/demo/accounts", Json("""{"slug":"bench","name":"bench"}"""))).EnsureSuccessStatusCode();
    var tokens = new List<string>();
    for (var i = 0; i < holders + gatewayCount; i++)
    {
        var created = await admin.PostAsync("api/v1/orgs/demo/tokens", Json($$"""{"name":"bench-{{i}}","role":"developer","account":"bench"}"""));
        created.EnsureSuccessStatusCode();
        tokens.Add((string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["token"]!);
    }

    // The real gateways: steward login (pinning the published key), then `steward gateway --server everything` under the SDK client.
    var kid = (string)JsonNode.Parse(await admin.GetStringAsync("api/v1/policy/keys"))!["keys"]![0]!["kid"]!;
    // Each gateway's upstream: the server-everything processes (npm exec, its shell, node) that appeared when it started.
    var gateways = new List<(McpClient Client, List<Process> Upstream)>();
    for (var g = 0; g < gatewayCount; g++)
    {
        var existing = EverythingProcesses();
        var config = Directory.CreateDirectory(Path.Combine(work, "gateway-" + g)).FullName;
        var everything = $"@modelcontextprotocol/server-everything@2026.8.31";
        File.WriteAllText(Path.Combine(config, "mcp.json"), $$"""{ "mcpServers": { "everything": { "command": "npx", "args": ["-y", "{{everything}}"] } } }""");
        var login = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { steward, "login", second, "--allow-http", "--key-thumbprint", kid })
        {
            login.ArgumentList.Add(a);
        }

        login.Environment["STEWARD_CONFIG_DIR"] = config;
        login.Environment["STEWARD_TOKEN"] = tokens[holders + g];
        using (var loginProcess = Process.Start(login)!)
        {
            await loginProcess.WaitForExitAsync();
            if (loginProcess.ExitCode != 0)
            {
                throw new InvalidOperationException("steward login failed: " + await loginProcess.StandardError.ReadToEndAsync());
            }
        }

        var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway-" + g,
            Command = "dotnet",
            Arguments = [steward, "gateway", "--server", "everything"],
            WorkingDirectory = Path.Combine(repo, "tests", "node"),
            EnvironmentVariables = new Dictionary<string, string?>
            {
                ["STEWARD_CONFIG_DIR"] = config,
                ["PATH"] = Path.Combine(node, ".bin") + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
                ["npm_config_offline"] = "true",
            },
        }));
        var tools = await client.ListToolsAsync();
        if (!tools.Any(t => t.Name == "echo"))
        {
            throw new InvalidOperationException("the gateway serves no echo tool");
        }

        var upstream = EverythingProcesses().Except(existing).Select(Process.GetProcessById).ToList();
        if (upstream.Count == 0)
        {
            throw new InvalidOperationException("the gateway's upstream process was not found");
        }

        gateways.Add((client, upstream));
    }

    static HashSet<int> EverythingProcesses()
    {
        var found = new HashSet<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains("server-everything", StringComparison.Ordinal))
                    {
                        found.Add(pid);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
        }

        return found;
    }

    async Task<List<List<double>>> RunAsync(int count, int roundCount, bool deleteAtEnd, string label)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var clock = Stopwatch.StartNew();
        var events = Enumerable.Range(0, count).Select(_ => new List<double>()).ToArray();
        var seen = new int[count];
        using var stop = new CancellationTokenSource();
        var before = Sample(held);
        var readers = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, second + "/api/v1/policy/events");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[i]);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop.Token);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
            while (await reader.ReadLineAsync(stop.Token) is { } line)
            {
                if (line.StartsWith("event: policy", StringComparison.Ordinal))
                {
                    lock (events[i])
                    {
                        events[i].Add(clock.Elapsed.TotalMilliseconds);
                    }

                    Interlocked.Increment(ref seen[i]);
                }
            }
        })).ToList();

        async Task UntilAsync(int each, TimeSpan guard)
        {
            var deadline = Stopwatch.StartNew();
            while (seen.Any(s => s < each))
            {
                if (deadline.Elapsed > guard)
                {
                    throw new TimeoutException($"{seen.Count(s => s < each)} channels had not received event {each} within {guard.TotalSeconds:0} s");
                }

                await Task.Delay(5);
            }
        }

        await UntilAsync(1, TimeSpan.FromMinutes(3));
        await Task.Delay(TimeSpan.FromSeconds(5));
        var holding = Sample(held);
        // Idle for one heartbeat period and more: what holding the channels costs when nothing changes.
        var idleStart = Sample(held);
        await Task.Delay(TimeSpan.FromSeconds(30));
        var idleEnd = Sample(held);
        Console.WriteLine($"[{label}] {count} channels held on the instance: RSS {before.RssKb / 1024.0:0.0} MiB → {holding.RssKb / 1024.0:0.0} MiB " +
            $"({(holding.RssKb - before.RssKb) / (double)Math.Max(1, count):0.0} KiB per channel); idle CPU {idleEnd.CpuSeconds - idleStart.CpuSeconds:0.00} s over 30 s " +
            $"({(idleEnd.CpuSeconds - idleStart.CpuSeconds) / 30 * 100:0.00}% of one core, {(idleEnd.CpuSeconds - idleStart.CpuSeconds) / 30 / Math.Max(1, count) * 1e6:0.0} µs/s per channel)");
        var latencies = new List<List<double>>();
        var web = false;
        for (var round = 0; round < roundCount + (deleteAtEnd ? 1 : 0); round++)
        {
            var start = clock.Elapsed.TotalMilliseconds;
            var cpuBefore = Sample(held).CpuSeconds;
            var upstreamExits = new List<Task<double>>();
            if (deleteAtEnd && round == roundCount)
            {
                upstreamExits.AddRange(gateways.Select(g => Task.Run(async () =>
                {
                    await Task.WhenAll(g.Upstream.Select(p => p.WaitForExitAsync()));
                    return clock.Elapsed.TotalMilliseconds - start;
                })));
                var path = $"api/v1/orgs/demo/registry/servers/{Uri.EscapeDataString(Entry)}/versions/2026.8.31/status";
                (await admin.PatchAsync(path, Json("""{"status":"deleted","statusMessage":"bench: incident INC-42"}"""))).EnsureSuccessStatusCode();
            }
            else
            {
                (await admin.PutAsync("api/v1/orgs/demo/profile", Json($$"""{"syncIntervalSeconds":259200,"webToolsEnabled":{{(web ? "true" : "false")}}}"""))).EnsureSuccessStatusCode();
                web = !web;
            }

            await UntilAsync(round + 2, TimeSpan.FromMinutes(2));
            var cpuAfter = Sample(held).CpuSeconds;
            var round_ = events.Select(e => { lock (e) { return e[round + 1] - start; } }).ToList();
            latencies.Add(round_);
            Console.WriteLine($"[{label}] round {round + 1}{(deleteAtEnd && round == roundCount ? " (entry deleted)" : "")}: p50 {Percentile(round_, 50):0} ms, p99 {Percentile(round_, 99):0} ms, max {round_.Max():0} ms; server CPU {cpuAfter - cpuBefore:0.00} s");
            if (upstreamExits.Count > 0)
            {
                var exits = await Task.WhenAll(upstreamExits).WaitAsync(TimeSpan.FromMinutes(2));
                Console.WriteLine($"[{label}] real gateways: upstream process terminated after {string.Join(", ", exits.Select(x => x.ToString("0", CultureInfo.InvariantCulture) + " ms"))}");
            }

            await Task.Delay(1000);
        }

        await stop.CancelAsync();
        try
        {
            await Task.WhenAll(readers);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
        }

        return latencies;
    }

    static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    var baseline = await RunAsync(1, rounds, deleteAtEnd: false, "baseline: 1 channel");
    var loaded = await RunAsync(holders, rounds, deleteAtEnd: gatewayCount > 0, $"{holders} channels");
    var baseAll = baseline.SelectMany(r => r).ToList();
    var loadedAll = loaded.SelectMany(r => r).ToList();
    Console.WriteLine($"summary: {holders} channels over {loaded.Count} changes: p50 {Percentile(loadedAll, 50):0} ms, p99 {Percentile(loadedAll, 99):0} ms, max {loadedAll.Max():0} ms; " +
        $"baseline (1 channel, {baseline.Count} changes): p50 {Percentile(baseAll, 50):0} ms, p99 {Percentile(baseAll, 99):0} ms; p99 ratio {Percentile(loadedAll, 99) / Math.Max(1, Percentile(baseAll, 99)):0.0}");
    foreach (var (client, _) in gateways)
    {
        await client.DisposeAsync();
    }
}
finally
{
    foreach (var server in servers)
    {
        try
        {
            server.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    if (database is not null && postgres is not null)
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        await using var connection = new Npgsql.NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {new Npgsql.NpgsqlConnectionStringBuilder(database).Database} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }

    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException)
    {
    }
}
