using System.CommandLine;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Tests.Support;
using Steward.Cli.AgentCommands;
using Steward.Cli.Audit;
using Steward.Cli.Models;
using Steward.Cli.Registry;

namespace Steward.Cli.Tests;

/// <summary>
/// Every command that fetches a URL connects through the outbound address policy: pointed at a link-local or cloud
/// metadata address (literal, or in its NAT64 form) it fails with the policy's refusal, and connects nowhere.
/// </summary>
public sealed class OutboundPolicyTests
{
    private const string Refusal = "a link-local or cloud metadata address";

    private static (IAnsiConsole Console, StringWriter Human) Console()
    {
        var human = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(human) });
        console.Profile.Width = 4096;
        return (console, human);
    }

    private static async Task<(int Exit, string Output)> InvokeAsync(Command command, IAnsiConsole console, StringWriter human, StringWriter stdout, params string[] args)
    {
        var root = new RootCommand("steward") { command };
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stdout }, CancellationToken.None);
        return (exit, human + stdout.ToString());
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/")]
    public async Task Registry_validate_of_a_url_refuses_a_metadata_address(string url)
    {
        var outcome = await CliRunner.RunAsync("registry", "validate", url);
        Assert.Equal(ExitCodes.Unreadable, outcome.ExitCode);
        Assert.Contains(Refusal, outcome.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://169.254.169.254/")]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/")]
    public async Task Registry_export_refuses_a_server_at_a_metadata_address(string url)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("steward") { ExportCommand.Create(stdout, stderr) };
        var exit = await root.Parse(["export", "--format", "kiro", "--server", url, "--org", "demo", "--token", "stw_never-sent"]).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, CancellationToken.None);
        Assert.Equal(ExitCodes.Unreadable, exit);
        Assert.Contains(Refusal, stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://169.254.169.254/")]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/")]
    public async Task Models_list_refuses_a_server_at_a_metadata_address(string url)
    {
        using var config = new TempConfig();
        var (console, human) = Console();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var variables = new Dictionary<string, string> { [ModelServer.ServerVariable] = url, [ModelServer.TokenVariable] = "stw_never-sent" };
        var environment = new AgentEnvironment(config.Paths, config.Root, config.Home, variables.GetValueOrDefault, false, TimeProvider.System);
        var (exit, _) = await InvokeAsync(ModelsCommand.Create(console, stdout, stderr, environment), console, human, stdout, "models", "list");
        Assert.Equal(ExitCodes.Unreadable, exit);
        Assert.Contains(Refusal, stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://169.254.169.254/")]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/")]
    public async Task Audit_verify_refuses_a_server_at_a_metadata_address(string url)
    {
        using var config = new TempConfig();
        var (console, human) = Console();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var environment = new AgentEnvironment(config.Paths, config.Root, config.Home, _ => null, false, TimeProvider.System);
        var (exit, _) = await InvokeAsync(AuditCommand.Create(console, stdout, stderr, environment), console, human, stdout, "audit", "verify", "--server", url, "--org", "demo", "--token", "stw_never-sent");
        Assert.Equal(ExitCodes.Unreadable, exit);
        Assert.Contains(Refusal, stderr.ToString(), StringComparison.Ordinal);
    }
}
