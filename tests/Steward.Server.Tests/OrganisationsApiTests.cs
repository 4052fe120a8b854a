using System.Net;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests;

public sealed class OrganisationsApiTests
{
    [Fact]
    public async Task A_server_administrator_makes_an_organisation_whose_first_admin_token_administers_it_alone()
    {
        await using var server = await TestServer.StartAsync();
        using var administrator = server.Client(TestServer.AdminToken);
        using var created = await administrator.PostAsync("/api/v1/orgs", TestServer.Json("""{"slug":"acme","name":"Acme Corp","adminTokenName":"acme bootstrap","expiresInDays":30}"""));
        var body = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, body);
        Assert.Equal("/api/v1/orgs/acme/profile", created.Headers.Location!.OriginalString);
        Assert.Contains("no-store", created.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
        var organisation = JsonNode.Parse(body)!;
        Assert.Equal("acme", (string)organisation["slug"]!);
        Assert.Equal("Acme Corp", (string)organisation["name"]!);
        Assert.Equal("/o/acme/registry", (string)organisation["registryUrl"]!);
        Assert.Equal("acme bootstrap", (string)organisation["adminToken"]!["name"]!);
        var token = (string)organisation["adminToken"]!["token"]!;
        var expiresAt = DateTimeOffset.Parse((string)organisation["adminToken"]!["expiresAt"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromDays(29), TimeSpan.FromDays(30));

        // The new admin administers its organisation (default profile, an empty registry it can publish to) and nothing else.
        using var acme = server.Client(token);
        var profile = JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs/acme/profile"))!;
        Assert.True((bool)profile["mcpEnabled"]!);
        Assert.Equal("hosted", (string)profile["registryMode"]!);
        using var anonymous = server.Client();
        Assert.Equal(0, (int)JsonNode.Parse(await anonymous.GetStringAsync("/o/acme/registry/v0.1/servers"))!["metadata"]!["count"]!);
        await server.PublishAsync("com.acme/tool", "1.0.0", organisation: "acme", token: token);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/o/acme/registry/v0.1/servers/com.acme%2Ftool/versions/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/v0.1/servers/com.acme%2Ftool/versions/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await acme.GetAsync("/api/v1/orgs/demo/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await acme.PostAsync("/api/v1/orgs", TestServer.Json("""{"slug":"acme-two"}"""))).StatusCode);

        // Its audit starts with its creation and its first token, chained, and never holds the token's value.
        var audit = await acme.GetStringAsync("/api/v1/orgs/acme/audit?limit=500");
        var actions = JsonNode.Parse(audit)!["audit"]!.AsArray().Select(r => (string)r!["action"]!).Reverse().ToList();
        Assert.Equal(["organisation.create", "token.create", "registry.publish"], actions);
        Assert.DoesNotContain(token, audit, StringComparison.Ordinal);
        Assert.True((bool)JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs/acme/audit/verify"))!["intact"]!);
        var demoAudit = await administrator.GetStringAsync("/api/v1/orgs/demo/audit?action=organisation.create");
        Assert.Contains("organisation:acme", demoAudit, StringComparison.Ordinal);

        // Filtered by the object and by the actor, exactly as the rows spell them.
        var byObject = JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs/acme/audit?object=organisation:acme"))!["audit"]!.AsArray();
        Assert.Equal(["organisation.create"], byObject.Select(r => (string)r!["action"]!));
        var tokenRow = JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs/acme/audit?action=token.create"))!["audit"]!.AsArray().Single()!;
        var byTokenObject = JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs/acme/audit?object=" + Uri.EscapeDataString((string)tokenRow["object"]!)))!["audit"]!.AsArray();
        Assert.Equal(["token.create"], byTokenObject.Select(r => (string)r!["action"]!));
        var actor = (string)tokenRow["actor"]!;
        var byActor = JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs/acme/audit?limit=500&actor=" + Uri.EscapeDataString(actor)))!["audit"]!.AsArray();
        Assert.NotEmpty(byActor);
        Assert.All(byActor, r => Assert.Equal(actor, (string)r!["actor"]!));
        Assert.Empty(JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs/acme/audit?object=server:nothing-by-this-name"))!["audit"]!.AsArray());

        // Listed for the server administrator with every other organisation; for acme's admin, acme alone.
        var listed = JsonNode.Parse(await administrator.GetStringAsync("/api/v1/orgs"))!["organisations"]!.AsArray().Select(o => (string)o!["slug"]!).ToList();
        Assert.Equal(["acme", "demo"], listed);
        var own = JsonNode.Parse(await acme.GetStringAsync("/api/v1/orgs"))!["organisations"]!.AsArray().Select(o => (string)o!["slug"]!).ToList();
        Assert.Equal(["acme"], own);
    }

    [Theory]
    [InlineData("""{"name":"No slug"}""", HttpStatusCode.UnprocessableEntity, "slug")]
    [InlineData("""{"slug":"Acme"}""", HttpStatusCode.UnprocessableEntity, "slug")]
    [InlineData("""{"slug":"-acme"}""", HttpStatusCode.UnprocessableEntity, "slug")]
    [InlineData("""{"slug":"acme","name":""}""", HttpStatusCode.UnprocessableEntity, "name")]
    [InlineData("""{"slug":"acme","adminTokenName":7}""", HttpStatusCode.UnprocessableEntity, "adminTokenName")]
    [InlineData("""{"slug":"acme","expiresInDays":0}""", HttpStatusCode.UnprocessableEntity, "expiresInDays")]
    [InlineData("""{"slug":"acme","owner":"me"}""", HttpStatusCode.UnprocessableEntity, "owner")]
    [InlineData("""["acme"]""", HttpStatusCode.BadRequest, "JSON object")]
    [InlineData("""{"slug":"demo"}""", HttpStatusCode.Conflict, "already exists")]
    public async Task A_bad_organisation_is_refused_naming_what_is_wrong_and_nothing_is_made(string json, HttpStatusCode expected, string named)
    {
        await using var server = await TestServer.StartAsync();
        using var administrator = server.Client(TestServer.AdminToken);
        using var response = await administrator.PostAsync("/api/v1/orgs", TestServer.Json(json));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, body);
        Assert.Contains(named, body, StringComparison.Ordinal);
        var listed = JsonNode.Parse(await administrator.GetStringAsync("/api/v1/orgs"))!["organisations"]!.AsArray();
        Assert.Equal("demo", (string)Assert.Single(listed)!["slug"]!);

        using var tooLarge = await administrator.PostAsync("/api/v1/orgs", TestServer.Json($$"""{"slug":"big","name":"{{new string('x', 5000)}}"}"""));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
    }

    [Fact]
    public async Task A_body_with_several_problems_is_refused_with_every_one_at_its_path_in_one_answer()
    {
        await using var server = await TestServer.StartAsync();
        using var administrator = server.Client(TestServer.AdminToken);
        using var response = await administrator.PostAsync("/api/v1/orgs",
            TestServer.Json("""{"slug":"Acme","name":"","adminTokenName":7,"expiresInDays":0,"owner":"me"}"""));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var problem = JsonNode.Parse(text)!;
        var paths = problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["adminTokenName", "expiresInDays", "name", "owner", "slug"], paths);
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("slug: expected 1 to 63 lowercase letters", detail, StringComparison.Ordinal);
        Assert.Contains("name: expected a string of 1 to 200 characters", detail, StringComparison.Ordinal);
        Assert.Contains("expiresInDays: expected whole days from 1 to 730", detail, StringComparison.Ordinal);
        Assert.Contains("owner: unknown field", detail, StringComparison.Ordinal);
        var listed = JsonNode.Parse(await administrator.GetStringAsync("/api/v1/orgs"))!["organisations"]!.AsArray();
        Assert.Equal("demo", (string)Assert.Single(listed)!["slug"]!);
    }

    [Fact]
    public async Task The_server_administrator_reads_every_organisations_audit_filtered_by_organisation_and_action_and_paged()
    {
        await using var server = await TestServer.StartAsync();
        await server.AddOrganisationAsync("acme");
        using var administrator = server.Client(TestServer.AdminToken);

        var every = JsonNode.Parse(await administrator.GetStringAsync("/api/v1/audit?limit=500"))!["audit"]!.AsArray();
        var organisations = every.Select(r => (string)r!["organisation"]!).Distinct().Order().ToList();
        Assert.Equal(["acme", "demo"], organisations);
        var ids = every.Select(r => (long)r!["id"]!).ToList();
        Assert.Equal(ids.OrderDescending(), ids);

        var acme = JsonNode.Parse(await administrator.GetStringAsync("/api/v1/audit?organisation=acme&limit=500"))!["audit"]!.AsArray();
        Assert.NotEmpty(acme);
        Assert.All(acme, r => Assert.Equal("acme", (string)r!["organisation"]!));
        var created = JsonNode.Parse(await administrator.GetStringAsync("/api/v1/audit?action=organisation.create"))!["audit"]!.AsArray();
        Assert.Equal(["acme", "demo", "demo"], created.Select(r => (string)r!["organisation"]!).Order());
        Assert.Empty(JsonNode.Parse(await administrator.GetStringAsync("/api/v1/audit?organisation=nobody"))!["audit"]!.AsArray());

        // Paging: one row a page follows the same order as the full listing.
        var paged = new List<long>();
        string? cursor = null;
        do
        {
            var page = JsonNode.Parse(await administrator.GetStringAsync("/api/v1/audit?limit=1" + (cursor is null ? "" : "&cursor=" + cursor)))!;
            paged.AddRange(page["audit"]!.AsArray().Select(r => (long)r!["id"]!));
            cursor = (string?)page["metadata"]!["nextCursor"];
        }
        while (cursor is not null && paged.Count < 5);
        Assert.Equal(ids.Take(paged.Count), paged);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await administrator.GetAsync("/api/v1/audit?limit=0")).StatusCode);
    }
}
