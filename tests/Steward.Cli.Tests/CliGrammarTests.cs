namespace Steward.Cli.Tests;

/// <summary>
/// The command line's one grammar (docs/cli.md): <c>--json</c> for machine output wherever a result is printed, the
/// earlier spellings still accepted, and exit 2 with the flag named for a command line Steward cannot act on.
/// </summary>
public sealed class CliGrammarTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("steward-grammar-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Write(string name, string content)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Theory]
    [InlineData("policy explain tool no-slash", "\"no-slash\" is not <server>/<tool>")]
    [InlineData("audit verify", "--org: name the organisation")]
    public async Task A_malformed_value_found_by_the_command_exits_2_naming_it(string commandLine, string named)
    {
        var outcome = await CliRunner.RunAsync(commandLine.Split(' '));

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains(named, outcome.Stdout + outcome.Stderr, StringComparison.Ordinal);
    }
}
