using System.Net;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests;

public sealed class RegistryAdminTests
{
    private const string Official = "io.modelcontextprotocol.registry/official";

    private static async Task<JsonNode> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static string Latest(JsonNode list, string name) =>
        list["servers"]!.AsArray().Single(s => s!["server"]!["name"]!.GetValue<string>() == name && s["_meta"]![Official]!["isLatest"]!.GetValue<bool>())!["server"]!["version"]!.GetValue<string>();

    [Fact]
    public async Task An_admin_edits_a_version_s_metadata_and_the_edit_is_validated_and_audited()
    {
        await using var server = await TestServer.StartAsync();
        await server.PublishAsync("com.example.edit/server", "1.0.0");
        using var admin = server.Client(TestServer.AdminToken);
        const string path = "/api/v1/orgs/demo/registry/servers/com.example.edit%2Fserver/versions/1.0.0";

        using var edited = await admin.PutAsync(path, TestServer.Json(TestServer.ServerJson("com.example.edit/server", "1.0.0", "A corrected description")));
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        var detail = await GetJsonAsync(server.Client(), "/v0.1/servers/com.example.edit%2Fserver/versions/1.0.0");
        Assert.Equal("A corrected description", detail["server"]!["description"]!.GetValue<string>());
        Assert.Equal("active", detail["_meta"]![Official]!["status"]!.GetValue<string>());

        using var renumbered = await admin.PutAsync(path, TestServer.Json(TestServer.ServerJson("com.example.edit/server", "1.0.1")));
        Assert.Equal(HttpStatusCode.BadRequest, renumbered.StatusCode);
        Assert.Contains("must match the version in the path", await renumbered.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var renamed = await admin.PutAsync(path, TestServer.Json(TestServer.ServerJson("com.example.edit/other", "1.0.0")));
        Assert.Equal(HttpStatusCode.BadRequest, renamed.StatusCode);
        Assert.Contains("cannot rename", await renamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var invalid = await admin.PutAsync(path, TestServer.Json("""{"name":"com.example.edit/server","version":"1.0.0","description":"x","websiteUrl":"http://insecure.example.com"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        Assert.Contains("websiteUrl", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var missing = await admin.PutAsync("/api/v1/orgs/demo/registry/servers/com.example.edit%2Fserver/versions/9.9.9", TestServer.Json(TestServer.ServerJson("com.example.edit/server", "9.9.9")));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        var audit = await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=100");
        Assert.Contains("\"registry.edit\"", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_undelete_and_deprecate_recompute_latest_and_are_audited()
    {
        await using var server = await TestServer.StartAsync();
        await server.PublishAsync("com.example.life/server", "1.0.0");
        await server.PublishAsync("com.example.life/server", "2.0.0");
        using var admin = server.Client(TestServer.AdminToken);
        using var reader = server.Client();
        const string versions = "/api/v1/orgs/demo/registry/servers/com.example.life%2Fserver/versions/";

        using (var deleted = await admin.DeleteAsync(versions + "2.0.0"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        Assert.Equal("1.0.0", (await GetJsonAsync(reader, "/v0.1/servers/com.example.life%2Fserver/versions/latest"))["server"]!["version"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("/v0.1/servers/com.example.life%2Fserver/versions/2.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("/v0.1/servers/com.example.life%2Fserver/versions/2.0.0?include_deleted=true")).StatusCode);
        var withDeleted = await GetJsonAsync(admin, "/v0.1/servers/com.example.life%2Fserver/versions/2.0.0?include_deleted=true");
        Assert.Equal("deleted", withDeleted["_meta"]![Official]!["status"]!.GetValue<string>());
        using (var again = await admin.DeleteAsync(versions + "2.0.0"))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        using (var undeleted = await admin.PostAsync(versions + "2.0.0/undelete", null))
        {
            Assert.Equal(HttpStatusCode.OK, undeleted.StatusCode);
        }

        Assert.Equal("2.0.0", Latest(await GetJsonAsync(reader, "/v0.1/servers?search=com.example.life"), "com.example.life/server"));
        using (var undeletedAgain = await admin.PostAsync(versions + "2.0.0/undelete", null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, undeletedAgain.StatusCode);
            Assert.Contains("No changes to apply", await undeletedAgain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var deprecated = await admin.PostAsync(versions + "1.0.0/deprecate", TestServer.Json("""{"statusMessage":"use 2.0.0"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, deprecated.StatusCode);
            var meta = JsonNode.Parse(await deprecated.Content.ReadAsStringAsync())!["_meta"]![Official]!;
            Assert.Equal("deprecated", meta["status"]!.GetValue<string>());
            Assert.Equal("use 2.0.0", meta["statusMessage"]!.GetValue<string>());
        }

        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync(versions + "7.0.0")).StatusCode);
        var audit = await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=100");
        foreach (var action in new[] { "registry.delete", "registry.undelete", "registry.deprecate" })
        {
            Assert.Contains($"\"{action}\"", audit, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_official_seed_file_imports_once_and_a_second_import_changes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        var seed = await File.ReadAllTextAsync(FixturePaths.Seed);
        using var first = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json(seed));
        var report = JsonNode.Parse(await first.Content.ReadAsStringAsync())!;
        Assert.True(first.StatusCode == HttpStatusCode.OK, report.ToJsonString());
        Assert.Equal(4, report["created"]!.GetValue<int>());
        Assert.Empty(report["skipped"]!.AsArray());
        Assert.Equal("array", report["shapes"]![0]!.GetValue<string>());

        using var second = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json(seed));
        var again = JsonNode.Parse(await second.Content.ReadAsStringAsync())!;
        Assert.Equal(0, again["created"]!.GetValue<int>());
        Assert.Equal(4, again["unchanged"]!.GetValue<int>());
        Assert.Null(again["revision"]);

        var name = JsonNode.Parse(seed)![0]!["name"]!.GetValue<string>();
        var detail = await GetJsonAsync(server.Client(), "/v0.1/servers/" + Uri.EscapeDataString(name) + "/versions/latest");
        Assert.Equal(name, detail["server"]!["name"]!.GetValue<string>());
        Assert.Contains("\"registry.import.summary\"", await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=100"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Kiro_file_imports_into_the_organisation_namespace()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var imported = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json(await File.ReadAllTextAsync(FixturePaths.Kiro)));
        var report = JsonNode.Parse(await imported.Content.ReadAsStringAsync())!;
        Assert.True(imported.StatusCode == HttpStatusCode.OK, report.ToJsonString());
        Assert.Equal("kiro", report["shapes"]![0]!.GetValue<string>());
        Assert.Equal(2, report["created"]!.GetValue<int>());
        using var reader = server.Client();
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/v0.1/servers/local.demo%2Fmy-remote-server/versions/1.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/v0.1/servers/local.demo%2Fmy-local-server/versions/latest")).StatusCode);

        using var named = await admin.PostAsync("/api/v1/orgs/demo/registry/import?namespace=com.acme", TestServer.Json(await File.ReadAllTextAsync(FixturePaths.Kiro)));
        Assert.Equal(HttpStatusCode.OK, named.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/v0.1/servers/com.acme%2Fmy-local-server/versions/1.0.0")).StatusCode);
    }

    private const string MixedArray = """
        [
          {"name":"com.example.mixed/good","description":"fine","version":"1.0.0"},
          {"name":"com.example.mixed/bad","description":"broken","version":"latest","websiteUrl":"http://insecure.example.com"},
          {"name":"com.example.mixed/also-good","description":"fine","version":"2.0.0"}
        ]
        """;

    [Fact]
    public async Task Invalid_entries_are_reported_with_their_paths_and_skipped_or_refuse_an_atomic_import()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var atomic = await admin.PostAsync("/api/v1/orgs/demo/registry/import?atomic=true", TestServer.Json(MixedArray));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, atomic.StatusCode);
        var refused = JsonNode.Parse(await atomic.Content.ReadAsStringAsync())!;
        Assert.False(refused["imported"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client().GetAsync("/v0.1/servers/com.example.mixed%2Fgood/versions/1.0.0")).StatusCode);

        using var partial = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json(MixedArray));
        var report = JsonNode.Parse(await partial.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.OK, partial.StatusCode);
        Assert.Equal(2, report["created"]!.GetValue<int>());
        var skipped = Assert.Single(report["skipped"]!.AsArray())!;
        Assert.Equal("[1]", skipped["path"]!.GetValue<string>());
        var paths = skipped["problems"]!.AsArray().Select(p => p!["path"]!.GetValue<string>()).ToList();
        Assert.Contains("[1].version", paths);
        Assert.Contains("[1].websiteUrl", paths);
        Assert.Equal(HttpStatusCode.OK, (await server.Client().GetAsync("/v0.1/servers/com.example.mixed%2Fgood/versions/1.0.0")).StatusCode);

        using var changed = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json("""[{"name":"com.example.mixed/good","description":"changed","version":"1.0.0"}]"""));
        var conflict = JsonNode.Parse(await changed.Content.ReadAsStringAsync())!;
        Assert.Equal("conflict", conflict["skipped"]![0]!["reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("https://169.254.169.254/")]
    [InlineData("https://169.254.10.1/")]
    [InlineData("https://[fe80::1]/")]
    [InlineData("https://[fd00:ec2::254]/")]
    [InlineData("https://metadata.google.internal/computeMetadata/v1/")]
    [InlineData("http://registry.example.com/")]
    [InlineData("ftp://registry.example.com/")]
    [InlineData("http://127.0.0.1:9/")]
    public async Task An_import_URL_that_is_not_https_or_is_link_local_or_cloud_metadata_is_refused(string url)
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json(new JsonObject { ["url"] = url }.ToJsonString()));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, body);
        Assert.Contains("body.url", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_that_resolves_to_a_refused_address_is_refused_when_connecting()
    {
        // localhost resolves to loopback: plain http is allowed there only with the option, and then only to loopback addresses.
        await using var server = await TestServer.StartAsync(o => o with { AllowHttpLoopbackImport = true });
        Assert.True(Registry.ImportFetcher.IsLinkLocalOrMetadata(System.Net.IPAddress.Parse("::ffff:169.254.169.254")));
        Assert.False(Registry.ImportFetcher.IsLinkLocalOrMetadata(System.Net.IPAddress.Parse("10.0.0.1")));
        using var admin = server.Client(TestServer.AdminToken);
        using var unreachable = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json("""{"url":"http://localhost:9/"}"""));
        Assert.Equal(HttpStatusCode.BadGateway, unreachable.StatusCode);
        Assert.Contains("nothing was imported", await unreachable.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_official_style_registry_imports_page_by_page_then_incrementally_with_deletions()
    {
        var items = FakeUpstreamRegistry.SnapshotAndSeed(take: 450);
        await using var upstream = await FakeUpstreamRegistry.StartAsync(items);
        await using var server = await TestServer.StartAsync(o => o with { AllowHttpLoopbackImport = true });
        using var admin = server.Client(TestServer.AdminToken);
        var body = TestServer.Json(new JsonObject { ["url"] = upstream.BaseUrl.ToString() }.ToJsonString());

        using var first = await admin.PostAsync("/api/v1/orgs/demo/registry/import", body);
        var report = JsonNode.Parse(await first.Content.ReadAsStringAsync())!;
        Assert.True(first.StatusCode == HttpStatusCode.OK, report.ToJsonString());
        Assert.Equal((items.Count + 99) / 100, upstream.Queries.Count);
        Assert.All(upstream.Queries, q => Assert.DoesNotContain("updated_since", q, StringComparison.Ordinal));
        var created = report["created"]!.GetValue<int>();
        var skipped = report["skipped"]!.AsArray();
        Assert.Equal(items.Count, created + skipped.Count);
        Assert.All(skipped, s => Assert.NotEmpty(s!["problems"]!.AsArray()));
        Assert.All(skipped, s => Assert.StartsWith("pages[", s!["path"]!.GetValue<string>(), StringComparison.Ordinal));

        // What the local registry now lists, page by page, is what was created.
        using var reader = server.Client();
        var listed = 0;
        string? cursor = null;
        do
        {
            var page = await GetJsonAsync(reader, "/v0.1/servers?limit=100" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            listed += page["servers"]!.AsArray().Count;
            cursor = page["metadata"]!["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        Assert.Equal(created + 3, listed); // the demo organisation's own three entries

        // Upstream deletes a version; the next import asks only for what changed and deletes it here too.
        var seedName = JsonNode.Parse(await File.ReadAllTextAsync(FixturePaths.Seed))![0]!["name"]!.GetValue<string>();
        var seedVersion = JsonNode.Parse(await File.ReadAllTextAsync(FixturePaths.Seed))![0]!["version"]!.GetValue<string>();
        upstream.SetStatus(seedName, seedVersion, "deleted", new DateTimeOffset(2025, 12, 20, 0, 0, 0, TimeSpan.Zero));
        upstream.Queries.Clear();
        using var second = await admin.PostAsync("/api/v1/orgs/demo/registry/import", body);
        var incremental = JsonNode.Parse(await second.Content.ReadAsStringAsync())!;
        Assert.True(second.StatusCode == HttpStatusCode.OK, incremental.ToJsonString());
        var query = Assert.Single(upstream.Queries);
        Assert.Contains("updated_since=", query, StringComparison.Ordinal);
        Assert.Equal(1, incremental["updated"]!.GetValue<int>());
        Assert.Equal(0, incremental["created"]!.GetValue<int>());
        var detail = await GetJsonAsync(admin, $"/v0.1/servers/{Uri.EscapeDataString(seedName)}/versions/{Uri.EscapeDataString(seedVersion)}?include_deleted=true");
        Assert.Equal("deleted", detail["_meta"]![Official]!["status"]!.GetValue<string>());
        using var latest = await reader.GetAsync($"/v0.1/servers/{Uri.EscapeDataString(seedName)}/versions/latest");
        if (latest.StatusCode == HttpStatusCode.OK)
        {
            Assert.NotEqual(seedVersion, JsonNode.Parse(await latest.Content.ReadAsStringAsync())!["server"]!["version"]!.GetValue<string>());
        }
        else
        {
            Assert.Equal(HttpStatusCode.NotFound, latest.StatusCode);
        }
    }
}
