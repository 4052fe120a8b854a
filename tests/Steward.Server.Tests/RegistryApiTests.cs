using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests;

public sealed class RegistryApiTests(ExamplesServerFixture fixture) : IClassFixture<ExamplesServerFixture>
{
    private const string Official = "io.modelcontextprotocol.registry/official";
    private readonly TestServer _server = fixture.Server;

    private static async Task<JsonNode> JsonOf(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    [Fact]
    public async Task Replays_what_VS_Code_sends_and_every_shape_it_parses_is_there()
    {
        for (var i = 0; i < 57; i++)
        {
            await _server.PublishAsync($"com.example.vscode/tool-{i:D2}", "1.0.0");
        }

        await _server.PublishAsync("com.example.vscode/tool-00", "1.1.0");
        using var client = new HttpClient();
        var url = _server.BaseUrl.ToString().TrimEnd('/');

        // The probe: v0.1 answers 2xx, so VS Code uses v0.1.
        using (var probe = await client.GetAsync(url + "/v0.1/servers?limit=1"))
        {
            Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
            var page = await JsonOf(probe);
            Assert.Single(page["servers"]!.AsArray());
        }

        // The list, following nextCursor raw (not URL-encoded), with the search text encoded as encodeURIComponent does.
        var names = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var request = url + "/v0.1/servers?limit=50&version=latest" + (cursor is null ? "" : "&cursor=" + cursor) + "&search=" + Uri.EscapeDataString("VSCODE/tool");
            using var response = await client.GetAsync(new Uri(request));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await JsonOf(response);
            foreach (var item in page["servers"]!.AsArray())
            {
                AssertVsCodeParses(item!);
                names.Add(item!["server"]!["name"]!.GetValue<string>());
                Assert.True(item["_meta"]![Official]!["isLatest"]!.GetValue<bool>());
            }

            Assert.Equal(page["servers"]!.AsArray().Count, page["metadata"]!["count"]!.GetValue<int>());
            cursor = page["metadata"]!["nextCursor"]?.GetValue<string>();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(2, pages);
        Assert.Equal(57, names.Count);
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal(57, names.Distinct().Count());

        // The detail of each, by encodeURIComponent(name): the slash arrives as %2F.
        foreach (var name in names.Take(3))
        {
            using var response = await client.GetAsync(url + "/v0.1/servers/" + Uri.EscapeDataString(name) + "/versions/latest");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var item = await JsonOf(response);
            AssertVsCodeParses(item);
            Assert.Equal(name, item["server"]!["name"]!.GetValue<string>());
        }

        using (var latest = await client.GetAsync(url + "/v0.1/servers/" + Uri.EscapeDataString("com.example.vscode/tool-00") + "/versions/latest"))
        {
            Assert.Equal("1.1.0", (await JsonOf(latest))["server"]!["version"]!.GetValue<string>());
        }
    }

    private static void AssertVsCodeParses(JsonNode item)
    {
        var server = item["server"]!.AsObject();
        foreach (var field in new[] { "name", "description", "version" })
        {
            Assert.Equal(JsonValueKind.String, server[field]!.GetValueKind());
            Assert.False(string.IsNullOrEmpty(server[field]!.GetValue<string>()), field);
        }

        Assert.Equal(JsonValueKind.Object, item["_meta"]!.GetValueKind());
        var official = item["_meta"]![Official]!.AsObject();
        Assert.Contains(official["status"]!.GetValue<string>(), new[] { "active", "deprecated", "deleted" });
        Assert.True(official["isLatest"]!.GetValueKind() is JsonValueKind.True or JsonValueKind.False);
        foreach (var field in new[] { "publishedAt", "updatedAt", "statusChangedAt" })
        {
            Assert.True(DateTimeOffset.TryParse(official[field]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture, out _), field);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("101")]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    public async Task A_limit_outside_1_to_100_is_422_naming_limit(string limit)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync("/v0.1/servers?limit=" + limit);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await JsonOf(response);
        Assert.Equal(422, problem["status"]!.GetValue<int>());
        Assert.Equal("query.limit", problem["errors"]![0]!["location"]!.GetValue<string>());
        Assert.Contains("limit", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("100", 4)]
    public async Task Limits_1_and_100_are_accepted(string limit, int expected)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync("/v0/servers?search=io.github.modelcontextprotocol&limit=" + limit);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, (await JsonOf(response))["servers"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2025-13-01T00:00:00Z")]
    [InlineData("2025-01-01")]
    public async Task A_malformed_updated_since_is_400(string since)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync("/v0.1/servers?updated_since=" + Uri.EscapeDataString(since));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("updated_since", (await JsonOf(response))["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Include_deleted_false_with_updated_since_is_400()
    {
        using var client = _server.Client();
        using var response = await client.GetAsync("/v0.1/servers?include_deleted=false&updated_since=2020-01-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("%%%")]
    [InlineData("::::")]
    [InlineData("zzzz/zzz:9.9.9")]
    [InlineData("a%2Fb%3A1.0.0")]
    public async Task A_malformed_cursor_gives_a_page_never_an_error(string cursor)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync(new Uri(_server.BaseUrl, "/v0.1/servers?cursor=" + cursor));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull((await JsonOf(response))["servers"]);
    }

    [Fact]
    public async Task A_cursor_is_accepted_raw_or_url_encoded()
    {
        await _server.PublishAsync("com.example.cursor/alpha", "1.0.0+build.7");
        await _server.PublishAsync("com.example.cursor/beta", "1.0.0");
        using var client = _server.Client();
        var raw = "com.example.cursor/alpha:1.0.0+build.7";
        using var rawResponse = await client.GetAsync(new Uri(_server.BaseUrl, "/v0.1/servers?search=example.cursor&cursor=" + raw));
        using var encodedResponse = await client.GetAsync(new Uri(_server.BaseUrl, "/v0.1/servers?search=example.cursor&cursor=" + Uri.EscapeDataString(raw)));
        foreach (var response in new[] { rawResponse, encodedResponse })
        {
            var servers = (await JsonOf(response))["servers"]!.AsArray();
            Assert.Equal("com.example.cursor/beta", Assert.Single(servers)!["server"]!["name"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("/o/nowhere/registry/v0.1/servers")]
    [InlineData("/o/nowhere/registry/v0/servers/io.github.modelcontextprotocol%2Fserver-memory/versions/latest")]
    [InlineData("/o/demo/a/nowhere/registry/v0.1/servers")]
    public async Task An_unknown_organisation_or_account_is_404(string path)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Theory]
    [InlineData("/v0.1/servers/..%2F..%2Fetc%2Fpasswd/versions/latest")]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol%2F..%2F..%2Fserver-memory/versions/latest")]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol%2Fserver-memory/versions/..%2F..%2Flatest")]
    [InlineData("/o/..%2Fdemo/registry/v0.1/servers")]
    [InlineData("/o/demo%2F..%2Fdemo/registry/v0.1/servers")]
    [InlineData("/o/demo/a/..%2F..%2Fdemo/registry/v0.1/servers")]
    public async Task Path_traversal_in_names_organisations_and_versions_finds_nothing(string path)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("root:", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v0.1/servers")]
    [InlineData("/v0/servers")]
    [InlineData("/o/demo/registry/v0.1/servers")]
    [InlineData("/o/demo/registry/v0/servers")]
    [InlineData("account:platform")]
    public async Task The_root_the_organisation_and_its_accounts_serve_the_same_registry(string path)
    {
        await _server.AddAccountAsync("demo", "platform");
        if (path.StartsWith("account:", StringComparison.Ordinal))
        {
            // An account's base URL is the keyed one the admin API gives (a bare slug is not found).
            path = await _server.AccountUrlAsync("demo", path["account:".Length..], "registry") + "/v0.1/servers";
        }

        using var client = _server.Client();
        using var expected = await client.GetAsync("/v0.1/servers?limit=100&search=modelcontextprotocol");
        using var response = await client.GetAsync(path + "?limit=100&search=modelcontextprotocol");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(await expected.Content.ReadAsStringAsync(), await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("GET", "/v0.1/servers")]
    [InlineData("GET", "/v0.1/servers/io.github.modelcontextprotocol%2Fserver-memory/versions/latest")]
    [InlineData("GET", "/v0.1/servers/io.github.modelcontextprotocol%2Fserver-memory/versions")]
    [InlineData("GET", "/v0.1/servers/com.example%2Fmissing/versions/latest")]
    [InlineData("GET", "/o/demo/registry/v0.1/servers")]
    [InlineData("OPTIONS", "/v0.1/servers")]
    [InlineData("OPTIONS", "/v0.1/servers/io.github.modelcontextprotocol%2Fserver-memory/versions/latest")]
    [InlineData("OPTIONS", "/o/demo/registry/v0/servers")]
    public async Task Every_registry_route_carries_the_CORS_headers_Copilot_requires(string method, string path)
    {
        using var client = _server.Client();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("Origin", "https://github.com");
        request.Headers.Add("Access-Control-Request-Method", "GET");
        using var response = await client.SendAsync(request);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("GET, OPTIONS", response.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Equal("Authorization, Content-Type", response.Headers.GetValues("Access-Control-Allow-Headers").Single());
        if (method == "OPTIONS")
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol%2Fserver-filesystem/versions/latest")]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol%2fserver-filesystem/versions/latest")]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol/server-filesystem/versions/latest")]
    [InlineData("/v0/servers/io.github.modelcontextprotocol%2Fserver-filesystem/versions/2026.8.31")]
    [InlineData("/o/demo/registry/v0.1/servers/io.github.modelcontextprotocol%2Fserver-filesystem/versions/2026.8.31")]
    public async Task A_name_arrives_url_encoded_with_percent_2F_or_with_a_raw_slash(string path)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync(new Uri(_server.BaseUrl, path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var item = await JsonOf(response);
        Assert.Equal("io.github.modelcontextprotocol/server-filesystem", item["server"]!["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/v0.1/servers/com.example%2Fmissing/versions/latest")]
    [InlineData("/v0.1/servers/com.example%2Fmissing/versions")]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol%2Fserver-memory/versions/9.9.9")]
    public async Task An_unknown_server_is_404_Server_not_found(string path)
    {
        using var client = _server.Client();
        using var response = await client.GetAsync(new Uri(_server.BaseUrl, path));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var problem = await JsonOf(response);
        Assert.Equal("Server not found", problem["title"]!.GetValue<string>());
        Assert.Equal("Server not found", problem["error"]!.GetValue<string>());
        Assert.Equal(404, problem["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task Deleting_the_latest_version_makes_the_previous_one_latest_and_hides_the_deleted_one()
    {
        const string name = "com.example.latest/server";
        await _server.PublishAsync(name, "1.0.0");
        await _server.PublishAsync(name, "2.0.0");
        await _server.PublishAsync(name, "1.5.0");
        using var client = _server.Client();
        var latest = "/v0.1/servers/" + Uri.EscapeDataString(name) + "/versions/latest";
        Assert.Equal("2.0.0", (await JsonOf(await client.GetAsync(latest)))["server"]!["version"]!.GetValue<string>());

        await _server.SetStatusAsync(name, "2.0.0", "deleted", "withdrawn: broken build");
        var now = await JsonOf(await client.GetAsync(latest));
        Assert.Equal("1.5.0", now["server"]!["version"]!.GetValue<string>());
        Assert.True(now["_meta"]![Official]!["isLatest"]!.GetValue<bool>());

        // Deleted versions are hidden by default and shown with include_deleted to the organisation's admins (never to anonymous readers).
        using var admin = _server.Client(TestServer.AdminToken);
        var versions = "/v0.1/servers/" + Uri.EscapeDataString(name) + "/versions";
        Assert.Equal(2, (await JsonOf(await client.GetAsync(versions)))["servers"]!.AsArray().Count);
        Assert.Equal(2, (await JsonOf(await client.GetAsync(versions + "?include_deleted=true")))["servers"]!.AsArray().Count);
        var all = (await JsonOf(await admin.GetAsync(versions + "?include_deleted=true")))["servers"]!.AsArray();
        Assert.Equal(3, all.Count);
        var deleted = all.Single(i => i!["server"]!["version"]!.GetValue<string>() == "2.0.0")!["_meta"]![Official]!;
        Assert.Equal("deleted", deleted["status"]!.GetValue<string>());
        Assert.Equal("withdrawn: broken build", deleted["statusMessage"]!.GetValue<string>());
        Assert.False(deleted["isLatest"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v0.1/servers/" + Uri.EscapeDataString(name) + "/versions/2.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/v0.1/servers/" + Uri.EscapeDataString(name) + "/versions/2.0.0?include_deleted=true")).StatusCode);

        var list = (await JsonOf(await client.GetAsync("/v0.1/servers?search=example.latest")))["servers"]!.AsArray();
        Assert.DoesNotContain(list, i => i!["server"]!["version"]!.GetValue<string>() == "2.0.0");
        var withDeleted = (await JsonOf(await admin.GetAsync("/v0.1/servers?search=example.latest&include_deleted=true")))["servers"]!.AsArray();
        Assert.Contains(withDeleted, i => i!["server"]!["version"]!.GetValue<string>() == "2.0.0");

        // Undeleting makes 2.0.0 latest again.
        await _server.SetStatusAsync(name, "2.0.0", "active");
        Assert.Equal("2.0.0", (await JsonOf(await client.GetAsync(latest)))["server"]!["version"]!.GetValue<string>());
    }

    [Fact]
    public async Task Updated_since_returns_changes_after_the_time_deleted_ones_included()
    {
        const string name = "com.example.since/server";
        await _server.PublishAsync(name, "1.0.0");
        using var client = _server.Client();
        var first = (await JsonOf(await client.GetAsync("/v0.1/servers?search=example.since")))["servers"]![0]!;
        var since = first["_meta"]![Official]!["updatedAt"]!.GetValue<string>();

        Assert.Empty((await JsonOf(await client.GetAsync("/v0.1/servers?search=example.since&updated_since=" + since)))["servers"]!.AsArray());
        await _server.SetStatusAsync(name, "1.0.0", "deleted");
        using var admin = _server.Client(TestServer.AdminToken);
        var changed = (await JsonOf(await admin.GetAsync("/v0.1/servers?search=example.since&updated_since=" + since)))["servers"]!.AsArray();
        Assert.Equal("deleted", Assert.Single(changed)!["_meta"]![Official]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_is_a_case_insensitive_substring_and_version_filters_exactly()
    {
        using var client = _server.Client();
        var found = (await JsonOf(await client.GetAsync("/v0.1/servers?search=SERVER-MEM")))["servers"]!.AsArray();
        Assert.Equal("io.github.modelcontextprotocol/server-memory", Assert.Single(found)!["server"]!["name"]!.GetValue<string>());
        var none = (await JsonOf(await client.GetAsync("/v0.1/servers?search=%25")))["servers"]!.AsArray();
        Assert.Empty(none);
        var exact = (await JsonOf(await client.GetAsync("/v0.1/servers?version=0.20.2")))["servers"]!.AsArray();
        Assert.Equal("io.github.github/github-mcp-server", Assert.Single(exact)!["server"]!["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/v0.1/servers?search=modelcontextprotocol")]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol%2Fserver-memory/versions/latest")]
    [InlineData("/v0.1/servers/io.github.modelcontextprotocol%2Fserver-memory/versions")]
    public async Task The_same_content_has_the_same_ETag_and_If_None_Match_gives_304(string path)
    {
        using var client = _server.Client();
        using var first = await client.GetAsync(path);
        using var second = await client.GetAsync(path);
        var etag = first.Headers.ETag!;
        Assert.False(etag.IsWeak);
        Assert.Equal(etag, second.Headers.ETag);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, path);
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, notModified.Headers.ETag);

        using var stale = new HttpRequestMessage(HttpMethod.Get, path);
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"something-else\""));
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(stale)).StatusCode);
    }

    [Fact]
    public async Task Health_and_ping_answer_as_upstream_and_readiness_reports_the_database()
    {
        using var client = _server.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v0.1/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v0/ping")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        using var ready = await client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", (await JsonOf(ready))["status"]!.GetValue<string>());
    }
}
