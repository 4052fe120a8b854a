using System.Text.Json;

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

    [Fact]
    public async Task Validate_json_is_the_same_report_as_format_json()
    {
        var path = Write("bad.json", """{"name": 7, "version": "1.0.0"}""");

        var json = await CliRunner.RunAsync("registry", "validate", path, "--json");
        var format = await CliRunner.RunAsync("registry", "validate", path, "--format", "json");
        var both = await CliRunner.RunAsync("registry", "validate", path, "--json", "--format", "json");

        Assert.Equal(ExitCodes.Invalid, json.ExitCode);
        Assert.Equal((format.ExitCode, format.Stdout), (json.ExitCode, json.Stdout));
        Assert.Equal((format.ExitCode, format.Stdout), (both.ExitCode, both.Stdout));
        Assert.False(JsonDocument.Parse(json.Stdout).RootElement.GetProperty("valid").GetBoolean());
    }

    [Theory]
    [InlineData("registry validate {0} --json --format text", "--format text", "registry validate")]
    [InlineData("scan --json --format sarif", "--format sarif", "scan")]
    public async Task Json_with_another_format_is_a_usage_error_naming_both(string commandLine, string named, string command)
    {
        var path = Write("ok.json", "{}");

        var outcome = await CliRunner.RunAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, commandLine, path).Split(' '));

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("--json and " + named, outcome.Stderr, StringComparison.Ordinal);
        Assert.Contains($"Run 'steward {command} --help' for usage.", outcome.Stderr, StringComparison.Ordinal);
        Assert.Empty(outcome.Stdout);
    }

    [Theory]
    [InlineData("--kind")]
    [InlineData("--format")]
    public async Task Registry_export_takes_the_document_kind_under_both_spellings_and_refuses_an_unknown_one_with_exit_2(string flag)
    {
        var outcome = await CliRunner.RunAsync("registry", "export", flag, "nope");

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("nope", outcome.Stderr, StringComparison.Ordinal);
        Assert.Contains("kiro", outcome.Stderr, StringComparison.Ordinal);
        Assert.Contains("Run 'steward registry export --help' for usage.", outcome.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registry_export_without_a_kind_names_the_option()
    {
        var outcome = await CliRunner.RunAsync("registry", "export", "--server", "https://steward.example.com");

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains("--kind", outcome.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-50")]
    public async Task Logs_with_a_negative_line_count_exits_2_naming_the_value(string count)
    {
        var outcome = await CliRunner.RunAsync("logs", "--lines", count);

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Contains($"--lines {count}: give 0 or more lines", outcome.Stderr, StringComparison.Ordinal);
        Assert.Contains("Run 'steward logs --help' for usage.", outcome.Stderr, StringComparison.Ordinal);
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
