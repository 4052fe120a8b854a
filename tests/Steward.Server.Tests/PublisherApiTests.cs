using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests;

/// <summary>The endpoints mcp-publisher calls, driven with exactly the requests it sends.</summary>
public sealed class PublisherApiTests(PublisherApiTests.AnonymousServer fixture) : IClassFixture<PublisherApiTests.AnonymousServer>
{
    private const string Official = "io.modelcontextprotocol.registry/official";
    private readonly TestServer _server = fixture.Server;

    public sealed class AnonymousServer : IAsyncLifetime
    {
        internal TestServer Server { get; private set; } = null!;

        public async Task InitializeAsync() => Server = await TestServer.StartAsync(o => o with { AllowAnonymousPublish = true });

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    /// <summary>What <c>mcp-publisher login none</c> does: POST {registry}/v0/auth/none, keep registry_token.</summary>
    private async Task<string> LoginNoneAsync()
    {
        using var client = _server.Client();
        using var response = await client.PostAsync("/v0/auth/none", null);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var expires = body["expires_at"]!.GetValue<long>();
        Assert.InRange(expires - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 60, 600);
        return body["registry_token"]!.GetValue<string>();
    }

    /// <summary>What <c>mcp-publisher publish</c> sends: the server.json bytes, JSON content type, the bearer token.</summary>
    private async Task<HttpResponseMessage> PublishAsync(string token, string serverJson, string path = "/v0/publish")
    {
        using var client = _server.Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(serverJson, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.UserAgent.ParseAdd("mcp-publisher/1.3.0");
        return await client.SendAsync(request);
    }

    private async Task<HttpResponseMessage> PatchAsync(string token, string path, string body)
    {
        using var client = _server.Client();
        using var request = new HttpRequestMessage(HttpMethod.Patch, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    [Theory]
    [MemberData(nameof(PublishTests.OfficialExamples), MemberType = typeof(PublishTests))]
    public async Task An_official_example_publishes_through_v0_publish_and_reads_back_equal(string file)
    {
        var original = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(FixturePaths.OfficialExamples, file)))!.AsObject();
        var name = "io.modelcontextprotocol.anonymous/" + Path.GetFileNameWithoutExtension(file);
        original["name"] = name;
        var token = await LoginNoneAsync();

        using var published = await PublishAsync(token, original.ToJsonString());
        var response = JsonNode.Parse(await published.Content.ReadAsStringAsync())!;
        Assert.True(published.StatusCode == HttpStatusCode.OK, response.ToJsonString());
        Assert.Equal(name, response["server"]!["name"]!.GetValue<string>());
        Assert.Equal("active", response["_meta"]![Official]!["status"]!.GetValue<string>());

        using var client = _server.Client();
        var listed = JsonNode.Parse(await client.GetStringAsync("/v0/servers?search=" + Uri.EscapeDataString(name)))!["servers"]!.AsArray()
            .Single(s => s!["server"]!["name"]!.GetValue<string>() == name && s["_meta"]![Official]!["isLatest"]!.GetValue<bool>())!;
        var detail = JsonNode.Parse(await client.GetStringAsync("/v0/servers/" + Uri.EscapeDataString(name) + "/versions/latest"))!;
        foreach (var readBack in new[] { listed["server"]!, detail["server"]! })
        {
            foreach (var field in new[] { "name", "description", "version", "repository", "packages", "remotes" })
            {
                Assert.True(JsonNode.DeepEquals(original[field], readBack[field]), $"{file}: {field} differs");
            }

            Assert.True(JsonNode.DeepEquals(original["_meta"]?["io.modelcontextprotocol.registry/publisher-provided"],
                readBack["_meta"]?["io.modelcontextprotocol.registry/publisher-provided"]), $"{file}: publisher _meta differs");
        }

        using var duplicate = await PublishAsync(token, original.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, duplicate.StatusCode);
        Assert.Contains("invalid version: cannot publish duplicate version", await duplicate.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_token_is_401_and_a_name_outside_the_token_s_namespaces_is_403_listing_what_it_may_publish()
    {
        using (var noHeader = await _server.Client().PostAsync("/v0/publish", TestServer.Json(TestServer.ServerJson("io.modelcontextprotocol.anonymous/x", "1.0.0"))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noHeader.StatusCode);
        }

        using (var bad = await PublishAsync("stw_not-a-token", TestServer.ServerJson("io.modelcontextprotocol.anonymous/x", "1.0.0")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
            Assert.Contains("Invalid or expired Registry JWT token", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var token = await LoginNoneAsync();
        using (var outside = await PublishAsync(token, TestServer.ServerJson("com.example.elsewhere/server", "1.0.0")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, outside.StatusCode);
            Assert.Contains("You have permission to publish: io.modelcontextprotocol.anonymous/*", await outside.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var developer = await _server.AddDemoDeveloperAsync();
        using (var asDeveloper = await PublishAsync(developer, TestServer.ServerJson("com.example.dev/server", "1.0.0")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, asDeveloper.StatusCode);
        }

        using (var invalid = await PublishAsync(token, """{"name":"io.modelcontextprotocol.anonymous/broken","description":"x","version":"^1.0.0"}"""))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
            var body = await invalid.Content.ReadAsStringAsync();
            Assert.Contains("call /validate for details", body, StringComparison.Ordinal);
            Assert.Contains("\"path\":\"version\"", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_publish_token_minted_by_an_admin_publishes_its_namespaces_and_an_admin_token_publishes_anything()
    {
        using var admin = _server.Client(TestServer.AdminToken);
        using var minted = await admin.PostAsync("/api/v1/orgs/demo/registry/publish-tokens", TestServer.Json("""{"name":"ci","namespaces":["com.acme/*","com.acme.tools/one"],"expiresInDays":7}"""));
        var created = JsonNode.Parse(await minted.Content.ReadAsStringAsync())!;
        Assert.True(minted.StatusCode == HttpStatusCode.Created, created.ToJsonString());
        var token = created["token"]!.GetValue<string>();

        using (var ok = await PublishAsync(token, TestServer.ServerJson("com.acme/server", "1.0.0")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var exact = await PublishAsync(token, TestServer.ServerJson("com.acme.tools/one", "1.0.0")))
        {
            Assert.Equal(HttpStatusCode.OK, exact.StatusCode);
        }

        using (var refused = await PublishAsync(token, TestServer.ServerJson("com.acme.tools/two", "1.0.0")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("com.acme/*, com.acme.tools/one", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var asAdmin = await PublishAsync(TestServer.AdminToken, TestServer.ServerJson("org.anything/server", "1.0.0", "published with the admin token")))
        {
            Assert.Equal(HttpStatusCode.OK, asAdmin.StatusCode);
        }

        var audit = await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=100");
        Assert.Contains("registry.publish-token.create", audit, StringComparison.Ordinal);
        Assert.DoesNotContain(token, audit, StringComparison.Ordinal);

        using var badRequest = await admin.PostAsync("/api/v1/orgs/demo/registry/publish-tokens", TestServer.Json("""{"name":"x","namespaces":["com acme"]}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badRequest.StatusCode);
        Assert.Contains("body.namespaces[0]", await badRequest.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_publish_token_request_with_several_problems_is_one_422_naming_each_at_its_path()
    {
        using var admin = _server.Client(TestServer.AdminToken);
        using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/publish-tokens",
            TestServer.Json("""{"name":"","namespaces":["com acme","com.acme/*","a b"],"expiresInDays":0,"scope":"all"}"""));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var paths = JsonNode.Parse(text)!["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["expiresInDays", "name", "namespaces[0]", "namespaces[2]", "scope"], paths);
        Assert.Contains("namespaces[2]: expected a name pattern", text, StringComparison.Ordinal);

        using var wrongTypes = await admin.PostAsync("/api/v1/orgs/demo/registry/publish-tokens", TestServer.Json("""{"name":5,"namespaces":"com.acme/*"}"""));
        var wrong = JsonNode.Parse(await wrongTypes.Content.ReadAsStringAsync())!["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ToList();
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongTypes.StatusCode);
        Assert.Equal(["name", "namespaces"], wrong);
    }

    [Fact]
    public async Task Publishing_under_an_organisation_s_base_URL_writes_to_that_organisation()
    {
        var (otherAdmin, _) = await _server.AddOrganisationAsync("publisher-other");
        using (var published = await PublishAsync(otherAdmin, TestServer.ServerJson("com.other/server", "1.0.0"), "/o/publisher-other/registry/v0.1/publish"))
        {
            Assert.Equal(HttpStatusCode.OK, published.StatusCode);
        }

        using (var notAtRoot = await PublishAsync(otherAdmin, TestServer.ServerJson("com.other/server", "2.0.0")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, notAtRoot.StatusCode);
        }

        using var client = _server.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/o/publisher-other/registry/v0.1/servers/com.other%2Fserver/versions/1.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v0.1/servers/com.other%2Fserver/versions/1.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PublishAsync(otherAdmin, TestServer.ServerJson("com.other/server", "3.0.0"), "/o/nobody/registry/v0/publish")).StatusCode);
    }

    [Fact]
    public async Task Status_changes_take_the_official_bodies_for_one_version_or_all_versions()
    {
        var token = await LoginNoneAsync();
        const string name = "io.modelcontextprotocol.anonymous/status-test";
        foreach (var version in new[] { "1.0.0", "1.1.0" })
        {
            using var published = await PublishAsync(token, TestServer.ServerJson(name, version));
            Assert.Equal(HttpStatusCode.OK, published.StatusCode);
        }

        var encoded = Uri.EscapeDataString(name);
        using (var deprecated = await PatchAsync(token, $"/v0/servers/{encoded}/versions/1.0.0/status", """{"status":"deprecated","statusMessage":"use 1.1.0"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, deprecated.StatusCode);
            Assert.Equal("deprecated", JsonNode.Parse(await deprecated.Content.ReadAsStringAsync())!["_meta"]![Official]!["status"]!.GetValue<string>());
        }

        using (var again = await PatchAsync(token, $"/v0/servers/{encoded}/versions/1.0.0/status", """{"status":"deprecated","statusMessage":"use 1.1.0"}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
            Assert.Contains("No changes to apply", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var all = await PatchAsync(token, $"/v0/servers/{encoded}/status", """{"status":"deleted","statusMessage":"withdrawn"}"""))
        {
            var body = JsonNode.Parse(await all.Content.ReadAsStringAsync())!;
            Assert.True(all.StatusCode == HttpStatusCode.OK, body.ToJsonString());
            Assert.Equal(2, body["updatedCount"]!.GetValue<int>());
            Assert.Equal(2, body["servers"]!.AsArray().Count);
        }

        using (var allAgain = await PatchAsync(token, $"/v0/servers/{encoded}/status", """{"status":"deleted","statusMessage":"withdrawn"}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, allAgain.StatusCode);
            Assert.Contains("No changes to apply", await allAgain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Deleted versions are shown to the organisation's admins only.
        using var client = _server.Client(TestServer.AdminToken);
        var versions = JsonNode.Parse(await client.GetStringAsync($"/v0/servers/{encoded}/versions?include_deleted=true"))!["servers"]!.AsArray();
        Assert.All(versions, v => Assert.Equal("deleted", v!["_meta"]![Official]!["status"]!.GetValue<string>()));
        using (var active = await PatchAsync(token, $"/v0/servers/{encoded}/status", """{"status":"active","statusMessage":"no"}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, active.StatusCode);
        }

        using (var outside = await PatchAsync(token, "/v0/servers/com.example.elsewhere%2Fserver/status", """{"status":"deleted"}"""))
        {
            Assert.Equal(HttpStatusCode.Forbidden, outside.StatusCode);
        }

        using (var missing = await PatchAsync(token, "/v0/servers/io.modelcontextprotocol.anonymous%2Fnone/versions/1.0.0/status", """{"status":"deleted"}"""))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }
    }

    [Fact]
    public async Task Validate_answers_200_with_every_issue_and_its_path()
    {
        using var client = _server.Client();
        using var valid = await client.PostAsync("/v0/validate", TestServer.Json(TestServer.ServerJson("com.example.v/server", "1.0.0")));
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        var ok = JsonNode.Parse(await valid.Content.ReadAsStringAsync())!;
        Assert.True(ok["valid"]!.GetValue<bool>());
        Assert.Empty(ok["issues"]!.AsArray());

        using var invalid = await client.PostAsync("/v0.1/validate", TestServer.Json("""{"name":"no-slash","description":"x","version":"latest","websiteUrl":"http://x.example.com"}"""));
        Assert.Equal(HttpStatusCode.OK, invalid.StatusCode);
        var bad = JsonNode.Parse(await invalid.Content.ReadAsStringAsync())!;
        Assert.False(bad["valid"]!.GetValue<bool>());
        var issues = bad["issues"]!.AsArray();
        var paths = issues.Select(i => i!["path"]!.GetValue<string>()).ToList();
        Assert.Contains("name", paths);
        Assert.Contains("version", paths);
        Assert.Contains("websiteUrl", paths);
        Assert.All(issues, i =>
        {
            Assert.Contains(i!["type"]!.GetValue<string>(), new[] { "json", "schema", "semantic", "linter" });
            Assert.False(string.IsNullOrEmpty(i["reference"]!.GetValue<string>()));
            Assert.Contains(i["severity"]!.GetValue<string>(), new[] { "error", "warning", "info" });
        });

        using var notJson = await client.PostAsync("/v0/validate", TestServer.Json("{not json"));
        Assert.Equal(HttpStatusCode.OK, notJson.StatusCode);
        Assert.Equal("json", JsonNode.Parse(await notJson.Content.ReadAsStringAsync())!["issues"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Anonymous_login_is_off_unless_the_server_turns_it_on()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client();
        using var response = await client.PostAsync("/v0/auth/none", null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
