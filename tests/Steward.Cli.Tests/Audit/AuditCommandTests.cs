using System.CommandLine;
using Spectre.Console;
using Steward.Agent.Tests.Support;
using Steward.Cli.AgentCommands;
using Steward.Cli.Audit;
using Steward.Core.Audit;

namespace Steward.Cli.Tests.Audit;

public class AuditCommandTests
{
    private static async Task<(int Exit, string Output, string Errors)> RunAsync(TempConfig config, params string[] args)
    {
        var human = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(human) });
        console.Profile.Width = 4096;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var environment = new AgentEnvironment(config.Paths, config.Root, config.Home, _ => null, false, TimeProvider.System);
        var root = new RootCommand("steward") { AuditCommand.Create(console, stdout, stderr, environment) };
        var exit = await root.Parse(["audit", "verify", .. args]).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stdout });
        return (exit, human + stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task A_jsonl_log_is_verified_and_a_changed_line_is_named()
    {
        using var config = new TempConfig();
        var lines = new List<string>();
        var previous = HashChain.Genesis;
        for (var i = 0; i < 4; i++)
        {
            (var line, previous) = JsonlChain.Seal($$"""{"n": {{i}}, "tool": "echo"}""", previous);
            lines.Add(line);
        }

        var file = config.Write("audit.jsonl", string.Join("\n", lines) + "\n");
        var intact = await RunAsync(config, "--file", file);
        File.WriteAllText(file, string.Join("\n", lines).Replace("\"n\": 2", "\"n\": 7", StringComparison.Ordinal) + "\n");
        var broken = await RunAsync(config, "--file", file);

        Assert.Equal((ExitCodes.Ok, true), (intact.Exit, intact.Output.Contains("intact: 4 records", StringComparison.Ordinal)));
        Assert.Equal(ExitCodes.Invalid, broken.Exit);
        Assert.Contains("breaks at line 3", broken.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_audit_is_verified_through_the_api()
    {
        using var config = new TempConfig();
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System);
        await server.PublishAsync("com.example.audit/server", "1.0.0");

        var result = await RunAsync(config, "--server", server.BaseUrl, "--org", "demo", "--token", StewardServerHost.AdminToken);
        var json = await RunAsync(config, "--server", server.BaseUrl, "--org", "demo", "--token", StewardServerHost.AdminToken, "--json");

        Assert.Equal(ExitCodes.Ok, result.Exit);
        Assert.Contains("intact: ", result.Output, StringComparison.Ordinal);
        Assert.Contains("\"intact\":true", json.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_organisation_or_file_it_says_what_to_pass()
    {
        using var config = new TempConfig();

        var result = await RunAsync(config);

        Assert.Equal(ExitCodes.Unreadable, result.Exit);
        Assert.Contains("--org", result.Errors, StringComparison.Ordinal);
    }
}
