using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Tests;

namespace Steward.Server.Tests;

public sealed class PublishTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly TestServer _server = fixture.Server;

    public static TheoryData<string> OfficialExamples()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(FixturePaths.OfficialExamples, "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void There_are_the_17_official_examples() => Assert.Equal(17, OfficialExamples().Count);

    [Theory]
    [MemberData(nameof(OfficialExamples))]
    public async Task An_official_example_publishes_and_reads_back_equal(string file)
    {
        var original = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(FixturePaths.OfficialExamples, file)))!.AsObject();
        var name = "com.example.examples/" + Path.GetFileNameWithoutExtension(file);
        original["name"] = name;

        using var admin = _server.Client(TestServer.AdminToken);
        using var published = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(original.ToJsonString()));
        Assert.True(published.StatusCode == HttpStatusCode.Created, await published.Content.ReadAsStringAsync());
        Assert.NotNull(published.Headers.Location);

        using var client = _server.Client();
        var list = JsonNode.Parse(await client.GetStringAsync("/v0/servers?search=" + Uri.EscapeDataString(name)))!["servers"]!.AsArray();
        var listed = Assert.Single(list)!;
        Assert.True(listed["_meta"]!["io.modelcontextprotocol.registry/official"]!["isLatest"]!.GetValue<bool>());

        var detail = JsonNode.Parse(await client.GetStringAsync("/v0/servers/" + Uri.EscapeDataString(name) + "/versions/latest"))!;
        foreach (var readBack in new[] { listed["server"]!, detail["server"]! })
        {
            foreach (var field in new[] { "name", "description", "version", "repository", "packages", "remotes" })
            {
                Assert.True(JsonNode.DeepEquals(original[field], readBack[field]), $"{file}: {field} differs:\n{original[field]?.ToJsonString()}\n{readBack[field]?.ToJsonString()}");
            }

            var publisher = original["_meta"]?["io.modelcontextprotocol.registry/publisher-provided"];
            Assert.True(JsonNode.DeepEquals(publisher, readBack["_meta"]?["io.modelcontextprotocol.registry/publisher-provided"]), $"{file}: publisher _meta differs");
        }
    }

    [Fact]
    public async Task An_invalid_server_json_is_422_with_every_error_and_its_path()
    {
        const string invalid = """
        {
          "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
          "name": "no-slash-here",
          "description": "Bad",
          "version": "^1.2.3",
          "websiteUrl": "http://insecure.example.com",
          "packages": [ { "registryType": "npm", "identifier": "has space", "version": "latest", "transport": { "type": "stdio" } } ],
          "remotes": [ { "type": "streamable-http", "url": "http://localhost:8080/mcp" } ]
        }
        """;
        using var admin = _server.Client(TestServer.AdminToken);
        using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(invalid));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var errors = problem["errors"]!.AsArray().Where(e => e!["severity"]!.GetValue<string>() == "error").ToList();
        var paths = errors.Select(e => e!["path"]!.GetValue<string>()).ToHashSet();
        foreach (var expected in new[] { "name", "version", "websiteUrl", "packages[0].identifier", "packages[0].version", "remotes[0].url" })
        {
            Assert.Contains(expected, paths);
        }

        Assert.All(errors, e =>
        {
            Assert.False(string.IsNullOrEmpty(e!["rule"]!.GetValue<string>()));
            Assert.False(string.IsNullOrEmpty(e["message"]!.GetValue<string>()));
            Assert.NotNull(e["hint"]);
        });
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("[1, 2]")]
    [InlineData("")]
    public async Task A_body_that_is_not_a_server_json_is_refused_with_a_problem(string body)
    {
        using var admin = _server.Client(TestServer.AdminToken);
        using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(body));
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity, $"{(int)response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task A_body_over_1_MiB_is_413()
    {
        var padding = new string('x', 1024 * 1024);
        var body = TestServer.ServerJson("com.example.big/server", "1.0.0", "big").Replace("\"big\"", "\"big\",\"title\":\"" + padding + "\"", StringComparison.Ordinal);
        using var admin = _server.Client(TestServer.AdminToken);
        using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);

        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orgs/demo/registry/servers")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body))),
        };
        chunked.Headers.TransferEncodingChunked = true;
        using var chunkedResponse = await admin.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunkedResponse.StatusCode);
    }

    [Fact]
    public async Task A_published_version_is_immutable_409()
    {
        await _server.PublishAsync("com.example.immutable/server", "1.0.0");
        using var admin = _server.Client(TestServer.AdminToken);
        using var again = await admin.PostAsync("/api/v1/orgs/demo/registry/servers",
            TestServer.Json(TestServer.ServerJson("com.example.immutable/server", "1.0.0", "changed description")));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var detail = JsonNode.Parse(await _server.Client().GetStringAsync("/v0.1/servers/com.example.immutable%2Fserver/versions/1.0.0"))!;
        Assert.Equal("A test server", detail["server"]!["description"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"status":"retired"}""", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{}""", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{"status":"active","statusMessage":"why"}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"status":"active"}""", HttpStatusCode.BadRequest)]
    [InlineData("""not json""", HttpStatusCode.BadRequest)]
    public async Task A_bad_status_change_is_refused(string body, HttpStatusCode expected)
    {
        await EnsurePublished("com.example.status/server", "1.0.0");
        using var admin = _server.Client(TestServer.AdminToken);
        using var response = await admin.PatchAsync("/api/v1/orgs/demo/registry/servers/com.example.status%2Fserver/versions/1.0.0/status", TestServer.Json(body));
        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task A_status_message_over_500_characters_is_422()
    {
        await EnsurePublished("com.example.status/server", "1.0.0");
        using var admin = _server.Client(TestServer.AdminToken);
        var body = $$"""{"status":"deprecated","statusMessage":"{{new string('m', 501)}}"}""";
        using var response = await admin.PatchAsync("/api/v1/orgs/demo/registry/servers/com.example.status%2Fserver/versions/1.0.0/status", TestServer.Json(body));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
    }

    [Fact]
    public async Task A_status_change_and_a_deprecation_with_several_problems_are_one_422_naming_each_at_its_path()
    {
        await EnsurePublished("com.example.status/server", "1.0.0");
        using var admin = _server.Client(TestServer.AdminToken);
        const string version = "/api/v1/orgs/demo/registry/servers/com.example.status%2Fserver/versions/1.0.0";
        using var status = await admin.PatchAsync(version + "/status", TestServer.Json($$"""{"status":"retired","statusMessage":"{{new string('m', 501)}}","reason":"x"}"""));
        var text = await status.Content.ReadAsStringAsync();
        Assert.True(status.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var paths = JsonNode.Parse(text)!["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ToList();
        // The official body's unknown member is passed over, as the official registry passes over it.
        Assert.Equal(["status", "statusMessage"], paths);

        using var deprecation = await admin.PostAsync(version + "/deprecate", TestServer.Json("""{"statusMessage":5,"reason":"x"}"""));
        text = await deprecation.Content.ReadAsStringAsync();
        Assert.True(deprecation.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        paths = [.. JsonNode.Parse(text)!["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>())];
        Assert.Equal(["reason", "statusMessage"], paths);
    }

    [Fact]
    public async Task A_status_change_of_an_unknown_version_is_404()
    {
        using var admin = _server.Client(TestServer.AdminToken);
        using var response = await admin.PatchAsync("/api/v1/orgs/demo/registry/servers/com.example%2Fnothing/versions/1.0.0/status", TestServer.Json("""{"status":"deprecated"}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Every_change_writes_an_audit_row_with_who_what_before_and_after()
    {
        await _server.PublishAsync("com.example.audited/server", "1.0.0");
        await _server.SetStatusAsync("com.example.audited/server", "1.0.0", "deprecated", "use 2.x");
        using var admin = _server.Client(TestServer.AdminToken);
        var audit = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=2"))!;
        var rows = audit["audit"]!.AsArray();
        var status = rows[0]!;
        Assert.Equal("registry.status", status["action"]!.GetValue<string>());
        Assert.Equal("registry:com.example.audited/server@1.0.0", status["object"]!.GetValue<string>());
        Assert.StartsWith("token:", status["actor"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(TestServer.AdminToken, audit.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("active", status["before"]!["status"]!.GetValue<string>());
        Assert.Equal("deprecated", status["after"]!["status"]!.GetValue<string>());
        Assert.True(status["revision"]!.GetValue<long>() > 1);
        var publish = rows[1]!;
        Assert.Equal("registry.publish", publish["action"]!.GetValue<string>());
        Assert.Null(publish["before"]);
        Assert.NotNull(audit["metadata"]!["nextCursor"]);

        var next = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=2&cursor=" + audit["metadata"]!["nextCursor"]!.GetValue<string>()))!;
        Assert.True(next["audit"]![0]!["id"]!.GetValue<long>() < publish["id"]!.GetValue<long>());
    }

    private async Task EnsurePublished(string name, string version)
    {
        using var client = _server.Client();
        using var existing = await client.GetAsync("/v0.1/servers/" + Uri.EscapeDataString(name) + "/versions/" + version + "?include_deleted=true");
        if (existing.StatusCode == HttpStatusCode.NotFound)
        {
            await _server.PublishAsync(name, version);
        }
    }
}
