using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Steward.Agent;
using Steward.Cli.AgentCommands;
using Steward.Cli.Models;
using Steward.Server;

namespace Steward.Cli.Tests.Models;

/// <summary><c>steward models list|use</c> and <c>steward policy explain model</c> against a real server with a model policy.</summary>
public sealed class ModelsCommandTests : IAsyncLifetime
{
    private const string AdminToken = "stw_cli-models-test-admin-token-0123456789";
    private string _root = "";
    private StewardServer _server = null!;

    public async Task InitializeAsync()
    {
        _root = Directory.CreateTempSubdirectory("steward-cli-models-").FullName;
        _server = await StewardServer.StartAsync(new ServeOptions
        {
            DataDir = Path.Combine(_root, "data"),
            Urls = ["http://127.0.0.1:0"],
            BootstrapAdminToken = AdminToken,
            Messages = new StringWriter(),
            LogLevel = LogLevel.Warning,
        }, CancellationToken.None);
        using var http = new HttpClient { BaseAddress = _server.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await http.PutAsync("/api/v1/orgs/demo/models/policy", new StringContent("""
            {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-haiku-4-5": true, "auto": true}, "defaultModel": "claude-haiku-4-5",
             "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync()
    {
        await _server.StopAsync(CancellationToken.None);
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<CliRunner.Outcome> RunAsync(bool configured, params string[] args)
    {
        var human = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(human) });
        console.Profile.Width = 4096;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var variables = new Dictionary<string, string>
        {
            [ModelServer.ServerVariable] = _server.BaseUrl.ToString(),
            [ModelServer.TokenVariable] = AdminToken,
        };
        var environment = new AgentEnvironment(new StewardPaths(Path.Combine(_root, "config")), _root, _root,
            name => configured ? variables.GetValueOrDefault(name) : null, Interactive: false, TimeProvider.System);
        var root = new RootCommand("steward")
        {
            ModelsCommand.Create(console, stdout, stderr, environment),
            PolicyExplainCommand.CreatePolicy(console, stdout, stderr, environment),
        };
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stdout }, CancellationToken.None);
        return new CliRunner.Outcome(exit, human + stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Models_list_shows_the_available_models_with_the_default_marked_and_all_shows_the_others_with_their_reasons()
    {
        var list = await RunAsync(true, "models", "list");
        Assert.Equal(ExitCodes.Ok, list.ExitCode);
        var lines = list.Stdout.Split('\n');
        Assert.Contains(lines, l => l.Contains("* ", StringComparison.Ordinal) && l.Contains("claude-haiku-4-5", StringComparison.Ordinal));
        Assert.DoesNotContain("claude-opus-4-5", list.Stdout, StringComparison.Ordinal);

        var all = await RunAsync(true, "models", "list", "--all");
        Assert.Contains(all.Stdout.Split('\n'), l => l.Contains("claude-opus-4-6", StringComparison.Ordinal) && l.Contains("no: not_in_region", StringComparison.Ordinal));
        Assert.Contains(all.Stdout.Split('\n'), l => l.Contains("claude-opus-4-5", StringComparison.Ordinal) && l.Contains("no: disabled_by_policy", StringComparison.Ordinal));

        var json = await RunAsync(true, "models", "list", "--json");
        var document = JsonNode.Parse(json.Stdout)!;
        Assert.Equal("claude-haiku-4-5", document["defaultModel"]!.GetValue<string>());
        Assert.Equal(["auto", "claude-sonnet-4-6", "claude-haiku-4-5"], document["models"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Models_use_refuses_with_the_reason_and_records_an_allowed_choice_in_the_configuration_directory()
    {
        var refused = await RunAsync(true, "models", "use", "opus-4.5");
        Assert.Equal(ExitCodes.Invalid, refused.ExitCode);
        Assert.Contains("refused (disabled_by_policy): The requested model 'opus-4.5' is not available for your account.", refused.Stdout, StringComparison.Ordinal);
        var file = Path.Combine(_root, "config", ModelsCommand.ChoiceFileName);
        Assert.False(File.Exists(file));

        var used = await RunAsync(true, "models", "use", "sonnet-4.6");
        Assert.Equal(ExitCodes.Ok, used.ExitCode);
        Assert.Contains("using claude-sonnet-4-6 in EU as eu.anthropic.claude-sonnet-4-6", used.Stdout, StringComparison.Ordinal);
        var choice = JsonNode.Parse(await File.ReadAllTextAsync(file))!;
        Assert.Equal(("claude-sonnet-4-6", "sonnet-4.6", "EU"), (choice["model"]!.GetValue<string>(), choice["requested"]!.GetValue<string>(), choice["placement"]!.GetValue<string>()));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public async Task Policy_explain_model_names_the_rule_and_the_places_the_policy_allows()
    {
        var region = await RunAsync(true, "policy", "explain", "model", "us.anthropic.claude-sonnet-4-6");
        Assert.Equal(ExitCodes.Invalid, region.ExitCode);
        Assert.Contains("refused (not_in_region)", region.Stdout, StringComparison.Ordinal);
        Assert.Contains("it is the provider id of US inference of claude-sonnet-4-6", region.Stdout, StringComparison.Ordinal);
        Assert.Contains("its inference would run in US; the residency rule allows scopes regional and geographies EU", region.Stdout, StringComparison.Ordinal);

        var allowed = await RunAsync(true, "policy", "explain", "model", "auto");
        Assert.Equal(ExitCodes.Ok, allowed.ExitCode);
        Assert.Contains("Auto resolves to claude-haiku-4-5 now", allowed.Stdout, StringComparison.Ordinal);
        Assert.Contains("runs in EU as eu.anthropic.claude-haiku-4-5-20251001-v1:0", allowed.Stdout, StringComparison.Ordinal);
        Assert.Contains("claude-sonnet-4-5: disabled_by_policy", allowed.Stdout, StringComparison.Ordinal);

        var json = await RunAsync(true, "policy", "explain", "model", "gpt-4o", "--json");
        Assert.Equal("not_in_catalog", JsonNode.Parse(json.Stdout)!["rule"]!.GetValue<string>());
    }

    [Fact]
    public async Task Without_a_server_or_a_token_the_commands_exit_2_saying_how_to_give_one()
    {
        var outcome = await RunAsync(false, "models", "list");
        Assert.Equal(ExitCodes.Unreadable, outcome.ExitCode);
        Assert.Contains("--server", outcome.Stderr, StringComparison.Ordinal);
        Assert.Contains("steward login", outcome.Stderr, StringComparison.Ordinal);
    }
}
