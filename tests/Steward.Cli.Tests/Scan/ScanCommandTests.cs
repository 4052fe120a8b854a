using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent.Tests.Support;
using Steward.Cli.AgentCommands;
using Steward.Cli.Scan;

namespace Steward.Cli.Tests.Scan;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ScanCommandTests
{
    private static readonly string Token = "ghp" + "_" + "Xk9Qm2Lp7Rt4Vw8Yz1Bn5Cd3Fg6Hj0Ks2Mq";

    private static string Config => "{\"mcpServers\": {\"a\": {\"command\": \"npx\", \"args\": [\"x\"], \"env\": {\"GITHUB_TOKEN\": \"" + Token + "\"}}}}";

    private sealed record Run(int Exit, string Console, string Stdout, string Stderr);

    private static async Task<Run> RunAsync(TempConfig config, bool interactive, params string[] args)
    {
        var human = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(human) });
        console.Profile.Width = 4096;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var environment = new AgentEnvironment(config.Paths, config.Root, config.Root, _ => null, interactive, TimeProvider.System);
        var root = new RootCommand("steward") { ScanCommand.Create(console, stdout, stderr, environment) };
        string[] roots = args.Contains("--home") ? ["--workspace", config.Workspace] : ["--home", config.Home, "--workspace", config.Workspace];
        var exit = await root.Parse(["scan", .. roots, .. args]).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });
        return new Run(exit, human.ToString(), stdout.ToString(), stderr.ToString());
    }

    private static string Write(TempConfig config, string relative, string content)
    {
        var path = config.Write(relative, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    [Fact]
    public async Task Nothing_found_exits_0_and_says_there_is_no_policy()
    {
        using var config = new TempConfig();
        Write(config, "home/.cursor/mcp.json", """{"mcpServers": {"a": {"command": "npx", "args": ["x"], "env": {"LOG": "debug"}}}}""");

        var run = await RunAsync(config, interactive: false);

        Assert.Equal(ExitCodes.Ok, run.Exit);
        Assert.Contains("policy: no policy", run.Console, StringComparison.Ordinal);
        Assert.Contains("not identifiable \"a\" is not identifiable: no policy", run.Console, StringComparison.Ordinal);
        Assert.Contains("0 findings", run.Console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Findings_exit_1_and_json_carries_the_kind_and_a_redacted_prefix_only()
    {
        using var config = new TempConfig();
        Write(config, "work/.mcp.json", Config);

        var run = await RunAsync(config, interactive: false, "--format", "json");

        Assert.Equal(ExitCodes.Invalid, run.Exit);
        Assert.DoesNotContain(Token, run.Stdout, StringComparison.Ordinal);
        var result = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("rule").GetString() == "hardcoded-secret");
        Assert.Equal(("github-token", "ghp_…", "mcpServers.a.env.GITHUB_TOKEN"),
            (result.GetProperty("secretKind").GetString(), result.GetProperty("redacted").GetString(), result.GetProperty("path").GetString()));
    }

    [Fact]
    public async Task Json_is_the_same_report_as_format_json()
    {
        using var config = new TempConfig();
        Write(config, "work/.mcp.json", Config);

        var json = await RunAsync(config, interactive: false, "--json");
        var format = await RunAsync(config, interactive: false, "--format", "json");

        Assert.Equal(ExitCodes.Invalid, json.Exit);
        Assert.Equal((format.Exit, format.Stdout), (json.Exit, json.Stdout));
        Assert.NotEmpty(JsonDocument.Parse(json.Stdout).RootElement.GetProperty("results").EnumerateArray());
    }

    [Fact]
    public async Task Fix_prints_the_export_lines_on_a_terminal_only()
    {
        using var config = new TempConfig();
        var file = Write(config, "work/.mcp.json", Config);

        var terminal = await RunAsync(config, interactive: true, "--fix");

        Assert.Equal(ExitCodes.Invalid, terminal.Exit);
        Assert.Contains("export GITHUB_TOKEN='" + Token + "'", terminal.Console, StringComparison.Ordinal);
        Assert.Contains("backup written: " + file + ".steward-backup-", terminal.Console, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, File.ReadAllText(file), StringComparison.Ordinal);

        File.WriteAllText(file, Config);
        var piped = await RunAsync(config, interactive: false, "--fix", "--format", "json");

        Assert.DoesNotContain(Token, piped.Stdout + piped.Stderr, StringComparison.Ordinal);
        Assert.Contains("not printed because the output is not a terminal", piped.Stderr, StringComparison.Ordinal);
        Assert.Equal("GITHUB_TOKEN", JsonDocument.Parse(piped.Stdout).RootElement.GetProperty("fix").GetProperty("variablesToExport")[0].GetString());
    }

    [Fact]
    public async Task A_missing_root_exits_2()
    {
        using var config = new TempConfig();

        var run = await RunAsync(config, interactive: false, "--home", Path.Combine(config.Root, "nope"));

        Assert.Equal(ExitCodes.Unreadable, run.Exit);
        Assert.Contains("no such directory", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sarif_output_is_sarif_2_1_0()
    {
        using var config = new TempConfig();
        Write(config, "work/.mcp.json", """{"mcpServers": {}}""");

        var run = await RunAsync(config, interactive: false, "--format", "sarif");

        Assert.Equal("2.1.0", JsonDocument.Parse(run.Stdout).RootElement.GetProperty("version").GetString());
    }
}
