using System.Text.Json;
using Steward.Agent.Tests.Support;

namespace Steward.Cli.Tests.AgentCommands;

/// <summary><c>steward login</c> and <c>steward sync</c> against the real Steward server, in-process.</summary>
public class AgentServerCommandTests
{
    private static Task<CliRunner.Outcome> Run(TempConfig config, TimeProvider time, params string[] args) =>
        AgentCliRunner.RunAsync(config.Paths, config.Workspace, config.Home, time, args);

    [Fact]
    public async Task Login_prints_the_pinned_key_thumbprint_and_never_the_token()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        var token = await server.DeveloperTokenAsync();
        var kid = Assert.Single(await server.PublishedKidsAsync());
        using var config = new TempConfig();

        var login = await Run(config, time, "login", server.BaseUrl, "--token", token, "--allow-http");

        Assert.Equal(0, login.ExitCode);
        Assert.Contains($"logged in: {server.BaseUrl} (steward-server)", login.Stdout);
        Assert.Contains("server signing key pinned: " + kid, login.Stdout);
        Assert.Contains("--key-thumbprint", login.Stdout);
        Assert.DoesNotContain(token, login.Stdout);
    }

    [Fact]
    public async Task Login_with_a_key_thumbprint_the_server_does_not_publish_exits_1_and_saves_nothing()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = new TempConfig();

        var login = await Run(config, time, "login", server.BaseUrl, "--token", StewardServerHost.AdminToken, "--allow-http", "--key-thumbprint", "not-the-servers-key");

        Assert.Equal(1, login.ExitCode);
        Assert.Contains("does not publish the key not-the-servers-key", login.Stderr);
        Assert.False(File.Exists(config.Paths.SourceFile));
    }

    [Fact]
    public async Task Sync_prints_and_json_reports_model_changes_alongside_server_changes()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        var token = await server.DeveloperTokenAsync();
        await server.PutModelPolicyAsync("""{"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-haiku-4-5": true}, "defaultModel": "claude-haiku-4-5"}""");
        using var config = new TempConfig();
        Assert.Equal(0, (await Run(config, time, "login", server.BaseUrl, "--token", token, "--allow-http")).ExitCode);
        await server.PublishAsync("io.example/alpha", "1.0.0");
        await server.PutModelPolicyAsync("""{"controlEnabled": true, "states": {"claude-haiku-4-5": true, "claude-opus-4-5": true}, "defaultModel": "claude-opus-4-5"}""");

        var sync = await Run(config, time, "sync");

        Assert.Equal(0, sync.ExitCode);
        Assert.Contains("+ added    io.example/alpha 1.0.0", sync.Stdout);
        Assert.Contains("+ model    claude-opus-4-5", sync.Stdout);
        Assert.Contains("- model    claude-sonnet-4-6", sync.Stdout);
        Assert.Contains("* default model claude-haiku-4-5 -> claude-opus-4-5", sync.Stdout);

        await server.PutModelPolicyAsync("""{"controlEnabled": true, "states": {"claude-haiku-4-5": true}, "defaultModel": "claude-haiku-4-5"}""");
        var json = await Run(config, time, "sync", "--json");

        Assert.Equal(0, json.ExitCode);
        using var report = JsonDocument.Parse(json.Stdout);
        var models = report.RootElement.GetProperty("models");
        Assert.Equal("updated", report.RootElement.GetProperty("outcome").GetString());
        Assert.Equal(0, models.GetProperty("added").GetArrayLength());
        Assert.Equal("claude-opus-4-5", models.GetProperty("removed")[0].GetProperty("id").GetString());
        Assert.Equal("claude-opus-4-5", models.GetProperty("default").GetProperty("from").GetString());
        Assert.Equal("claude-haiku-4-5", models.GetProperty("default").GetProperty("to").GetString());
        Assert.Equal(0, report.RootElement.GetProperty("added").GetArrayLength());
    }

    [Fact]
    public async Task After_the_server_refuses_the_token_sync_says_so_and_mcp_status_shows_mcp_disabled_with_the_reason()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        var (token, id) = await server.DeveloperTokenWithIdAsync();
        using var config = new TempConfig();
        var login = await Run(config, time, "login", server.BaseUrl, "--token", token, "--allow-http");
        Assert.Equal(0, login.ExitCode);
        Assert.Contains("it stays in force for 7d if the source cannot be reached", login.Stdout);
        await server.RevokeTokenAsync(id);

        var sync = await Run(config, time, "sync");
        var status = await Run(config, time, "mcp", "status");

        Assert.NotEqual(0, sync.ExitCode);
        Assert.Contains("answered 401", sync.Stdout + sync.Stderr);
        Assert.Contains("MCP is disabled until a sync succeeds with a valid token", sync.Stdout + sync.Stderr);
        Assert.DoesNotContain("previous policy stays in force", sync.Stdout + sync.Stderr);
        Assert.Contains("refused this machine's token (401: it is unknown, expired or revoked)", status.Stdout);
        Assert.Contains($"steward login {server.BaseUrl}", status.Stdout);
    }
}
