using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Tests;

public sealed class ServeTests
{
    private static async Task<(int Code, string Messages)> RunAsync(ServeOptions options)
    {
        var messages = new StringWriter();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var code = await StewardServer.RunAsync(options with { Messages = messages, LogLevel = LogLevel.None }, cancel.Token);
        return (code, messages.ToString());
    }

    private static void AssertOneLineNaming(string option, string messages)
    {
        var lines = messages.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, messages);
        Assert.StartsWith($"steward serve: {option}: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_exits_2_with_one_line_naming_urls()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var dataDir = Directory.CreateTempSubdirectory("steward-serve-test-").FullName;
        var (code, messages) = await RunAsync(new ServeOptions { DataDir = dataDir, Urls = [$"http://127.0.0.1:{port}"] });
        Assert.Equal(2, code);
        AssertOneLineNaming("--urls", messages);
    }

    [Fact]
    public async Task An_unusable_data_directory_exits_2_with_one_line_naming_data_dir()
    {
        var root = Directory.CreateTempSubdirectory("steward-serve-test-").FullName;
        var file = Path.Combine(root, "a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        var (code, messages) = await RunAsync(new ServeOptions { DataDir = Path.Combine(file, "data"), Urls = ["http://127.0.0.1:0"] });
        Assert.Equal(2, code);
        AssertOneLineNaming("--data-dir", messages);
    }

    [Theory]
    [InlineData("Host=;Nonsense=1")]
    [InlineData("this is not a connection string")]
    [InlineData("Host=127.0.0.1;Port=1;Database=steward;Username=steward;Timeout=3")]
    public async Task A_bad_database_exits_2_with_one_line_naming_database(string connectionString)
    {
        var dataDir = Directory.CreateTempSubdirectory("steward-serve-test-").FullName;
        var (code, messages) = await RunAsync(new ServeOptions { DataDir = dataDir, Urls = ["http://127.0.0.1:0"], Database = connectionString });
        Assert.Equal(2, code);
        AssertOneLineNaming("--database", messages);
    }

    [Fact]
    public async Task A_short_bootstrap_token_exits_2_with_one_line_naming_the_variable()
    {
        var dataDir = Directory.CreateTempSubdirectory("steward-serve-test-").FullName;
        var (code, messages) = await RunAsync(new ServeOptions { DataDir = dataDir, Urls = ["http://127.0.0.1:0"], BootstrapAdminToken = "short" });
        Assert.Equal(2, code);
        AssertOneLineNaming("STEWARD_ADMIN_TOKEN", messages);
    }

    [Theory]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaa", "it has 1 distinct character")]
    [InlineData("abcdeabcdeabcdeabcdeabcde", "it has 5 distinct characters")]
    [InlineData("abcdefghijkabcdefghijkabcdefghijk", "it repeats \"abcd…\" (11 characters)")]
    public async Task A_bootstrap_token_that_is_easy_to_guess_exits_2_naming_the_variable_and_nothing_is_created(string token, string why)
    {
        var dataDir = Directory.CreateTempSubdirectory("steward-serve-test-").FullName;
        var (code, messages) = await RunAsync(new ServeOptions { DataDir = dataDir, Urls = ["http://127.0.0.1:0"], BootstrapAdminToken = token });
        Assert.Equal(2, code);
        AssertOneLineNaming("STEWARD_ADMIN_TOKEN", messages);
        Assert.Contains("too easy to guess: " + why, messages, StringComparison.Ordinal);
        Assert.Contains("openssl rand -base64 32", messages, StringComparison.Ordinal);
        Assert.DoesNotContain(token, messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Steward_serve_starts_with_the_environment_token_and_stops_cleanly_on_SIGTERM()
    {
        var cli = CliPath();
        var dataDir = Path.Combine(Directory.CreateTempSubdirectory("steward-serve-test-").FullName, "data");
        const string token = "stw_from-the-environment-0123456789";
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { cli, "serve", "--data-dir", dataDir, "--urls", "http://127.0.0.1:0" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["STEWARD_ADMIN_TOKEN"] = token;
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            string? origin = null;
            var seen = new List<string>();
            while (origin is null && await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
            {
                seen.Add(line);
                const string marker = "Registry API: ";
                var at = line.IndexOf(marker, StringComparison.Ordinal);
                if (at >= 0)
                {
                    origin = line[(at + marker.Length)..].Split(' ')[0];
                }
            }

            Assert.True(origin is not null, "no banner on standard error:\n" + string.Join("\n", seen));
            using var client = new HttpClient { BaseAddress = new Uri(origin) };
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz", timeout.Token)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v0.1/servers?limit=1", timeout.Token)).StatusCode);
            using var audit = new HttpRequestMessage(HttpMethod.Get, "/api/v1/orgs/demo/audit");
            audit.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(audit, timeout.Token)).StatusCode);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(timeout.Token);
            }

            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
            Assert.DoesNotContain(token, string.Join("\n", seen) + await process.StandardError.ReadToEndAsync(timeout.Token), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    /// <summary>The steward command built beside these tests (same configuration).</summary>
    internal static string CliPath()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
            {
                var path = Path.Combine(dir.FullName, "src", "Steward.Cli", "bin", configuration, "net10.0", "steward.dll");
                Assert.True(File.Exists(path), $"the steward command was not built at {path}");
                return path;
            }
        }

        throw new InvalidOperationException("the repository root (Steward.slnx) was not found above " + AppContext.BaseDirectory);
    }
}
