using System.Net;
using System.Text.Json;
using Steward.Server.AdminConsole;
using Steward.Server.Organisations;

namespace Steward.Server.Tests.Governance;

/// <summary>
/// The organisation's emergency stop through the admin API: MCP off in every account's bundle whatever its own profile
/// says, the admin's reason in the bundle, audited, lifted; refused input named; and the console's review text, which
/// must be true for accounts with a profile of their own.
/// </summary>
public sealed class EmergencyStopTests
{
    private static async Task<JsonElement> PayloadAsync(GovernanceServer server, string token)
    {
        var (response, body) = await server.BundleAsync(token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return server.Verify(body, await server.KeysAsync()).GetProperty("profile");
    }

    [Fact]
    public async Task The_stop_turns_MCP_off_in_every_accounts_bundle_even_one_with_its_own_profile_until_it_is_lifted_and_both_are_audited()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("payments");
        await server.PutProfileAsync("/api/v1/orgs/demo/accounts/payments/profile", """{"mcpEnabled":true}""");
        var (own, _) = await server.CreateTokenAsync("developer", "payments");
        await server.CreateAccountAsync("web");
        var (plain, _) = await server.CreateTokenAsync("developer", "web");
        Assert.True((await PayloadAsync(server, own)).GetProperty("mcpEnabled").GetBoolean());
        var etagBefore = (await server.BundleAsync(own)).Response.Headers.ETag!.Tag;

        using var admin = server.Client(GovernanceServer.AdminToken);
        using var engaged = await admin.PutAsync("/api/v1/orgs/demo/emergency-stop", GovernanceServer.Json("""{"reason":"incident INC-42: MCP stopped while we investigate"}"""));
        Assert.Equal(HttpStatusCode.OK, engaged.StatusCode);
        using (var view = JsonDocument.Parse(await engaged.Content.ReadAsStringAsync()))
        {
            Assert.True(view.RootElement.GetProperty("stopped").GetBoolean());
        }

        foreach (var token in new[] { own, plain })
        {
            var profile = await PayloadAsync(server, token);
            Assert.False(profile.GetProperty("mcpEnabled").GetBoolean());
            Assert.Equal("incident INC-42: MCP stopped while we investigate", profile.GetProperty("emergencyStop").GetProperty("reason").GetString());
        }

        Assert.NotEqual(etagBefore, (await server.BundleAsync(own)).Response.Headers.ETag!.Tag);
        using (var state = JsonDocument.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/emergency-stop")))
        {
            Assert.Equal("incident INC-42: MCP stopped while we investigate", state.RootElement.GetProperty("reason").GetString());
        }

        using var lifted = await admin.DeleteAsync("/api/v1/orgs/demo/emergency-stop");
        Assert.Equal(HttpStatusCode.OK, lifted.StatusCode);
        var after = await PayloadAsync(server, own);
        Assert.True(after.GetProperty("mcpEnabled").GetBoolean());
        Assert.False(after.TryGetProperty("emergencyStop", out _));

        var audit = await admin.GetStringAsync("/api/v1/orgs/demo/audit");
        Assert.Contains("emergency-stop.engage", audit);
        Assert.Contains("emergency-stop.lift", audit);
        Assert.Contains("INC-42", audit);
    }

    [Fact]
    public async Task A_stop_without_a_reason_is_refused_naming_the_field_and_a_developer_cannot_engage_it()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("web");
        var (developer, _) = await server.CreateTokenAsync("developer", "web");
        using var admin = server.Client(GovernanceServer.AdminToken);
        foreach (var body in new[] { "{}", """{"reason":"  "}""", """{"reason":"two\nlines"}""", """{"reason":"ok","extra":1}""" })
        {
            using var refused = await admin.PutAsync("/api/v1/orgs/demo/emergency-stop", GovernanceServer.Json(body));
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(text.Contains("reason", StringComparison.Ordinal) || text.Contains("extra", StringComparison.Ordinal), text);
        }

        using var asDeveloper = server.Client(developer);
        using var forbidden = await asDeveloper.PutAsync("/api/v1/orgs/demo/emergency-stop", GovernanceServer.Json("""{"reason":"not mine to stop"}"""));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var state = JsonDocument.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/emergency-stop"));
        Assert.False(state.RootElement.GetProperty("stopped").GetBoolean());
        Assert.True((await PayloadAsync(server, developer)).GetProperty("mcpEnabled").GetBoolean());
    }

    [Fact]
    public async Task A_stop_body_with_an_unknown_field_and_a_reason_of_the_wrong_type_names_both_at_their_paths()
    {
        await using var server = await GovernanceServer.StartAsync();
        using var admin = server.Client(GovernanceServer.AdminToken);
        using var refused = await admin.PutAsync("/api/v1/orgs/demo/emergency-stop", GovernanceServer.Json("""{"reason":42,"until":"tomorrow"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        var errors = problem.RootElement.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(["until", "reason"], errors.Select(e => e.GetProperty("path").GetString()));
        Assert.Equal(["body.until", "body.reason"], errors.Select(e => e.GetProperty("location").GetString()));
        Assert.Equal("42", errors[1].GetProperty("value").GetString());
        using var state = JsonDocument.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/emergency-stop"));
        Assert.Equal("""{"stopped":false}""", state.RootElement.GetRawText());
    }

    [Fact]
    public void The_review_of_an_organisation_switch_names_the_accounts_with_their_own_profile_and_points_to_the_emergency_stop()
    {
        var on = ProfileSettings.Default;
        var off = on with { McpEnabled = false, WebToolsEnabled = false };
        var effects = SettingsConsequences.Describe(on, off, 3, "the organisation Demo", ["payments", "web"]).SelectMany(c => c.Effects).ToList();
        var mcp = Assert.Single(effects, e => e.StartsWith("MCP off:", StringComparison.Ordinal));
        Assert.Contains("except the 2 accounts with a profile of their own (payments, web), which keep their own settings", mcp);
        Assert.Contains(effects, e => e.Contains("use the emergency stop", StringComparison.Ordinal));
        Assert.Contains(effects, e => e.StartsWith("Agents of the organisation Demo except the 2 accounts", StringComparison.Ordinal));

        var plain = SettingsConsequences.Describe(on, off, 3, "the organisation Demo").SelectMany(c => c.Effects).ToList();
        Assert.Contains(plain, e => e.StartsWith("MCP off: every developer's gateway in the organisation Demo stops", StringComparison.Ordinal));
        Assert.DoesNotContain(plain, e => e.Contains("emergency stop", StringComparison.Ordinal));

        var stopped = SettingsConsequences.Describe(off, on, 3, "the organisation Demo", stopped: true).SelectMany(c => c.Effects).ToList();
        Assert.Contains(stopped, e => e.Contains("MCP stays off for every account of the organisation until it is lifted", StringComparison.Ordinal));
    }
}
