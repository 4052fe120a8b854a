using System.Text.RegularExpressions;
using Steward.Tests.Tls;

namespace Steward.Cli.Tests;

/// <summary>
/// What a user reads when the platform reports a failure: the runtime's own sentence, never the resource key that
/// stands for it in a trimmed build (<c>net_ssl_io_cert_chain_validation</c>, <c>TaskCanceledException_ctor_DefaultMessage</c>).
/// </summary>
public sealed partial class ErrorTextTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("steward-errortext-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public async Task An_untrusted_certificate_is_described_in_words_by_the_real_cli()
    {
        using var ca = TestCa.Create(directory);
        await using var registry = await HttpsRegistry.StartAsync(ca.Server);

        // The child process runs with steward's own runtimeconfig.json, where resource keys would be switched on.
        var outcome = await CliRunner.RunProcessAsync("registry", "validate", registry.Url);

        Assert.Equal(2, outcome.ExitCode);
        var said = outcome.Stdout + outcome.Stderr;
        Assert.Contains(registry.Url, said, StringComparison.Ordinal);
        Assert.Contains($"the TLS certificate of {new Uri(registry.Url).Host} was not accepted (", said, StringComparison.Ordinal);
        Assert.DoesNotContain("see inner exception", said, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(ResourceKey(), said);
    }

    [Theory]
    [InlineData("--format", "nope")]
    [InlineData("--no-such-option", "x")]
    public async Task A_command_line_that_does_not_parse_exits_2_naming_the_problem_and_where_help_is(string option, string value)
    {
        var outcome = await CliRunner.RunProcessAsync("registry", "export", option, value);

        Assert.Equal(ExitCodes.Unreadable, outcome.ExitCode);
        Assert.Contains(option == "--format" ? "nope" : option, outcome.Stderr, StringComparison.Ordinal);
        Assert.Contains("Run 'steward registry export --help' for usage.", outcome.Stderr, StringComparison.Ordinal);
        Assert.DoesNotMatch(ResourceKey(), outcome.Stderr);
    }

    [Fact]
    public void Steward_never_switches_on_resource_keys_in_place_of_the_runtimes_messages()
    {
        // UseSystemResourceKeys (a size option for trimmed apps) replaces every exception message of the runtime by its
        // key; the CLI shows those messages (a refused certificate, a timeout), so it must stay off in what is built.
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "steward.runtimeconfig.json")));
        var options = config.RootElement.GetProperty("runtimeOptions");
        var switchedOn = options.TryGetProperty("configProperties", out var properties) &&
                         properties.TryGetProperty("System.Resources.UseSystemResourceKeys", out var value) && value.ValueKind == System.Text.Json.JsonValueKind.True;
        Assert.False(switchedOn, "steward.runtimeconfig.json sets System.Resources.UseSystemResourceKeys: users would read keys such as net_ssl_io_cert_chain_validation");
    }

    // Resource keys are identifiers with underscores and lower-case letters (net_ssl_…, Type_ctor_…); Steward's
    // sentences never contain one. An environment variable it names (STEWARD_OUTBOUND_CA_FILE) is all capitals.
    [GeneratedRegex(@"\b(?=[A-Za-z_]*[a-z])[A-Za-z]+_[A-Za-z]+_[A-Za-z_]+\b")]
    private static partial Regex ResourceKey();
}
