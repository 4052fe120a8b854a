using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests;

/// <summary>
/// The acceptance test for durability: the real <c>steward serve</c> as a child process, 16 clients publishing distinct
/// versions, SIGKILL mid-load, a restart on the same data, and every write that was acknowledged (201) is there.
/// </summary>
public sealed class DurabilityTests
{
    private const string Token = "stw_durability-test-admin-token-0123456789";
    private const int Clients = 16;
    private const int PerClient = 400;
    private static readonly TimeSpan WriteFor = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task Every_acknowledged_write_survives_SIGKILL_while_16_clients_write_on_SQLite()
    {
        var dataDir = Path.Combine(Directory.CreateTempSubdirectory("steward-durability-").FullName, "data");
        try
        {
            await RunAsync(["--data-dir", dataDir]);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dataDir)!, recursive: true);
        }
    }

    [PostgresFact]
    public async Task Every_acknowledged_write_survives_SIGKILL_while_16_clients_write_on_PostgreSQL()
    {
        await using var database = await TestPostgres.CreateAsync("steward_durability_");

        var dataDir = Directory.CreateTempSubdirectory("steward-durability-pg-").FullName;
        try
        {
            await RunAsync(["--data-dir", dataDir, "--database", database.ConnectionString]);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task RunAsync(string[] storage)
    {
        var acknowledged = new ConcurrentBag<(string Name, string Version)>();
        var (process, origin) = await StartAsync(storage);
        try
        {
            using var client = new HttpClient { BaseAddress = origin, Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // a cap: the writers write until the kill
            var writers = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
            {
                var name = $"com.example.durable/client-{c:D2}";
                for (var i = 0; i < PerClient && !stop.IsCancellationRequested; i++)
                {
                    var version = $"1.0.{i}";
                    try
                    {
                        using var response = await client.PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(TestServer.ServerJson(name, version)), CancellationToken.None);
                        if (response.StatusCode == HttpStatusCode.Created)
                        {
                            acknowledged.Add((name, version));
                        }
                        else
                        {
                            Assert.Fail($"publish {name} {version}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return; // the server is gone
                    }
                }
            })).ToList();

            // Kill while the writers are still writing: after most of the time, or once they have written a good share;
            // on a loaded machine, not before every client could have had a write acknowledged (within a minute).
            var started = Stopwatch.StartNew();
            while ((started.Elapsed < WriteFor - TimeSpan.FromSeconds(1) || (acknowledged.Count < Clients && started.Elapsed < TimeSpan.FromMinutes(1)))
                && acknowledged.Count < Clients * PerClient * 3 / 4 && writers.Any(w => !w.IsCompleted))
            {
                await Task.Delay(50);
            }

            Assert.True(writers.Any(w => !w.IsCompleted), "the writers finished before the kill; raise PerClient");
            process.Kill(); // SIGKILL on Linux
            await process.WaitForExitAsync();
            await Task.WhenAll(writers);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            process.Dispose();
        }

        Assert.True(acknowledged.Count >= Clients, $"only {acknowledged.Count} writes were acknowledged before the kill");
        var (restarted, restartedOrigin) = await StartAsync(storage);
        try
        {
            using var reader = new HttpClient { BaseAddress = restartedOrigin };
            var present = new HashSet<(string, string)>();
            string? cursor = null;
            do
            {
                var page = JsonNode.Parse(await reader.GetStringAsync("/v0.1/servers?limit=100&search=com.example.durable" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))))!;
                foreach (var item in page["servers"]!.AsArray())
                {
                    present.Add((item!["server"]!["name"]!.GetValue<string>(), item["server"]!["version"]!.GetValue<string>()));
                }

                cursor = page["metadata"]!["nextCursor"]?.GetValue<string>();
            }
            while (cursor is not null);

            var lost = acknowledged.Where(a => !present.Contains(a)).ToList();
            Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged writes are missing after SIGKILL, e.g. {string.Join(", ", lost.Take(5))}");
        }
        finally
        {
            restarted.Kill();
            await restarted.WaitForExitAsync();
            restarted.Dispose();
        }
    }

    /// <summary>Starts <c>dotnet steward.dll serve</c> on a free loopback port and waits for its banner.</summary>
    private static async Task<(Process Process, Uri Origin)> StartAsync(string[] storage)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { ServeTests.CliPath(), "serve", "--urls", "http://127.0.0.1:0" }.Concat(storage))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["STEWARD_ADMIN_TOKEN"] = Token;
        var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<string>();
        while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
        {
            seen.Add(line);
            const string marker = "Registry API: ";
            var at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                // Keep draining both streams so the child never blocks on a full pipe.
                _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return (process, new Uri(line[(at + marker.Length)..].Split(' ')[0]));
            }
        }

        process.Kill();
        throw new InvalidOperationException("steward serve printed no banner:\n" + string.Join("\n", seen));
    }
}
