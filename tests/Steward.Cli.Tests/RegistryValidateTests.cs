using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Steward.Cli.Tests;

public class RegistryValidateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("steward-validate-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    public static TheoryData<string> Examples() =>
        new(Directory.GetFiles(FixturePaths.OfficialExamples, "*.json").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Every_official_example_is_valid(string file)
    {
        var outcome = await CliRunner.RunAsync("registry", "validate", Path.Combine(FixturePaths.OfficialExamples, file));
        Assert.True(outcome.ExitCode == 0, outcome.Stdout);
        Assert.Contains("valid:", outcome.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_seed_and_the_kiro_file_are_valid_and_named_by_shape()
    {
        var seed = await CliRunner.RunAsync("registry", "validate", FixturePaths.Seed);
        Assert.Equal(0, seed.ExitCode);
        Assert.Contains("array of server.json, 4 server versions", seed.Stdout, StringComparison.Ordinal);

        var kiro = await CliRunner.RunAsync("registry", "validate", FixturePaths.Kiro);
        Assert.Equal(0, kiro.ExitCode);
        Assert.Contains("Kiro registry file, 2 server versions", kiro.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_document_exits_1_and_prints_every_problem_with_its_path()
    {
        var path = Write("bad.json", """{"name": 7, "version": "1.0.0", "packages": [{"registryType": "npm"}]}""");
        var outcome = await CliRunner.RunAsync("registry", "validate", path);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("error name: must be a string, found a number", outcome.Stdout, StringComparison.Ordinal);
        Assert.Contains("error description:", outcome.Stdout, StringComparison.Ordinal);
        Assert.Contains("error packages[0].identifier:", outcome.Stdout, StringComparison.Ordinal);
        Assert.Contains("error packages[0].transport:", outcome.Stdout, StringComparison.Ordinal);
        Assert.Contains("fix:", outcome.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_output_lists_problems_for_machines()
    {
        var path = Write("dup.json", "{\"name\":\"io.github.acme/tool\",\"description\":\"d\",\"version\":\"1.0.0\",\"version\":\"1.0.1\"}");
        var outcome = await CliRunner.RunAsync("registry", "validate", path, "--format", "json");
        Assert.Equal(1, outcome.ExitCode);
        using var report = JsonDocument.Parse(outcome.Stdout);
        Assert.False(report.RootElement.GetProperty("valid").GetBoolean());
        var problem = report.RootElement.GetProperty("problems").EnumerateArray().Single(p => p.GetProperty("rule").GetString() == "json.duplicate-key");
        Assert.Equal("version", problem.GetProperty("path").GetString());
        Assert.Equal("error", problem.GetProperty("severity").GetString());
    }

    [Fact]
    public async Task A_missing_file_exits_2_and_says_so()
    {
        var outcome = await CliRunner.RunAsync("registry", "validate", Path.Combine(_dir, "nope.json"));
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("does not exist", outcome.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_that_is_not_json_exits_2_with_line_and_column()
    {
        var path = Write("broken.json", "{\n  \"name\": \"io.github.acme/tool\",\n  \"description\": oops\n}");
        var outcome = await CliRunner.RunAsync("registry", "validate", path, "--format", "json");
        Assert.Equal(2, outcome.ExitCode);
        using var report = JsonDocument.Parse(outcome.Stdout);
        var failure = report.RootElement.GetProperty("failure");
        Assert.Equal("not-json", failure.GetProperty("kind").GetString());
        Assert.Equal(3, failure.GetProperty("line").GetInt64());
        Assert.True(failure.GetProperty("column").GetInt64() > 0);
    }

    [Fact]
    public async Task A_document_over_the_size_limit_exits_2()
    {
        var outcome = await CliRunner.RunAsync("registry", "validate", FixturePaths.Seed, "--max-bytes", "100");
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("over the limit of 100 bytes", outcome.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_document_nested_too_deeply_exits_2()
    {
        var path = Write("deep.json", "{\"name\":\"io.github.acme/tool\",\"_meta\":" + string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100) + "}");
        var outcome = await CliRunner.RunAsync("registry", "validate", path);
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("nested more than 64 levels", outcome.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_document_with_a_byte_order_mark_is_accepted()
    {
        var path = Path.Combine(_dir, "bom.json");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("""{"name":"io.github.acme/tool","description":"d","version":"1.0.0"}""")]);
        var outcome = await CliRunner.RunAsync("registry", "validate", path);
        Assert.True(outcome.ExitCode == 0, outcome.Stdout);
    }

    [Fact]
    public async Task A_url_is_fetched_and_validated()
    {
        var body = await File.ReadAllBytesAsync(FixturePaths.Seed);
        using var server = new OneFileServer(body);
        var ok = await CliRunner.RunAsync("registry", "validate", server.Url + "seed.json");
        Assert.True(ok.ExitCode == 0, ok.Stdout);

        var missing = await CliRunner.RunAsync("registry", "validate", server.Url + "missing.json");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("answered 404", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fetched_document_over_the_size_limit_exits_2_though_its_length_was_not_declared()
    {
        // HttpListener sends a body without Content-Length in chunks: the limit is found while reading.
        using var server = new OneFileServer(await File.ReadAllBytesAsync(FixturePaths.Seed));

        var outcome = await CliRunner.RunAsync("registry", "validate", server.Url + "seed.json", "--max-bytes", "100");

        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("the document is at least 101 bytes, over the limit of 100 bytes; raise it with --max-bytes", outcome.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_built_command_reports_through_its_exit_code()
    {
        var path = Write("bad.json", """{"name":"io.github.acme/tool"}""");
        var outcome = await CliRunner.RunProcessAsync("registry", "validate", path, "--format", "json");
        Assert.Equal(1, outcome.ExitCode);
        Assert.DoesNotContain("   at ", outcome.Stdout + outcome.Stderr, StringComparison.Ordinal);
        using var report = JsonDocument.Parse(outcome.Stdout);
        Assert.Equal(2, report.RootElement.GetProperty("errors").GetInt32());
    }

    /// <summary>A minimal HTTP server on 127.0.0.1 that serves one body at <c>/seed.json</c> and 404 elsewhere.</summary>
    private sealed class OneFileServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly byte[] _body;

        public OneFileServer(byte[] body)
        {
            _body = body;
            var port = FreePort();
            Url = $"http://127.0.0.1:{port}/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public string Url { get; }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                if (context.Request.Url!.AbsolutePath == "/seed.json")
                {
                    context.Response.ContentType = "application/json";
                    await context.Response.OutputStream.WriteAsync(_body);
                }
                else
                {
                    context.Response.StatusCode = 404;
                }

                context.Response.Close();
            }
        }

        private static int FreePort()
        {
            using var socket = new TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }

        public void Dispose() => _listener.Close();
    }
}
