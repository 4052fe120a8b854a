using Steward.Agent.Tests.Support;

namespace Steward.Cli.Tests.AgentCommands;

/// <summary>Usage errors of the agent commands, found after parsing: exit 2, the flag and its value named, nothing changed.</summary>
public sealed class AgentUsageErrorTests
{
    private static readonly ManualTime Time = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    [Theory]
    [InlineData("login --registry https://registry.example.com/kiro.json --max-offline-age soon", "--max-offline-age soon: expected a duration")]
    [InlineData("login --registry https://registry.example.com/kiro.json --interval 1s", "--interval 1s: expected a duration of at least")]
    [InlineData("login https://steward.example.com --interval 1h", "--interval is for a registry source")]
    [InlineData("login https://steward.example.com --device --no-browser", "--no-browser is for the browser sign-in")]
    [InlineData("login --registry https://registry.example.com/kiro.json --oidc", "--oidc and --device need a Steward server URL")]
    [InlineData("mcp add io.acme/old --input NOVALUE", "--input (without \"=\"): expected KEY=VALUE")]
    [InlineData("mcp add io.acme/old --timeout 0", "--timeout 0: give a positive number of milliseconds")]
    public async Task A_flag_value_the_command_cannot_use_exits_2_and_names_it(string commandLine, string named)
    {
        using var config = new TempConfig();

        var outcome = await AgentCliRunner.RunAsync(config.Paths, config.Workspace, config.Home, Time, commandLine.Split(' '));

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains(named, outcome.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(config.Paths.SourceFile), "nothing is saved");
    }
}
