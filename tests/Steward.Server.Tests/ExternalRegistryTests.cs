using System.Buffers.Text;
using System.Net;
using System.Text.Json.Nodes;
using Steward.Tests.Tls;

namespace Steward.Server.Tests;

/// <summary>
/// A profile's external registry (<c>registryMode: "external"</c>): fetched by the server from a real HTTPS registry on
/// 127.0.0.1 whose certificate a test CA signed (trusted through <c>ServeOptions.OutboundCaFile</c>, nothing disabled),
/// validated, kept as the last good copy, and read by the Registry API, the signed bundle and the exports.
/// </summary>
public sealed class ExternalRegistryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("steward-external-").FullName;
    private readonly TestCa _ca;

    public ExternalRegistryTests() => _ca = TestCa.Create(_dir);

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Kiro(params string[] names) =>
        "{\"servers\":[" + string.Join(",", names.Select(n => $$$"""
            {"server":{"name":"{{{n}}}","description":"The {{{n}}} server","version":"1.0.0","packages":[{"registryType":"npm","identifier":"@acme/{{{n}}}","version":"1.0.0","transport":{"type":"stdio"}}]}}
            """)) + "]}";

    private static async Task<(HttpStatusCode Status, JsonNode Body)> SendAsync(HttpClient client, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : TestServer.Json(json) };
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!);
    }

    private static JsonNode Payload(string jws)
    {
        var parts = jws.Trim().Split('.');
        return JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!;
    }

    private static async Task<IReadOnlyList<string>> RegistryNamesAsync(TestServer server)
    {
        using var anonymous = server.Client();
        var page = JsonNode.Parse(await anonymous.GetStringAsync("/v0.1/servers"))!;
        return [.. page["servers"]!.AsArray().Select(s => (string)s!["server"]!["name"]!)];
    }

    private static async Task<IReadOnlyList<string>> BundleNamesAsync(TestServer server, string developer)
    {
        using var client = server.Client(developer);
        var registry = Payload(await client.GetStringAsync("/api/v1/policy"))["registry"];
        return registry is null ? [] : [.. registry["servers"]!.AsArray().Select(s => (string)s!["server"]!["name"]!)];
    }

    [Fact]
    public async Task A_Kiro_registry_over_https_is_fetched_and_served_by_the_registry_api_the_bundle_and_the_exports()
    {
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro("alpha", "beta");
        await using var server = await TestServer.StartAsync(o => o with { OutboundCaFile = _ca.CaFile });
        var developer = await server.AddDemoDeveloperAsync();
        using var admin = server.Client(TestServer.AdminToken);

        var put = await SendAsync(admin, HttpMethod.Put, "/api/v1/orgs/demo/profile", $$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""");
        Assert.Equal(HttpStatusCode.OK, put.Status);
        var refreshed = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.True(refreshed.Status == HttpStatusCode.OK, refreshed.Body.ToJsonString());
        Assert.Equal(2, (int)refreshed.Body["inForce"]!["entries"]!);
        Assert.Equal("kiro", (string)refreshed.Body["inForce"]!["shape"]!);
        Assert.True((bool)refreshed.Body["lastAttempt"]!["succeeded"]!);

        // Kiro's flat names are namespaced as an import names them.
        Assert.Equal(["local.demo/alpha", "local.demo/beta"], await RegistryNamesAsync(server));
        Assert.Equal(["local.demo/alpha", "local.demo/beta"], await BundleNamesAsync(server, developer));
        using var exports = await admin.GetAsync("/api/v1/orgs/demo/exports/kiro");
        var exported = await exports.Content.ReadAsStringAsync();
        Assert.True(exports.StatusCode == HttpStatusCode.OK, exported);
        Assert.Contains("@acme/alpha", exported, StringComparison.Ordinal);

        var audit = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit"))!.ToJsonString();
        Assert.Contains("profile.registry.sync", audit, StringComparison.Ordinal);

        // Nothing changed upstream: the next refresh asks with the ETag and keeps the copy (no new revision).
        var revision = (string)Payload(await server.Client(developer).GetStringAsync("/api/v1/policy"))["revision"]!;
        var again = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.Equal("not-modified", (string)again.Body["lastAttempt"]!["outcome"]!);
        Assert.NotNull(registry.Requests[^1].IfNoneMatch);
        Assert.Equal(304, registry.Requests[^1].Status);
        Assert.Equal(revision, (string)Payload(await server.Client(developer).GetStringAsync("/api/v1/policy"))["revision"]!);
    }

    [PostgresFact]
    public async Task On_PostgreSQL_a_new_copy_replaces_the_last_one_and_an_unreadable_document_leaves_it_in_force()
    {
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro("alpha", "beta");
        await using var database = await TestPostgres.CreateAsync("steward_external_");
        await using var server = await TestServer.StartAsync(o => o with { OutboundCaFile = _ca.CaFile, Database = database.ConnectionString });
        var developer = await server.AddDemoDeveloperAsync();
        using var admin = server.Client(TestServer.AdminToken);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Put, "/api/v1/orgs/demo/profile", $$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""")).Status);
        var first = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.True(first.Status == HttpStatusCode.OK, first.Body.ToJsonString());
        Assert.Equal(["local.demo/alpha", "local.demo/beta"], await BundleNamesAsync(server, developer));

        registry.Document = Kiro("beta", "gamma");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync")).Status);
        Assert.Equal(["local.demo/beta", "local.demo/gamma"], await BundleNamesAsync(server, developer));
        Assert.Equal(["local.demo/beta", "local.demo/gamma"], await RegistryNamesAsync(server));

        registry.Document = "{\"servers\": [";
        var invalid = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.Status);
        Assert.Equal(["local.demo/beta", "local.demo/gamma"], await RegistryNamesAsync(server));
    }

    [Fact]
    public async Task A_registry_that_becomes_malformed_or_unreachable_leaves_the_last_good_copy_in_force_audited_with_its_problems_by_path()
    {
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro("alpha");
        await using var server = await TestServer.StartAsync(o => o with { OutboundCaFile = _ca.CaFile });
        var developer = await server.AddDemoDeveloperAsync();
        using var admin = server.Client(TestServer.AdminToken);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Put, "/api/v1/orgs/demo/profile", $$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync")).Status);

        // The second entry lacks its version: the document is refused whole.
        registry.Document = """{"servers":[{"server":{"name":"alpha","description":"a","version":"2.0.0","packages":[{"registryType":"npm","identifier":"@acme/alpha","version":"2.0.0","transport":{"type":"stdio"}}]}},{"server":{"name":"gamma","description":"g"}}]}""";
        var invalid = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.True(invalid.Status == HttpStatusCode.UnprocessableEntity, invalid.Body.ToJsonString());
        Assert.Equal("invalid", (string)invalid.Body["lastAttempt"]!["outcome"]!);
        var paths = invalid.Body["lastAttempt"]!["problems"]!.AsArray().Select(p => (string)p!["path"]!).ToList();
        Assert.Contains(paths, p => p.StartsWith("servers[1]", StringComparison.Ordinal));
        Assert.Equal(1, (int)invalid.Body["inForce"]!["entries"]!);
        Assert.Equal(["local.demo/alpha"], await RegistryNamesAsync(server));
        using (var client = server.Client(developer))
        {
            var servers = Payload(await client.GetStringAsync("/api/v1/policy"))["registry"]!["servers"]!.AsArray();
            Assert.Equal("1.0.0", (string)Assert.Single(servers)!["server"]!["version"]!);
        }

        // The admin sees the state and its problems afterwards too, and the failure is in the audit with the paths.
        var state = await SendAsync(admin, HttpMethod.Get, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.Equal(paths, state.Body["lastAttempt"]!["problems"]!.AsArray().Select(p => (string)p!["path"]!).ToList());
        var audit = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit"))!.ToJsonString();
        Assert.Contains("profile.registry.sync.failed", audit, StringComparison.Ordinal);
        Assert.Contains("servers[1]", audit, StringComparison.Ordinal);

        // Unreachable (503): the same copy stays; then it is fixed, and the new copy replaces it.
        registry.FailWith = 503;
        var unreachable = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.Equal(HttpStatusCode.BadGateway, unreachable.Status);
        Assert.Equal("unreachable", (string)unreachable.Body["lastAttempt"]!["outcome"]!);
        Assert.Contains("503", (string)unreachable.Body["lastAttempt"]!["failure"]!, StringComparison.Ordinal);
        Assert.Equal(["local.demo/alpha"], await RegistryNamesAsync(server));

        registry.FailWith = null;
        registry.Document = Kiro("alpha", "gamma");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync")).Status);
        Assert.Equal(["local.demo/alpha", "local.demo/gamma"], await BundleNamesAsync(server, developer));
    }

    [Fact]
    public async Task A_certificate_of_a_CA_the_server_was_not_given_is_refused_and_nothing_is_admitted()
    {
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro("alpha");
        await using var server = await TestServer.StartAsync();
        var developer = await server.AddDemoDeveloperAsync();
        using var admin = server.Client(TestServer.AdminToken);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Put, "/api/v1/orgs/demo/profile", $$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""")).Status);
        var refused = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.Equal(HttpStatusCode.BadGateway, refused.Status);
        Assert.False((bool)refused.Body["inForce"]!["present"]!);
        Assert.Empty(registry.Requests);
        using var client = server.Client(developer);
        Assert.Null(Payload(await client.GetStringAsync("/api/v1/policy"))["registry"]);
        using var export = await admin.GetAsync("/api/v1/orgs/demo/exports/kiro");
        Assert.Equal(HttpStatusCode.Conflict, export.StatusCode);
    }

    [Fact]
    public async Task A_certificate_of_the_trusted_CA_for_another_name_is_still_refused()
    {
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro("alpha");
        // registry.wrong.test resolves to 127.0.0.1, where the certificate names 127.0.0.1 and localhost only.
        await using var server = await TestServer.StartAsync(o => o with
        {
            OutboundCaFile = _ca.CaFile,
            Resolve = (_, _) => Task.FromResult(new[] { IPAddress.Loopback }),
        });
        using var admin = server.Client(TestServer.AdminToken);
        var url = registry.Url.Replace("127.0.0.1", "registry.wrong.test", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Put, "/api/v1/orgs/demo/profile", $$"""{"registryMode":"external","registryUrl":"{{url}}"}""")).Status);
        var refused = await SendAsync(admin, HttpMethod.Post, "/api/v1/orgs/demo/profile/registry-sync");
        Assert.Equal(HttpStatusCode.BadGateway, refused.Status);
        Assert.Equal("unreachable", (string)refused.Body["lastAttempt"]!["outcome"]!);
        Assert.Empty(registry.Requests);
    }

    [Fact]
    public async Task A_CA_file_that_cannot_be_read_stops_the_server_at_start_naming_the_variable()
    {
        var missing = Path.Combine(_dir, "no-such-ca.pem");
        var refused = await Assert.ThrowsAsync<ServeException>(() => TestServer.StartAsync(o => o with { OutboundCaFile = missing }));
        Assert.Equal(Core.Net.OutboundTrust.Variable, refused.Option);
        Assert.Contains(missing, refused.Message, StringComparison.Ordinal);
        var empty = Path.Combine(_dir, "empty.pem");
        File.WriteAllText(empty, "not a certificate\n");
        refused = await Assert.ThrowsAsync<ServeException>(() => TestServer.StartAsync(o => o with { OutboundCaFile = empty }));
        Assert.Contains("holds no PEM certificate", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Setting_a_profile_to_an_external_registry_fetches_it_without_being_asked_and_an_account_profile_has_its_own_copy()
    {
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro("alpha");
        await using var server = await TestServer.StartAsync(o => o with { OutboundCaFile = _ca.CaFile });
        var (otherAdmin, teamDeveloper) = await server.AddOrganisationAsync("other");
        using var admin = server.Client(otherAdmin);
        // A tenant organisation may not reach loopback addresses: the server's allow list must name them (STEWARD_OUTBOUND_ALLOW_PRIVATE).
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(admin, HttpMethod.Put, "/api/v1/orgs/other/accounts/team/profile", $$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""")).Status);
        JsonNode state = new JsonObject();
        for (var i = 0; i < 100; i++)
        {
            state = (await SendAsync(admin, HttpMethod.Get, "/api/v1/orgs/other/accounts/team/profile/registry-sync")).Body;
            if (state["lastAttempt"]!["outcome"] is not null)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal("unreachable", (string)state["lastAttempt"]!["outcome"]!);
        Assert.Empty(registry.Requests);

        await using var allowed = await TestServer.StartAsync(o => o with { OutboundCaFile = _ca.CaFile, OutboundAllowPrivate = "127.0.0.1/32" });
        (otherAdmin, teamDeveloper) = await allowed.AddOrganisationAsync("other");
        using var allowedAdmin = allowed.Client(otherAdmin);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(allowedAdmin, HttpMethod.Put, "/api/v1/orgs/other/accounts/team/profile", $$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""")).Status);
        for (var i = 0; i < 100; i++)
        {
            state = (await SendAsync(allowedAdmin, HttpMethod.Get, "/api/v1/orgs/other/accounts/team/profile/registry-sync")).Body;
            if ((bool)state["inForce"]!["present"]!)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.True((bool)state["inForce"]!["present"]!, state.ToJsonString());
        using var developer = allowed.Client(teamDeveloper);
        var names = Payload(await developer.GetStringAsync("/api/v1/policy"))["registry"]!["servers"]!.AsArray().Select(s => (string)s!["server"]!["name"]!).ToList();
        Assert.Equal(["local.other/alpha"], names);
        // The organisation's own registry (hosted, empty) is not the account's.
        using var anonymous = allowed.Client();
        Assert.Empty(JsonNode.Parse(await anonymous.GetStringAsync("/o/other/registry/v0.1/servers"))!["servers"]!.AsArray());
        var accountUrl = await TestServer.AccountUrlAsync(allowed.Client, "other", "team", "registry", otherAdmin);
        var accountPage = JsonNode.Parse(await anonymous.GetStringAsync(accountUrl.TrimEnd('/') + "/v0.1/servers"))!;
        Assert.Equal("local.other/alpha", (string)Assert.Single(accountPage["servers"]!.AsArray())!["server"]!["name"]!);
    }
}
