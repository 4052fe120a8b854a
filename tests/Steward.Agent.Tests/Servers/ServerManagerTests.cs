using Steward.Agent.Policy;
using Steward.Agent.Servers;
using Steward.Agent.Tests.Support;
using Steward.Core.Config;

namespace Steward.Agent.Tests.Servers;

public class ServerManagerTests
{
    private static AddRequest Request(string name, (string, string)[]? inputs = null, (string, string)[]? references = null, ConfigScope scope = ConfigScope.User,
        (string, string)[]? env = null, (string, string)[]? headers = null, bool force = false) =>
        new(name, scope, Pairs(inputs), Pairs(references), Pairs(env), Pairs(headers), null, force);

    private static List<KeyValuePair<string, string>> Pairs((string, string)[]? pairs) => (pairs ?? []).Select(p => new KeyValuePair<string, string>(p.Item1, p.Item2)).ToList();

    [Fact]
    public async Task A_secret_input_goes_to_the_0600_secrets_file_and_mcp_json_holds_only_a_reference()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/weather", inputs: [("WEATHER_API_KEY", "sk-live-123"), ("UNITS", "metric")]));

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("registry", result.EntryKind);
        Assert.Equal("allowed", result.Status!.Decision);
        var json = fixture.UserMcpJson;
        Assert.DoesNotContain("sk-live-123", json);
        Assert.Contains("\"type\": \"registry\"", json);
        Assert.Contains("\"WEATHER_API_KEY\": \"${STEWARD_IO_ACME_WEATHER_WEATHER_API_KEY}\"", json);
        Assert.Contains("\"UNITS\": \"metric\"", json);
        Assert.Equal("sk-live-123", SecretStore.Load(fixture.Config.Paths).Get("STEWARD_IO_ACME_WEATHER_WEATHER_API_KEY"));
        Assert.Equal(Modes.File0600, Modes.Of(fixture.Config.Paths.SecretsFile));
        Assert.Equal(Modes.File0600, Modes.Of(fixture.Config.Paths.UserMcpConfig));
    }

    [Fact]
    public async Task A_secret_given_as_an_environment_reference_is_written_as_that_reference_and_nothing_is_stored()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/weather", inputs: [("UNITS", "metric")], references: [("WEATHER_API_KEY", "MY_WEATHER_KEY")]));

        Assert.True(result.Succeeded, result.Error);
        Assert.Contains("\"WEATHER_API_KEY\": \"${MY_WEATHER_KEY}\"", fixture.UserMcpJson);
        Assert.False(File.Exists(fixture.Config.Paths.SecretsFile));
    }

    [Fact]
    public async Task A_name_that_is_not_approved_is_refused_with_the_reason_and_nothing_is_written()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.evil/miner"));

        Assert.Contains("\"io.evil/miner\" is not an approved server", result.Error);
        Assert.False(File.Exists(fixture.Config.Paths.UserMcpConfig));
    }

    [Fact]
    public async Task Every_missing_required_input_is_listed_at_once()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/weather"));

        Assert.Contains("needs 2 more inputs: WEATHER_API_KEY (secret), UNITS", result.Error);
        Assert.Equal(["WEATHER_API_KEY", "UNITS"], result.Missing.Select(m => m.Key));
        Assert.True(result.Missing[0].Secret);
    }

    [Fact]
    public async Task An_input_the_server_does_not_declare_is_refused_naming_the_inputs_it_has()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/weather", inputs: [("APIKEY", "x")]));

        Assert.Equal("--input APIKEY: \"io.acme/weather\" has no input named \"APIKEY\"; its inputs are: WEATHER_API_KEY, UNITS", result.Error);
    }

    [Fact]
    public async Task A_server_needing_an_argument_is_written_as_its_launch_command_and_is_admitted()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/files", inputs: [("root_dir", "/srv/data")]));

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("local", result.EntryKind);
        Assert.Equal("allowed", result.Status!.Decision);
        var config = McpConfigReader.Read(File.ReadAllBytes(fixture.Config.Paths.UserMcpConfig)).Config!.Find("io.acme/files")!;
        Assert.Equal(["npx", "-y", "@acme/files@2.0.0", "/srv/data"], config.Argv().ToArray());
    }

    [Fact]
    public async Task A_remote_server_takes_a_secret_header_and_the_developers_own_headers()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/remote", inputs: [("Authorization", "Bearer abc.def")], headers: [("X-Team", "blue")]));

        Assert.True(result.Succeeded, result.Error);
        var json = fixture.UserMcpJson;
        Assert.DoesNotContain("abc.def", json);
        Assert.Contains("\"X-Team\": \"blue\"", json);
        Assert.Contains("${STEWARD_IO_ACME_REMOTE_AUTHORIZATION}", json);
    }

    [Fact]
    public async Task Environment_variables_are_refused_for_a_remote_server()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/remote", inputs: [("Authorization", "x")], env: [("A", "b")]));

        Assert.StartsWith("--env: \"io.acme/remote\" is a remote server", result.Error);
    }

    [Fact]
    public async Task The_workspace_scope_creates_steward_mcp_json_in_the_current_directory()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var result = fixture.Manager().Add(Request("io.acme/old", scope: ConfigScope.Workspace));

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(Path.Combine(fixture.Config.Workspace, ".steward", "mcp.json"), result.File);
        Assert.Equal(Modes.File0600, Modes.Of(result.File!));
    }

    [Fact]
    public async Task Adding_keeps_the_other_entries_of_the_file_byte_for_byte_and_an_existing_name_needs_force()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        Directory.CreateDirectory(fixture.Config.Paths.ConfigDirectory);
        File.WriteAllText(fixture.Config.Paths.UserMcpConfig, "{\n  \"mcpServers\": {\n    \"mine\": {\n      \"url\": \"https://example.com/mcp\",\n      \"oauth\": {\n        \"clientId\": \"abc\"\n      },\n      \"disabled\": true\n    }\n  }\n}\n");
        var before = fixture.UserMcpJson;

        Assert.True(fixture.Manager().Add(Request("io.acme/old")).Succeeded);
        var again = fixture.Manager().Add(Request("io.acme/old"));

        Assert.Contains(before[before.IndexOf("\"mine\"", StringComparison.Ordinal)..before.IndexOf("    }\n  }", StringComparison.Ordinal)], fixture.UserMcpJson);
        Assert.Contains("add --force to replace it", again.Error);
        Assert.True(fixture.Manager().Add(Request("io.acme/old", force: true)).Replaced);
    }

    [Fact]
    public async Task List_gives_each_configured_server_its_admission_decision_and_why()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """
            {"mcpServers": {
              "weather": {"type": "registry", "env": {"WEATHER_API_KEY": "${K}", "UNITS": "metric"}},
              "io.acme/old": {"command": "npx", "args": ["-y", "@acme/old@1.0.0"]},
              "rogue": {"command": "npx", "args": ["-y", "@evil/miner"]},
              "off": {"command": "npx", "args": ["-y", "@acme/old@1.1.0"], "disabled": true}
            }}
            """);
        fixture.Config.Write("work/.steward/mcp.json", """
            {"mcpServers": {"io.acme/weather": {"type": "registry", "env": {"WEATHER_API_KEY": "${K}", "UNITS": "metric"}}}}
            """);

        var (report, error) = fixture.Manager().Status();

        Assert.Null(error);
        Assert.Equal("active", report!.Policy.State);
        Assert.Equal(4, report.Policy.ApprovedServers);
        var byName = report.Servers.ToDictionary(s => s.Name);
        Assert.Equal(("blocked", "registry_entry_unknown"), (byName["weather"].Decision, byName["weather"].Reason));
        Assert.Equal(("relaunch", "1.1.0"), (byName["io.acme/old"].Decision, byName["io.acme/old"].Version));
        Assert.Equal(("blocked", "not_in_registry"), (byName["rogue"].Decision, byName["rogue"].Reason));
        Assert.Equal(("blocked", "disabled"), (byName["off"].Decision, byName["off"].Reason));
        Assert.Contains("admitted if enabled", byName["off"].Message);
        Assert.Equal(("allowed", "workspace"), (byName["io.acme/weather"].Decision, byName["io.acme/weather"].Scope));
    }

    [Fact]
    public async Task With_MCP_disabled_every_server_is_blocked_with_the_reason_and_adding_is_refused()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """{"mcpServers": {"io.acme/old": {"type": "registry"}}}""");
        File.Delete(fixture.Config.Paths.PolicyCache);

        var manager = fixture.Manager();
        var (report, _) = manager.Status();

        Assert.Equal("disabled", report!.Policy.State);
        Assert.Equal("mcp_disabled", Assert.Single(report.Servers).Reason);
        Assert.Contains("no verified policy", manager.Add(Request("io.acme/old")).Error);
    }

    [Fact]
    public async Task Remove_deletes_the_entry_and_the_secrets_stored_for_it()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        Assert.True(fixture.Manager().Add(Request("io.acme/weather", inputs: [("WEATHER_API_KEY", "sk-1"), ("UNITS", "metric")])).Succeeded);

        var result = fixture.Manager().Remove("io.acme/weather", null);

        Assert.True(result.Succeeded, result.Error);
        Assert.DoesNotContain("io.acme/weather", fixture.UserMcpJson);
        Assert.Empty(SecretStore.Load(fixture.Config.Paths).Names);
        Assert.Contains("is not configured", fixture.Manager().Remove("io.acme/weather", null).Error);
    }

    [Fact]
    public async Task Disable_then_enable_round_trips_and_enabling_a_server_the_policy_blocks_is_refused()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        fixture.Config.Write("config/mcp.json", """
            {"mcpServers": {
              "io.acme/old": {"type": "registry"},
              "rogue": {"command": "npx", "args": ["-y", "@evil/miner"], "disabled": true}
            }}
            """);

        var disabled = fixture.Manager().SetEnabled("io.acme/old", enabled: false, null);
        Assert.Equal("blocked", disabled.Status!.Decision);
        Assert.Contains("\"disabled\": true", fixture.UserMcpJson);
        var enabled = fixture.Manager().SetEnabled("io.acme/old", enabled: true, null);
        Assert.Equal("allowed", enabled.Status!.Decision);
        var refused = fixture.Manager().SetEnabled("rogue", enabled: true, null);

        Assert.StartsWith("cannot enable \"rogue\": nothing in the registry runs what \"rogue\" runs [not_in_registry]", refused.Error);
        Assert.Contains("\"disabled\": true", fixture.UserMcpJson[fixture.UserMcpJson.IndexOf("rogue", StringComparison.Ordinal)..]);
    }

    [Fact]
    public async Task A_malformed_mcp_json_is_named_and_left_untouched()
    {
        using var fixture = await PolicyFixture.CreateAsync();
        var path = fixture.Config.Write("config/mcp.json", """{"mcpServers": {"x": {"command": 5}}}""");

        var result = fixture.Manager().Add(Request("io.acme/old"));

        Assert.StartsWith(path + ": ", result.Error);
        Assert.Contains("nothing was changed", result.Error);
        Assert.Equal("""{"mcpServers": {"x": {"command": 5}}}""", File.ReadAllText(path));
    }

    [Fact]
    public async Task The_picker_offers_each_approved_server_once_at_its_latest_version()
    {
        using var fixture = await PolicyFixture.CreateAsync();

        var approved = fixture.Manager().Approved();

        Assert.Equal(["io.acme/weather 1.2.0", "io.acme/files 2.0.0", "io.acme/remote 1.0.0", "io.acme/old 1.1.0"], approved.Select(a => a.Name + " " + a.Version));
        Assert.Equal("Weather", approved[0].Title);
    }
}
