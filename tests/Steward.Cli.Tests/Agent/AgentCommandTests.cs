using System.Text.Json;
using Steward.Agent.Tests.Support;

namespace Steward.Cli.Tests.AgentCommands;

public class AgentCommandTests
{
    private static readonly ManualTime Time = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    private static Task<CliRunner.Outcome> Run(TempConfig config, params string[] args) =>
        AgentCliRunner.RunAsync(config.Paths, config.Workspace, config.Home, Time, args);

    [Fact]
    public async Task Login_to_a_loopback_registry_then_sync_prints_servers_added_removed_and_upgraded()
    {
        await using var host = await RegistryHost.StartAsync();
        host.KiroFile = KiroFiles.With(("alpha", "1.0.0"), ("beta", "1.0.0"));
        using var config = new TempConfig();

        var login = await Run(config, "login", "--registry", host.BaseUrl + "/kiro.json", "--allow-http");
        host.KiroFile = KiroFiles.With(("alpha", "1.1.0"), ("gamma", "0.1.0"));
        var sync = await Run(config, "sync");

        Assert.Equal(0, login.ExitCode);
        Assert.Contains("logged in: " + host.BaseUrl + "/kiro.json (registry-file), 2 approved servers", login.Stdout);
        Assert.Equal(0, sync.ExitCode);
        Assert.Contains("+ added    gamma 0.1.0", sync.Stdout);
        Assert.Contains("- removed  beta 1.0.0", sync.Stdout);
        Assert.Contains("^ upgraded alpha 1.0.0 -> 1.1.0", sync.Stdout);
    }

    [Fact]
    public async Task Sync_json_reports_a_304_as_unchanged_with_the_policy_in_force()
    {
        await using var host = await RegistryHost.StartAsync();
        using var config = new TempConfig();
        await Run(config, "login", "--registry", host.BaseUrl + "/kiro.json", "--allow-http");

        var sync = await Run(config, "sync", "--json");

        Assert.Equal(0, sync.ExitCode);
        using var json = JsonDocument.Parse(sync.Stdout);
        Assert.Equal("unchanged", json.RootElement.GetProperty("outcome").GetString());
        Assert.Equal("active", json.RootElement.GetProperty("policy").GetProperty("state").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("policy").GetProperty("approvedServers").GetInt32());
        Assert.Equal(1, host.NotModifiedAnswers);
    }

    [Fact]
    public async Task A_malformed_registry_makes_sync_exit_1_listing_its_problems_while_the_previous_policy_stays()
    {
        await using var host = await RegistryHost.StartAsync();
        using var config = new TempConfig();
        await Run(config, "login", "--registry", host.BaseUrl + "/kiro.json", "--allow-http");
        host.KiroFile = KiroFiles.With(("ok", "1.0.0"), ("not ok", "1.0.0"));

        var sync = await Run(config, "sync");
        var list = await Run(config, "mcp", "list");

        Assert.Equal(1, sync.ExitCode);
        Assert.Contains("was rejected whole", sync.Stderr);
        Assert.Contains("servers[1].server.name", sync.Stderr);
        Assert.Contains("2 approved servers", list.Stdout);
    }

    [Fact]
    public async Task Plain_http_without_allow_http_is_refused_in_one_line_with_exit_1()
    {
        using var config = new TempConfig();

        var login = await Run(config, "login", "--registry", "http://127.0.0.1:9/kiro.json");

        Assert.Equal(1, login.ExitCode);
        Assert.Equal("error: http://127.0.0.1:9/kiro.json uses plain http; Steward fetches policy only over https with a certificate signed by a trusted CA (for a registry on this machine, add --allow-http)", login.Stderr.Trim());
    }

    [Fact]
    public async Task An_unreachable_source_without_a_cache_exits_2_and_says_MCP_is_disabled_and_what_to_do()
    {
        using var config = new TempConfig();
        await using (var host = await RegistryHost.StartAsync())
        {
            await Run(config, "login", "--registry", host.BaseUrl + "/kiro.json", "--allow-http");
        }

        File.Delete(config.Paths.PolicyCache);
        var sync = await Run(config, "sync");

        Assert.Equal(2, sync.ExitCode);
        Assert.Contains("MCP disabled: no verified policy:", sync.Stdout);
        Assert.Contains("what to do: run `steward sync` when the registry file", sync.Stdout);
    }

    [Fact]
    public async Task Mcp_add_with_flags_stores_the_secret_away_from_mcp_json_and_never_prints_it()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        var config = fixture.Config;

        var add = await Run(config, "mcp", "add", "io.acme/weather", "--input", "WEATHER_API_KEY=sk-very-secret", "--input", "UNITS=metric");

        Assert.Equal(0, add.ExitCode);
        Assert.Contains("added \"io.acme/weather\" (registry entry)", add.Stdout);
        Assert.DoesNotContain("sk-very-secret", add.Stdout);
        Assert.DoesNotContain("sk-very-secret", File.ReadAllText(config.Paths.UserMcpConfig));
        Assert.Contains("sk-very-secret", File.ReadAllText(config.Paths.SecretsFile));
    }

    [Fact]
    public async Task Mcp_add_without_a_terminal_lists_every_missing_input_and_exits_1()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var add = await Run(fixture.Config, "mcp", "add", "io.acme/weather");

        Assert.Equal(1, add.ExitCode);
        Assert.Contains("error: \"io.acme/weather\" needs 2 more inputs: WEATHER_API_KEY (secret), UNITS", add.Stderr);
        Assert.Contains("missing: UNITS (environment variable): metric or imperial", add.Stderr);
        Assert.False(File.Exists(fixture.Config.Paths.UserMcpConfig));
    }

    [Fact]
    public async Task Mcp_add_of_a_name_that_is_not_approved_exits_1_with_the_reason()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var add = await Run(fixture.Config, "mcp", "add", "io.evil/miner");

        Assert.Equal(1, add.ExitCode);
        Assert.StartsWith("error: \"io.evil/miner\" is not an approved server in the registry from ", add.Stderr);
    }

    [Fact]
    public async Task Mcp_add_without_a_name_and_without_a_terminal_names_the_approved_servers()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var add = await Run(fixture.Config, "mcp", "add");

        Assert.Equal(1, add.ExitCode);
        Assert.Contains("approved: io.acme/weather, io.acme/files, io.acme/remote, io.acme/old", add.Stderr);
    }

    [Fact]
    public async Task Mcp_list_json_gives_each_server_its_decision_and_disable_enable_remove_change_it()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """
            {"mcpServers": {"io.acme/old": {"type": "registry"}, "rogue": {"command": "npx", "args": ["-y", "@evil/miner"]}}}
            """);

        var list = await Run(fixture.Config, "mcp", "list", "--json");
        var disable = await Run(fixture.Config, "mcp", "disable", "io.acme/old");
        var enableRogue = await Run(fixture.Config, "mcp", "enable", "rogue");
        var remove = await Run(fixture.Config, "mcp", "remove", "rogue");
        var status = await Run(fixture.Config, "mcp", "status");

        using var json = JsonDocument.Parse(list.Stdout);
        var servers = json.RootElement.GetProperty("servers").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("decision").GetString());
        Assert.Equal("allowed", servers["io.acme/old"]);
        Assert.Equal("blocked", servers["rogue"]);
        Assert.Equal(0, disable.ExitCode);
        Assert.Contains("disabled \"io.acme/old\"", disable.Stdout);
        Assert.Equal(1, enableRogue.ExitCode);
        Assert.Contains("[not_in_registry]", enableRogue.Stderr);
        Assert.Equal(0, remove.ExitCode);
        Assert.Contains("io.acme/old (registry, user:", status.Stdout);
        Assert.True(status.Stdout.Contains("blocked disabled: disabled; admitted if enabled", StringComparison.Ordinal), status.Stdout);
        Assert.DoesNotContain("rogue", status.Stdout);
    }

    [Fact]
    public async Task Mcp_import_from_VS_Code_shows_each_decision_and_says_which_were_imported_disabled()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("work/.vscode/mcp.json", """
            {"servers": {"ok": {"type": "stdio", "command": "npx", "args": ["-y", "@acme/old@1.1.0"]}, "nope": {"type": "stdio", "command": "node", "args": ["x.js"]}}}
            """);

        var import = await Run(fixture.Config, "mcp", "import", "--from", "vscode");

        Assert.Equal(0, import.ExitCode);
        Assert.Contains("imported ok: runs the approved \"io.acme/old\" 1.1.0", import.Stdout);
        Assert.Contains("imported disabled not_in_registry nope: imported disabled: nothing in the registry runs what \"nope\" runs", import.Stdout);
    }

    [Fact]
    public async Task The_real_steward_process_reports_MCP_disabled_before_any_login_without_a_stack_trace()
    {
        using var config = new TempConfig();

        var list = await AgentCliRunner.RunProcessAsync(config.Paths.ConfigDirectory, config.Workspace, "mcp", "list");
        var login = await AgentCliRunner.RunProcessAsync(config.Paths.ConfigDirectory, config.Workspace, "login", "--registry", "http://registry.example.com/x.json", "--allow-http");

        Assert.Equal(0, list.ExitCode);
        Assert.Contains("MCP disabled: no verified policy: no policy source is set", list.Stdout);
        Assert.Equal(1, login.ExitCode);
        Assert.Equal("error: --allow-http is only for loopback addresses (localhost, 127.0.0.1, ::1), not registry.example.com; serve the registry over https with a certificate signed by a trusted CA", login.Stderr.Trim());
        Assert.DoesNotContain("   at ", login.Stdout + login.Stderr);
    }

    [Fact]
    public async Task The_real_steward_process_adds_to_the_workspace_file_of_its_current_directory()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var add = await AgentCliRunner.RunProcessAsync(fixture.Config.Paths.ConfigDirectory, fixture.Config.Workspace, "mcp", "add", "io.acme/old", "--scope", "workspace");

        Assert.True(add.ExitCode == 0, add.Stdout + add.Stderr);
        Assert.True(File.Exists(Path.Combine(fixture.Config.Workspace, ".steward", "mcp.json")));
        var list = await AgentCliRunner.RunProcessAsync(fixture.Config.Paths.ConfigDirectory, fixture.Config.Workspace, "mcp", "list");
        Assert.Contains("io.acme/old", list.Stdout);
        Assert.Contains("workspace", list.Stdout);
    }
}
