using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Core.Policy;
using Steward.Server.Exports;

namespace Steward.Server.Tests.Governance;

/// <summary>
/// Tool rules of a profile through the admin API: stored in order, validated with JSON paths, audited with before and
/// after, kept by a write that does not name them, superseded by an account's own profile, carried in the signed
/// bundle (and absent from it when there are none, so the bytes of a profile without rules do not change), and
/// carried by the Claude Code managed settings export where it can express them.
/// </summary>
public sealed class ToolRulesTests
{
    private const string Rules = """
        {"toolRules":[
          {"pattern":"io.github.modelcontextprotocol/server-everything/get-env","effect":"deny","reason":"environment variables may hold secrets"},
          {"pattern":"io.github.modelcontextprotocol/server-everything/echo","effect":"ask"},
          {"pattern":"*/trigger-*","effect":"deny"},
          {"pattern":"*","effect":"allow"}
        ]}
        """;

    private static async Task<JsonElement> ProfileInBundleAsync(GovernanceServer server, string token)
    {
        var (response, body) = await server.BundleAsync(token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return server.Verify(body, await server.KeysAsync()).GetProperty("profile");
    }

    [Fact]
    public async Task Rules_set_by_the_admin_are_kept_in_order_audited_with_before_and_after_and_carried_in_the_signed_bundle()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("web");
        var (developer, _) = await server.CreateTokenAsync("developer", "web");
        var without = await ProfileInBundleAsync(server, developer);
        Assert.False(without.TryGetProperty("toolRules", out _));

        using var admin = server.Client(GovernanceServer.AdminToken);
        using (var put = await admin.PatchAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json(Rules)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var view = JsonNode.Parse(await put.Content.ReadAsStringAsync())!;
            Assert.Equal(["deny", "ask", "deny", "allow"], view["toolRules"]!.AsArray().Select(r => (string)r!["effect"]!));
            Assert.Equal(86400, (long)view["syncIntervalSeconds"]!);
        }

        var profile = await ProfileInBundleAsync(server, developer);
        var rules = profile.GetProperty("toolRules").EnumerateArray().ToList();
        Assert.Equal(4, rules.Count);
        Assert.Equal("io.github.modelcontextprotocol/server-everything/get-env", rules[0].GetProperty("pattern").GetString());
        Assert.Equal("environment variables may hold secrets", rules[0].GetProperty("reason").GetString());
        Assert.False(rules[1].TryGetProperty("reason", out _));

        // A write that does not name the rules keeps them.
        using (var other = await admin.PatchAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("""{"syncIntervalSeconds":3600}""")))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
            Assert.Equal(4, JsonNode.Parse(await other.Content.ReadAsStringAsync())!["toolRules"]!.AsArray().Count);
        }

        // The same rules again change nothing: no new revision.
        var revision = (long)JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/profile"))!["revision"]!;
        using (var same = await admin.PutAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json(Rules)))
        {
            Assert.Equal(revision, (long)JsonNode.Parse(await same.Content.ReadAsStringAsync())!["revision"]!);
        }

        using (var cleared = await admin.PatchAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("""{"toolRules":[]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        }

        Assert.False((await ProfileInBundleAsync(server, developer)).TryGetProperty("toolRules", out _));

        var audit = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit?object=profile:organisation"))!;
        var updates = audit["audit"]!.AsArray().Where(e => (string)e!["action"]! == "profile.update").ToList();
        var setting = updates.Single(e => e!["after"]?.ToJsonString().Contains("environment variables may hold secrets", StringComparison.Ordinal) == true
                                          && e["before"]?.ToJsonString().Contains("get-env", StringComparison.Ordinal) != true);
        Assert.Contains("\"toolRules\":[]", setting!["before"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains(updates, e => e!["after"]!.ToJsonString().Contains("\"toolRules\":[]", StringComparison.Ordinal)
                                      && e["before"]!.ToJsonString().Contains("get-env", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"toolRules":{}}""", "$.toolRules", "expected an array")]
    [InlineData("""{"toolRules":[{"pattern":"a/b","effect":"deny"},{"pattern":"a/c","effect":"block"}]}""", "$.toolRules[1].effect", "one of allow, ask, deny")]
    [InlineData("""{"toolRules":[{"effect":"deny"}]}""", "$.toolRules[0].pattern", "required")]
    [InlineData("""{"toolRules":[{"pattern":"just-a-tool","effect":"deny"}]}""", "$.toolRules[0].pattern", "server/tool")]
    [InlineData("""{"toolRules":[{"pattern":"a b/c","effect":"deny"}]}""", "$.toolRules[0].pattern", "no spaces")]
    [InlineData("""{"toolRules":[{"pattern":"a/b","effect":"deny","why":"x"}]}""", "$.toolRules[0].why", "unknown field")]
    [InlineData("""{"toolRules":[{"pattern":"a/b","effect":"deny","reason":"two\nlines"}]}""", "$.toolRules[0].reason", "one line")]
    [InlineData("""{"toolRules":[{"pattern":"a/b","effect":"deny"},{"pattern":"a/b","effect":"deny"}]}""", "$.toolRules[1].pattern", "already an earlier rule")]
    public async Task A_bad_rule_is_refused_naming_its_JSON_path_and_the_rules_in_force_are_kept(string body, string path, string message)
    {
        await using var server = await GovernanceServer.StartAsync();
        using var admin = server.Client(GovernanceServer.AdminToken);
        using (var good = await admin.PatchAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json("""{"toolRules":[{"pattern":"x/y","effect":"deny"}]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        }

        using var refused = await admin.PatchAsync("/api/v1/orgs/demo/profile", GovernanceServer.Json(body));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
        Assert.StartsWith(path + ":", (string)problem["detail"]!, StringComparison.Ordinal);
        Assert.Contains(message, (string)problem["detail"]!, StringComparison.Ordinal);
        Assert.Equal("body." + path[2..], (string)problem["errors"]![0]!["location"]!);
        var kept = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/profile"))!["toolRules"]!.AsArray();
        Assert.Equal("x/y", (string)kept.Single()!["pattern"]!);
    }

    [Fact]
    public async Task An_account_with_its_own_profile_has_its_own_rules_and_the_emergency_stop_stays_above_them()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("payments");
        await server.CreateAccountAsync("web");
        var (own, _) = await server.CreateTokenAsync("developer", "payments");
        var (plain, _) = await server.CreateTokenAsync("developer", "web");
        await server.PutProfileAsync("/api/v1/orgs/demo/profile", """{"toolRules":[{"pattern":"*/get-env","effect":"deny"}]}""");
        // The account's first write starts from the organisation's settings, rules included; then its own rules supersede them.
        await server.PutProfileAsync("/api/v1/orgs/demo/accounts/payments/profile", """{"toolRules":[{"pattern":"*/echo","effect":"ask"}]}""");

        Assert.Equal("*/echo", (await ProfileInBundleAsync(server, own)).GetProperty("toolRules")[0].GetProperty("pattern").GetString());
        Assert.Equal("*/get-env", (await ProfileInBundleAsync(server, plain)).GetProperty("toolRules")[0].GetProperty("pattern").GetString());

        using var admin = server.Client(GovernanceServer.AdminToken);
        using (var stop = await admin.PutAsync("/api/v1/orgs/demo/emergency-stop", GovernanceServer.Json("""{"reason":"incident INC-7"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        }

        var stopped = await ProfileInBundleAsync(server, own);
        Assert.False(stopped.GetProperty("mcpEnabled").GetBoolean());
        Assert.Equal("incident INC-7", stopped.GetProperty("emergencyStop").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Claude_Code_managed_settings_carry_deny_and_ask_rules_on_one_tool_or_a_whole_server_and_every_format_reports_the_rest()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("web");
        var (developer, _) = await server.CreateTokenAsync("developer", "web");
        await server.PutProfileAsync("/api/v1/orgs/demo/profile", """
            {"webToolsEnabled":false,"toolRules":[
              {"pattern":"io.github.modelcontextprotocol/server-everything/get-env","effect":"deny"},
              {"pattern":"io.github.modelcontextprotocol/server-filesystem/*","effect":"ask"},
              {"pattern":"*/trigger-*","effect":"deny"},
              {"pattern":"*","effect":"allow"}
            ]}
            """);
        using var client = server.Client(developer);
        var settings = JsonNode.Parse(await client.GetStringAsync("/api/v1/orgs/demo/exports/claude-settings"))!;
        // Under the short key managed-mcp.json and export-host list the server by, and under the flat registry name (an entry written by hand).
        Assert.Equal(["WebFetch", "WebSearch", "mcp__server-everything__get-env", "mcp__io_github_modelcontextprotocol_server-everything__get-env"],
            settings["permissions"]!["deny"]!.AsArray().Select(d => (string)d!));
        Assert.Equal(["mcp__server-filesystem", "mcp__io_github_modelcontextprotocol_server-filesystem"], settings["permissions"]!["ask"]!.AsArray().Select(d => (string)d!));

        var report = JsonNode.Parse(await client.GetStringAsync("/api/v1/orgs/demo/exports/claude-settings/report"))!["notes"]!.AsArray().Select(n => (string)n!).ToList();
        Assert.Contains(report, n => n.StartsWith("tool rule deny */trigger-*:", StringComparison.Ordinal) && n.Contains("not a glob", StringComparison.Ordinal));
        Assert.Contains(report, n => n.StartsWith("tool rule allow *:", StringComparison.Ordinal));
        Assert.DoesNotContain(report, n => n.Contains("get-env", StringComparison.Ordinal));

        foreach (var format in new[] { "kiro", "copilot", "cursor", "claude-managed-mcp", "gemini" })
        {
            var notes = JsonNode.Parse(await client.GetStringAsync($"/api/v1/orgs/demo/exports/{format}/report"))!["notes"]!.AsArray().Select(n => (string)n!).ToList();
            Assert.Equal(4, notes.Count(n => n.StartsWith("tool rule ", StringComparison.Ordinal) && n.Contains("enforced by steward gateway only", StringComparison.Ordinal)));
        }
    }

    [Theory]
    [InlineData("io.github.example/files/delete_file", "mcp__io_github_example_files__delete_file")]
    [InlineData("everything/*", "mcp__everything")]
    [InlineData("everything/get-*", null)]
    [InlineData("*/shell", null)]
    [InlineData("every?hing/echo", null)]
    [InlineData("*", null)]
    public void Claude_names_are_computed_for_exact_tools_and_whole_servers_only(string pattern, string? expected) =>
        Assert.Equal(expected, ToolRulePermissions.ClaudeName(pattern));

    [Fact]
    public void An_ask_rule_covered_by_a_deny_of_the_same_name_is_not_exported_twice()
    {
        var mapping = ToolRulePermissions.ForClaude([new ToolRule("s/t", ToolRuleEffect.Ask), new ToolRule("s/t", ToolRuleEffect.Deny)]);
        Assert.Equal(["mcp__s__t"], mapping.Deny);
        Assert.Empty(mapping.Ask);
    }
}
