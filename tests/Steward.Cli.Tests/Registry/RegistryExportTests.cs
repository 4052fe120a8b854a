using Microsoft.Extensions.Logging;
using Steward.Cli.Registry;
using Steward.Core.Registry;
using Steward.Server;

namespace Steward.Cli.Tests.Registry;

/// <summary><c>steward registry export</c> against a real server (Kestrel on 127.0.0.1, SQLite) with its demo organisation.</summary>
public sealed class RegistryExportTests : IAsyncLifetime
{
    private const string AdminToken = "stw_cli-export-test-admin-token-0123456789";
    private string _root = "";
    private StewardServer _server = null!;

    public async Task InitializeAsync()
    {
        _root = Directory.CreateTempSubdirectory("steward-cli-export-").FullName;
        _server = await StewardServer.StartAsync(new ServeOptions
        {
            DataDir = Path.Combine(_root, "data"),
            Urls = ["http://127.0.0.1:0"],
            BootstrapAdminToken = AdminToken,
            Messages = new StringWriter(),
            LogLevel = LogLevel.Warning,
        }, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _server.StopAsync(CancellationToken.None);
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string format, string? output = null, string? token = AdminToken, string org = "demo", string? mode = null, string? command = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        using var http = new HttpClient();
        var exit = await ExportCommand.RunAsync(new ExportCommand.Request(format, _server.BaseUrl.ToString(), org, null, token, output, mode, command), http, stdout, stderr, CancellationToken.None);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task The_kiro_export_is_written_to_the_output_file_as_a_valid_kiro_file_and_what_it_left_out_goes_to_stderr()
    {
        // The demo's npm servers and the registry examples (PyPI, OCI, remote), imported as an admin would.
        using (var admin = new HttpClient { BaseAddress = _server.BaseUrl })
        {
            admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
            await RegistryExamples.ImportAsync(admin);
        }

        var file = Path.Combine(_root, "registry.json");
        var (exit, stdout, stderr) = await RunAsync("kiro", file);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Empty(stdout);
        var loaded = RegistryLoader.Load(await File.ReadAllBytesAsync(file), RegistryShape.KiroFile);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Problems));
        Assert.Contains("exported 4 server(s); left out 2:", stderr, StringComparison.Ordinal);
        Assert.Contains("io.github.github/github-mcp-server@0.20.2", stderr, StringComparison.Ordinal);
        Assert.Contains("io.github.modelcontextprotocol/server-filesystem@2026.8.31", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_claude_export_goes_to_stdout_when_no_output_is_given()
    {
        var (exit, stdout, _) = await RunAsync("claude", mode: "direct");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("\"mcpServers\"", stdout, StringComparison.Ordinal);
        Assert.Contains("@modelcontextprotocol/server-everything@2026.8.31", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_gateway_mode_is_the_default_and_takes_the_admins_command()
    {
        var (exit, stdout, _) = await RunAsync("gemini");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("\"command\":\"steward\",\"args\":[\"gateway\",\"--server\",\"io.github.modelcontextprotocol/server-everything\"]", stdout, StringComparison.Ordinal);
        var (withPath, settings, _) = await RunAsync("claude-settings", command: "/opt/steward/steward");
        Assert.Equal(ExitCodes.Ok, withPath);
        Assert.Contains("[\"/opt/steward/steward\",\"gateway\",\"--server\",", settings, StringComparison.Ordinal);
        var (relative, _, stderr) = await RunAsync("claude-settings", command: "steward/bin");
        Assert.Equal(ExitCodes.Invalid, relative);
        Assert.Contains("relative path", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_token_or_an_unknown_organisation_exits_1_with_the_servers_reason()
    {
        var (exit, _, stderr) = await RunAsync("cursor", token: "stw_nobody-was-given-this-token");
        Assert.Equal(ExitCodes.Invalid, exit);
        Assert.Contains("401", stderr, StringComparison.Ordinal);
        var (unknown, _, unknownErr) = await RunAsync("copilot", org: "nobody");
        Assert.Equal(ExitCodes.Invalid, unknown);
        Assert.Contains("404", unknownErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_command_line_takes_the_kind_as_kind_or_as_its_earlier_spelling_format()
    {
        string[] rest = ["claude", "--mode", "direct", "--server", _server.BaseUrl.ToString(), "--org", "demo", "--token", AdminToken];

        var kind = await CliRunner.RunAsync(["registry", "export", "--kind", .. rest]);
        var format = await CliRunner.RunAsync(["registry", "export", "--format", .. rest]);

        Assert.True(kind.ExitCode == 0, kind.Stderr);
        Assert.Contains("\"mcpServers\"", kind.Stdout, StringComparison.Ordinal);
        Assert.Contains("exported ", kind.Stderr, StringComparison.Ordinal);
        Assert.Equal((kind.ExitCode, kind.Stdout, kind.Stderr), (format.ExitCode, format.Stdout, format.Stderr));
    }

    [Fact]
    public async Task Missing_options_exit_2_naming_the_option()
    {
        var stderr = new StringWriter();
        using var http = new HttpClient();
        var exit = await ExportCommand.RunAsync(new ExportCommand.Request("kiro", null, "demo", null, AdminToken, null), http, new StringWriter(), stderr, CancellationToken.None);
        Assert.Equal(ExitCodes.Unreadable, exit);
        Assert.Contains("--server", stderr.ToString(), StringComparison.Ordinal);
        var insecure = await ExportCommand.RunAsync(new ExportCommand.Request("kiro", "http://steward.example.com", "demo", null, AdminToken, null), http, new StringWriter(), stderr, CancellationToken.None);
        Assert.Equal(ExitCodes.Unreadable, insecure);
    }
}
