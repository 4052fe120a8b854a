using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests.Governance;

/// <summary>Sandbox profiles through the admin API: validated, audited, and in each developer's signed bundle (the account's default over the organisation's).</summary>
public sealed class SandboxApiTests
{
    [Fact]
    public async Task Profiles_set_by_the_admin_reach_each_developers_bundle_with_an_audit_row_and_a_new_etag()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("contractors");
        await server.CreateAccountAsync("platform");
        var (contractor, _) = await server.CreateTokenAsync("developer", "contractors");
        var (platform, _) = await server.CreateTokenAsync("developer", "platform");
        var keys = await server.KeysAsync();
        var (first, firstJws) = await server.BundleAsync(platform);
        var etag = first.Headers.ETag!.Tag;
        first.Dispose();
        var before = server.Verify(firstJws, keys);
        Assert.Equal(JsonValueKind.Null, before.GetProperty("sandbox").GetProperty("default").ValueKind);
        var entry = before.GetProperty("registry").GetProperty("servers")[0].GetProperty("server").GetProperty("name").GetString()!;

        using var admin = server.Client(GovernanceServer.AdminToken);
        Assert.Equal(HttpStatusCode.Created, (await admin.PutAsync("/api/v1/orgs/demo/sandbox/default", GovernanceServer.Json("""{"mode":"prefer"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await admin.PutAsync("/api/v1/orgs/demo/accounts/contractors/sandbox",
            GovernanceServer.Json("""{"mode":"on","network":{"mode":"none"}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await admin.PutAsync($"/api/v1/orgs/demo/sandbox/servers/{entry}",
            GovernanceServer.Json("""{"mode":"on","files":{"paths":["${workspaceFolder}"]},"network":{"mode":"allowlist","allow":["api.github.com:443"]}}"""))).StatusCode);

        // The same profile again changes nothing; a bad one is refused with every problem's path and keeps the stored one.
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsync("/api/v1/orgs/demo/sandbox/default", GovernanceServer.Json("""{"mode":"prefer"}"""))).StatusCode);
        using var bad = await admin.PutAsync($"/api/v1/orgs/demo/sandbox/servers/{entry}", GovernanceServer.Json("""{"mode":"sometimes","files":{"paths":["etc"]}}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        var errors = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["errors"]!.AsArray().Select(e => (string)e!["path"]!).ToList();
        Assert.Equal(["mode", "files.paths[0]"], errors);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsync("/api/v1/orgs/demo/sandbox/default", GovernanceServer.Json("{not json"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PutAsync("/api/v1/orgs/demo/accounts/nobody/sandbox", GovernanceServer.Json("""{"mode":"on"}"""))).StatusCode);

        var (second, secondJws) = await server.BundleAsync(platform, etag);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        second.Dispose();
        var sandbox = server.Verify(secondJws, keys).GetProperty("sandbox");
        Assert.Equal("prefer", sandbox.GetProperty("default").GetProperty("mode").GetString());
        var own = sandbox.GetProperty("servers").GetProperty(entry);
        Assert.Equal("allowlist", own.GetProperty("network").GetProperty("mode").GetString());
        Assert.Equal("api.github.com:443", own.GetProperty("network").GetProperty("allow")[0].GetString());

        var (third, thirdJws) = await server.BundleAsync(contractor);
        third.Dispose();
        Assert.Equal("on", server.Verify(thirdJws, keys).GetProperty("sandbox").GetProperty("default").GetProperty("mode").GetString());

        var audit = await admin.GetStringAsync("/api/v1/orgs/demo/audit");
        Assert.Contains("sandbox:organisation", audit, StringComparison.Ordinal);
        Assert.Contains("sandbox:account/contractors", audit, StringComparison.Ordinal);
        Assert.Contains($"sandbox:server/{entry}", audit, StringComparison.Ordinal);

        // Removed: the account's developers fall back to the organisation's default.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/orgs/demo/accounts/contractors/sandbox")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/v1/orgs/demo/accounts/contractors/sandbox")).StatusCode);
        var (fourth, fourthJws) = await server.BundleAsync(contractor);
        fourth.Dispose();
        Assert.Equal("prefer", server.Verify(fourthJws, keys).GetProperty("sandbox").GetProperty("default").GetProperty("mode").GetString());
        Assert.Contains("sandbox.delete", await admin.GetStringAsync("/api/v1/orgs/demo/audit"), StringComparison.Ordinal);
    }
}
