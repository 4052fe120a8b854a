using System.Net;
using System.Text.Json.Nodes;
using Steward.Server.Storage;

namespace Steward.Server.Tests.Inputs;

/// <summary>
/// A secret's value never reaches the open registry: refused on publish and add, removed (with a warning) when a
/// registry is imported by URL; deleted versions are for admins only, and an admin can purge a version for good.
/// </summary>
public sealed class SecretValuesTests
{
    private const string Official = "io.modelcontextprotocol.registry/official";

    /// <summary>A server.json with a remote whose Authorization header is a secret holding its value.</summary>
    private static JsonObject WithSecretHeader(string name, string version = "1.0.0") => new()
    {
        ["$schema"] = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
        ["name"] = name,
        ["description"] = "A server with a secret",
        ["version"] = version,
        ["remotes"] = new JsonArray(new JsonObject
        {
            ["type"] = "streamable-http",
            ["url"] = "https://mcp.example.com/mcp",
            ["headers"] = new JsonArray(new JsonObject { ["name"] = "Authorization", ["isSecret"] = true, ["value"] = "Bearer sk-live-0123456789" }),
        }),
    };

    /// <summary>A server.json with a package whose API key environment variable is a secret with a default.</summary>
    private static JsonObject WithSecretDefault(string name, string version = "1.0.0")
    {
        var server = JsonNode.Parse(TestServer.ServerJson(name, version))!.AsObject();
        server["packages"]![0]!["environmentVariables"] = new JsonArray(new JsonObject { ["name"] = "API_KEY", ["isSecret"] = true, ["default"] = "sk-live-0123456789" });
        return server;
    }

    [Fact]
    public async Task Publishing_a_secret_value_is_refused_with_its_path_and_how_to_fix_it()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        foreach (var (path, body, at) in new[]
        {
            ("/api/v1/orgs/demo/registry/servers", WithSecretHeader("com.example.secret/header"), "remotes[0].headers[0].value"),
            ("/api/v1/orgs/demo/registry/servers", WithSecretDefault("com.example.secret/default"), "packages[0].environmentVariables[0].default"),
            ("/v0/publish", WithSecretHeader("com.example.secret/publisher"), "remotes[0].headers[0].value"),
        })
        {
            using var response = await admin.PostAsync(path, TestServer.Json(body.ToJsonString()));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{path}: {(int)response.StatusCode} {text}");
            Assert.Contains(at, text, StringComparison.Ordinal);
            Assert.Contains("secret.value-published", text, StringComparison.Ordinal);
            Assert.Contains("use a {placeholder} variable or drop the", text, StringComparison.Ordinal);
        }

        using var anonymous = server.Client();
        var list = await anonymous.GetStringAsync("/v0.1/servers?search=example.secret");
        Assert.DoesNotContain("sk-live", list, StringComparison.Ordinal);

        // The way to say where a secret goes is a variable, which is accepted.
        var templated = WithSecretHeader("com.example.secret/templated");
        var header = templated["remotes"]![0]!["headers"]![0]!.AsObject();
        header["value"] = "Bearer {token}";
        header["variables"] = new JsonObject { ["token"] = new JsonObject { ["isSecret"] = true, ["isRequired"] = true } };
        using var accepted = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(templated.ToJsonString()));
        Assert.True(accepted.StatusCode == HttpStatusCode.Created, await accepted.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Adding_a_secret_value_by_import_body_skips_that_entry_with_its_path()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        var body = new JsonArray(WithSecretDefault("com.example.secret/added"), JsonNode.Parse(TestServer.ServerJson("com.example.secret/clean", "1.0.0")));
        using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json(body.ToJsonString()));
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.StatusCode == HttpStatusCode.OK, report.ToJsonString());
        Assert.Equal(1, report["created"]!.GetValue<int>());
        var skipped = Assert.Single(report["skipped"]!.AsArray())!;
        Assert.Equal("com.example.secret/added", skipped["name"]!.GetValue<string>());
        var problem = Assert.Single(skipped["problems"]!.AsArray())!;
        Assert.Equal("[0].packages[0].environmentVariables[0].default", problem["path"]!.GetValue<string>());
        Assert.Equal("secret.value-published", problem["rule"]!.GetValue<string>());
    }

    [Fact]
    public async Task Importing_a_registry_by_url_removes_a_published_secret_and_warns()
    {
        static JsonObject Item(JsonObject server) => new()
        {
            ["server"] = server,
            ["_meta"] = new JsonObject { [Official] = new JsonObject { ["status"] = "active", ["publishedAt"] = "2025-12-01T00:00:00Z", ["updatedAt"] = "2025-12-01T00:00:00Z", ["isLatest"] = true } },
        };

        await using var upstream = await FakeUpstreamRegistry.StartAsync([Item(WithSecretHeader("com.example.mirror/header")), Item(WithSecretDefault("com.example.mirror/default"))]);
        await using var server = await TestServer.StartAsync(o => o with { AllowHttpLoopbackImport = true });
        using var admin = server.Client(TestServer.AdminToken);
        using var response = await admin.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json(new JsonObject { ["url"] = upstream.BaseUrl.ToString() }.ToJsonString()));
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.StatusCode == HttpStatusCode.OK, report.ToJsonString());
        Assert.Equal(2, report["created"]!.GetValue<int>());
        Assert.Empty(report["skipped"]!.AsArray());
        var warnings = report["warnings"]!.AsArray();
        Assert.Equal(2, warnings.Count);
        var paths = warnings.SelectMany(w => w!["problems"]!.AsArray()).Select(p => p!["path"]!.GetValue<string>()).ToList();
        Assert.Contains("pages[0].servers[0].server.packages[0].environmentVariables[0].default", paths);
        Assert.Contains("pages[0].servers[1].server.remotes[0].headers[0].value", paths);
        Assert.All(warnings.SelectMany(w => w!["problems"]!.AsArray()), p => Assert.Equal("warning", p!["severity"]!.GetValue<string>()));
        Assert.DoesNotContain("sk-live", report.ToJsonString(), StringComparison.Ordinal);

        using var anonymous = server.Client();
        var header = JsonNode.Parse(await anonymous.GetStringAsync("/v0.1/servers/com.example.mirror%2Fheader/versions/1.0.0"))!["server"]!["remotes"]![0]!["headers"]![0]!;
        Assert.Equal("Authorization", header["name"]!.GetValue<string>());
        Assert.Null(header["value"]);
        var listed = await anonymous.GetStringAsync("/v0.1/servers?search=example.mirror");
        Assert.DoesNotContain("sk-live", listed, StringComparison.Ordinal);
        Assert.Contains("API_KEY", listed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymous_readers_never_see_deleted_versions_and_admins_do()
    {
        await using var server = await TestServer.StartAsync();
        const string name = "com.example.deleted/server";
        await server.PublishAsync(name, "1.0.0");
        await server.PublishAsync(name, "2.0.0");
        await server.SetStatusAsync(name, "2.0.0", "deleted");
        var since = Uri.EscapeDataString("2000-01-01T00:00:00Z");
        var paths = new[]
        {
            "/v0.1/servers?search=example.deleted&include_deleted=true",
            "/v0.1/servers?search=example.deleted&updated_since=" + since,
            "/v0.1/servers/com.example.deleted%2Fserver/versions?include_deleted=true",
            "/o/demo/registry/v0.1/servers?search=example.deleted&include_deleted=true",
        };

        using var anonymous = server.Client();
        using var developer = server.Client(await server.AddDemoDeveloperAsync());
        using var admin = server.Client(TestServer.AdminToken);
        foreach (var path in paths)
        {
            foreach (var reader in new[] { anonymous, developer })
            {
                var versions = Versions(await reader.GetStringAsync(path));
                Assert.Equal(["1.0.0"], versions);
            }

            Assert.Equal(["1.0.0", "2.0.0"], Versions(await admin.GetStringAsync(path)).Order(StringComparer.Ordinal));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/v0.1/servers/com.example.deleted%2Fserver/versions/2.0.0?include_deleted=true")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/v0.1/servers/com.example.deleted%2Fserver/versions/2.0.0?include_deleted=true")).StatusCode);
    }

    [Fact]
    public async Task A_purged_version_is_gone_for_admins_too_on_SQLite()
    {
        await using var server = await TestServer.StartAsync();
        await PurgeRemovesTheVersionAsync(server.Server);
    }

    [PostgresFact]
    public async Task A_purged_version_is_gone_for_admins_too_on_PostgreSQL()
    {
        await using var database = await TestPostgres.CreateAsync("steward_purge_", pooling: false);
        var (first, second) = await database.StartTwoInstancesAsync();
        await using var one = first;
        await using var two = second;
        await PurgeRemovesTheVersionAsync(first);
    }

    private static async Task PurgeRemovesTheVersionAsync(StewardServer server)
    {
        const string name = "com.example.purge/server";
        var version = $"/api/v1/orgs/demo/registry/servers/{Uri.EscapeDataString(name)}/versions/";
        using var admin = new HttpClient { BaseAddress = server.BaseUrl };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", TestServer.AdminToken);
        foreach (var v in new[] { "1.0.0", "2.0.0" })
        {
            using var published = await admin.PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(TestServer.ServerJson(name, v, "leaked sk-live-0123456789")));
            Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        }

        using (var deleted = await admin.DeleteAsync(version + "2.0.0"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        var listing = "/v0.1/servers?search=example.purge&include_deleted=true";
        Assert.Equal(["1.0.0", "2.0.0"], Versions(await admin.GetStringAsync(listing)).Order(StringComparer.Ordinal));

        using (var bad = await admin.DeleteAsync(version + "2.0.0?purge=maybe"))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
            Assert.Contains("purge", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var purged = await admin.DeleteAsync(version + "2.0.0?purge=true"))
        {
            var text = await purged.Content.ReadAsStringAsync();
            Assert.True(purged.StatusCode == HttpStatusCode.OK, text);
            Assert.True(JsonNode.Parse(text)!["purged"]!.GetValue<bool>());
        }

        Assert.Equal(["1.0.0"], Versions(await admin.GetStringAsync(listing)));
        Assert.Equal(["1.0.0"], Versions(await admin.GetStringAsync($"/v0.1/servers/{Uri.EscapeDataString(name)}/versions?include_deleted=true")));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"/v0.1/servers/{Uri.EscapeDataString(name)}/versions/2.0.0?include_deleted=true")).StatusCode);
        using (var again = await admin.DeleteAsync(version + "2.0.0?purge=true"))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }

        await using (var connection = await server.Database.OpenAsync(CancellationToken.None))
        {
            var rows = await connection.ScalarAsync("SELECT COUNT(*) FROM registry_entries WHERE name = @name AND version = '2.0.0'", null, CancellationToken.None, ("name", name));
            Assert.Equal(0L, Convert.ToInt64(rows, System.Globalization.CultureInfo.InvariantCulture));
        }

        // The purge is audited, by whom and of which version, without the content.
        var audit = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=5"))!["audit"]!.AsArray();
        var row = audit.First(a => a!["action"]!.GetValue<string>() == "registry.purge")!;
        Assert.Equal($"registry:{name}@2.0.0", row["object"]!.GetValue<string>());
        Assert.DoesNotContain("sk-live", row.ToJsonString(), StringComparison.Ordinal);
    }

    private static List<string> Versions(string list) =>
        JsonNode.Parse(list)!["servers"]!.AsArray().Select(s => s!["server"]!["version"]!.GetValue<string>()).ToList();
}
