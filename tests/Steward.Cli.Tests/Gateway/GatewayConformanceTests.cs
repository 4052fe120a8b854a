using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// The official MCP conformance suite (<c>@modelcontextprotocol/conformance</c>, every server scenario, <c>--suite all</c>)
/// run twice over streamable HTTP: against server-everything serving streamable HTTP itself, and against
/// <c>steward gateway --server everything --http 0</c> fronting server-everything launched over stdio through npx. A host
/// must not be able to tell the gateway is there: every check that passes directly passes through the gateway, and a
/// check that fails both ways fails with the same message (with the URL told apart). What fails
/// directly is written to the test output, not asserted: most of the suite's scenarios call the tools, prompts and
/// resources of the suite's own reference server (<c>test_simple_text</c>, <c>test://static-text</c>, …), which
/// server-everything does not have.
/// </summary>
public sealed partial class GatewayConformanceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(4);

    /// <summary>One check's outcome: the worst status among the checks of that id in the scenario, and its message.</summary>
    private sealed record Outcome(string Status, string? Message);

    [NodeFact]
    public async Task Every_check_the_suite_passes_against_server_everything_directly_passes_through_the_per_server_gateway()
    {
        var scenarios = await ListScenariosAsync();
        Assert.Contains("server-initialize", scenarios);

        Dictionary<string, Outcome> direct;
        string directUrl;
        await using (var everything = await StartEverythingOverHttpAsync())
        {
            directUrl = everything.Url;
            direct = await RunSuiteAsync(everything.Url, token: null, scenarios);
        }

        Dictionary<string, Outcome> gateway;
        string gatewayUrl;
        await using (var running = await GatewayHttpTests.StartAsync("conformance-" + Guid.NewGuid().ToString("N")))
        {
            gatewayUrl = running.Url.ToString();
            gateway = await RunSuiteAsync(gatewayUrl, running.Token, scenarios);
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"{"scenario/check",-66} {"direct",-8} {"gateway",-8}");
        foreach (var key in direct.Keys.Union(gateway.Keys).Order(StringComparer.Ordinal))
        {
            report.AppendLine(CultureInfo.InvariantCulture,
                $"{key,-66} {direct.GetValueOrDefault(key)?.Status ?? "-",-8} {gateway.GetValueOrDefault(key)?.Status ?? "-",-8}");
        }

        report.AppendLine().AppendLine("Failing directly (the suite's expectations server-everything does not meet; not asserted):");
        foreach (var (key, outcome) in direct.Where(d => d.Value.Status == "FAILURE").OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"  {key}: {outcome.Message}");
        }

        report.AppendLine().AppendLine("Passing through the gateway but not directly (what Steward adds):");
        foreach (var (key, _) in gateway.Where(g => g.Value.Status == "SUCCESS" && direct.GetValueOrDefault(g.Key)?.Status != "SUCCESS").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"  {key}");
        }

        output.WriteLine(report.ToString());

        // The direct run is not empty: the suite reached server-everything and some checks passed.
        Assert.Equal("SUCCESS", direct.GetValueOrDefault("server-initialize/server-initialize")?.Status);

        var lost = direct.Where(d => d.Value.Status == "SUCCESS" && gateway.GetValueOrDefault(d.Key)?.Status != "SUCCESS")
            .Select(d => $"{d.Key}: {gateway.GetValueOrDefault(d.Key)?.Status ?? "missing"} {gateway.GetValueOrDefault(d.Key)?.Message}").ToList();
        Assert.True(lost.Count == 0, "passes directly but not through the gateway:\n" + string.Join('\n', lost) + "\n\n" + report);

        var different = direct.Where(d => d.Value.Status == "FAILURE" && gateway.GetValueOrDefault(d.Key) is { Status: "FAILURE" } g &&
                                          Normalised(d.Value.Message, directUrl) != Normalised(g.Message, gatewayUrl))
            .Select(d => $"{d.Key}:\n  direct:  {d.Value.Message}\n  gateway: {gateway[d.Key].Message}").ToList();
        Assert.True(different.Count == 0, "fails differently through the gateway than directly:\n" + string.Join('\n', different));
    }

    private static string? Normalised(string? message, string url) =>
        message?.Replace(url.TrimEnd('/'), "<url>", StringComparison.Ordinal).Replace(new Uri(url).Authority, "<authority>", StringComparison.Ordinal);

    /// <summary>The suite's server scenarios (<c>conformance list --server</c>).</summary>
    private static async Task<IReadOnlyList<string>> ListScenariosAsync()
    {
        var (exit, stdout, stderr) = await NodeAsync(null, NodePackages.ConformanceScript, "list", "--server");
        Assert.True(exit == 0, stdout + stderr);
        return [.. ScenarioLine().Matches(stdout).Select(m => m.Groups[1].Value)];
    }

    /// <summary>
    /// Runs every server scenario against <paramref name="url"/> and reads the checks it saved
    /// (<c>&lt;out&gt;/server-&lt;scenario&gt;-&lt;timestamp&gt;/checks.json</c>), keyed <c>scenario/check id</c>.
    /// With a token, the suite's requests to that origin carry <c>Authorization: Bearer &lt;token&gt;</c>.
    /// </summary>
    private static async Task<Dictionary<string, Outcome>> RunSuiteAsync(string url, string? token, IReadOnlyList<string> scenarios)
    {
        var results = Path.Combine(Path.GetTempPath(), "steward-conformance-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(results);
        try
        {
            var environment = new Dictionary<string, string>();
            var args = new List<string>();
            if (token is not null)
            {
                environment["STEWARD_CONFORMANCE_TOKEN"] = token;
                environment["STEWARD_CONFORMANCE_ORIGIN"] = new Uri(url).GetLeftPart(UriPartial.Authority);
                args.AddRange(["--import", new Uri(NodePackages.ConformanceBearerPreload).AbsoluteUri]);
            }

            args.AddRange([NodePackages.ConformanceScript, "server", "--url", url, "--suite", "all", "-o", results]);
            var (exit, stdout, stderr) = await NodeAsync(environment, [.. args]);
            // 0: every scenario passed; 1: some failed. Anything else is the suite itself failing.
            Assert.True(exit is 0 or 1, $"the conformance suite exited {exit}:\n{stdout}\n{stderr}");

            var outcomes = new Dictionary<string, Outcome>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var dir in Directory.GetDirectories(results))
            {
                var scenario = ResultDirectory().Match(Path.GetFileName(dir)) is { Success: true } m
                    ? m.Groups[1].Value
                    : throw new InvalidOperationException("unexpected result directory " + dir);
                seen.Add(scenario);
                using var checks = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "checks.json")));
                foreach (var check in checks.RootElement.EnumerateArray())
                {
                    var key = scenario + "/" + check.GetProperty("id").GetString();
                    var status = check.GetProperty("status").GetString() ?? "";
                    var message = check.TryGetProperty("errorMessage", out var e) ? e.GetString() : null;
                    if (!outcomes.TryGetValue(key, out var known) || Rank(status) > Rank(known.Status))
                    {
                        outcomes[key] = new Outcome(status, message);
                    }
                }
            }

            Assert.True(scenarios.All(seen.Contains), $"scenarios without results against {url}: {string.Join(", ", scenarios.Except(seen))}\n{stdout}\n{stderr}");
            return outcomes;
        }
        finally
        {
            Directory.Delete(results, recursive: true);
        }
    }

    private static int Rank(string status) => status switch
    {
        "FAILURE" => 3,
        "WARNING" => 2,
        "SUCCESS" => 1,
        _ => 0,
    };

    /// <summary>server-everything serving streamable HTTP itself (its <c>streamableHttp</c> mode, port from <c>PORT</c>).</summary>
    private static async Task<Everything> StartEverythingOverHttpAsync()
    {
        NodePackages.Require();
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var start = new ProcessStartInfo(NodePackages.Node22)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = NodePackages.Root,
        };
        start.ArgumentList.Add(NodePackages.ServerEverythingScript);
        start.ArgumentList.Add("streamableHttp");
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        var process = Process.Start(start)!;
        var everything = new Everything(process, $"http://127.0.0.1:{port}/mcp");
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is not null)
            {
            }
        });
        var stderr = new StringBuilder();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var line = await process.StandardError.ReadLineAsync().WaitAsync(Guard - clock.Elapsed);
            if (line is null)
            {
                await everything.DisposeAsync();
                throw new InvalidOperationException("server-everything exited: " + stderr);
            }

            stderr.AppendLine(line);
            if (line.Contains($"listening on port {port}", StringComparison.Ordinal))
            {
                break;
            }
        }

        _ = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is not null)
            {
            }
        });
        return everything;
    }

    private sealed class Everything(Process process, string url) : IAsyncDisposable
    {
        public string Url { get; } = url;

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> NodeAsync(Dictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(NodePackages.Node22)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.Environment["PATH"] = NodePackages.PathWith();
        start.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Guard);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex(@"^\s*-\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex ScenarioLine();

    [GeneratedRegex(@"^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")]
    private static partial Regex ResultDirectory();
}
