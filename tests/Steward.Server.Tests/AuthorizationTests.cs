using System.Net;

namespace Steward.Server.Tests;

/// <summary>Every admin endpoint against anonymous, a bad token, a developer, an admin of another organisation and an admin.</summary>
public sealed class AuthorizationTests(AuthorizationTests.Fixture fixture) : IClassFixture<AuthorizationTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        internal TestServer Server { get; private set; } = null!;
        public string Developer { get; private set; } = "";
        public string OtherAdmin { get; private set; } = "";
        public string OtherDeveloper { get; private set; } = "";

        public async Task InitializeAsync()
        {
            // The matrix presents a bad token to every endpoint from one address, far more than the 30 failed
            // authentications a minute an address is allowed (AuthenticationThrottleTests covers that limit).
            Server = await TestServer.StartAsync(o => o with { FailedAuthenticationsPerMinute = 100_000 });
            Developer = await Server.AddDemoDeveloperAsync();
            (OtherAdmin, OtherDeveloper) = await Server.AddOrganisationAsync("other");
        }

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    private static int _counter;

    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var endpoint in new[] { "publish", "status", "audit", "tool-calls", "edit", "delete", "purge", "undelete", "deprecate", "import", "publish-token", "retention", "set-retention", "registry-sync", "registry-refresh", "sandbox", "set-sandbox", "emergency-stop", "lift-emergency-stop", "set-tool-rules" })
        {
            foreach (var caller in new[] { "anonymous", "bad-token", "developer", "other-admin", "other-developer", "admin" })
            {
                data.Add(endpoint, caller);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task An_admin_endpoint_answers_each_kind_of_caller_as_it_must(string endpoint, string caller)
    {
        var server = fixture.Server;
        var name = $"com.example.authz/server-{Interlocked.Increment(ref _counter)}";
        await server.PublishAsync(name, "1.0.0");
        if (endpoint == "undelete")
        {
            await server.SetStatusAsync(name, "1.0.0", "deleted");
        }

        var version = $"/api/v1/orgs/demo/registry/servers/{Uri.EscapeDataString(name)}/versions/1.0.0";
        var token = caller switch
        {
            "anonymous" => null,
            "bad-token" => "stw_not-a-token-anyone-was-given",
            "developer" => fixture.Developer,
            "other-admin" => fixture.OtherAdmin,
            "other-developer" => fixture.OtherDeveloper,
            _ => TestServer.AdminToken,
        };
        using var client = server.Client(token);
        using var response = endpoint switch
        {
            "publish" => await client.PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(TestServer.ServerJson(name, "2.0.0"))),
            "status" => await client.PatchAsync($"/api/v1/orgs/demo/registry/servers/{Uri.EscapeDataString(name)}/versions/1.0.0/status", TestServer.Json("""{"status":"deprecated"}""")),
            "edit" => await client.PutAsync(version, TestServer.Json(TestServer.ServerJson(name, "1.0.0", "edited"))),
            "delete" => await client.DeleteAsync(version),
            "purge" => await client.DeleteAsync(version + "?purge=true"),
            "undelete" => await client.PostAsync(version + "/undelete", null),
            "deprecate" => await client.PostAsync(version + "/deprecate", null),
            "import" => await client.PostAsync("/api/v1/orgs/demo/registry/import", TestServer.Json("[" + TestServer.ServerJson(name, "2.0.0") + "]")),
            "publish-token" => await client.PostAsync("/api/v1/orgs/demo/registry/publish-tokens", TestServer.Json("""{"name":"ci","namespaces":["com.example.authz/*"]}""")),
            "tool-calls" => await client.GetAsync("/api/v1/orgs/demo/audit/tool-calls"),
            "retention" => await client.GetAsync("/api/v1/orgs/demo/audit/retention"),
            "set-retention" => await client.PutAsync("/api/v1/orgs/demo/audit/retention", TestServer.Json("""{"toolCallDays":120}""")),
            "registry-sync" => await client.GetAsync("/api/v1/orgs/demo/profile/registry-sync"),
            // The demo profile's registry is hosted: an admin's refresh is answered 409 (nothing to fetch).
            "registry-refresh" => await client.PostAsync("/api/v1/orgs/demo/profile/registry-sync", null),
            "sandbox" => await client.GetAsync("/api/v1/orgs/demo/sandbox"),
            "set-sandbox" => await client.PutAsync($"/api/v1/orgs/demo/sandbox/servers/{name}", TestServer.Json("""{"mode":"on"}""")),
            "emergency-stop" => await client.GetAsync("/api/v1/orgs/demo/emergency-stop"),
            "lift-emergency-stop" => await client.DeleteAsync("/api/v1/orgs/demo/emergency-stop"),
            // Tool rules are a field of the profile: its PATCH is their endpoint.
            "set-tool-rules" => await client.PatchAsync("/api/v1/orgs/demo/profile", TestServer.Json("""{"toolRules":[{"pattern":"com.example.authz/*","effect":"ask"}]}""")),
            _ => await client.GetAsync("/api/v1/orgs/demo/audit"),
        };

        var expected = caller switch
        {
            "anonymous" or "bad-token" => HttpStatusCode.Unauthorized,
            "developer" => HttpStatusCode.Forbidden,
            "other-admin" or "other-developer" => HttpStatusCode.NotFound,
            _ => endpoint is "publish" or "publish-token" or "set-sandbox" ? HttpStatusCode.Created : endpoint is "registry-refresh" ? HttpStatusCode.Conflict : HttpStatusCode.OK,
        };
        Assert.True(expected == response.StatusCode, $"{endpoint} as {caller}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (expected == HttpStatusCode.Unauthorized)
        {
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }

        // Whatever was refused changed nothing.
        if (expected != HttpStatusCode.Created && endpoint is "publish" or "import" && caller != "admin")
        {
            using var anonymous = server.Client();
            Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync($"/v0.1/servers/{Uri.EscapeDataString(name)}/versions/2.0.0")).StatusCode);
        }

        // A refused purge removed nothing; an admin's removed the version.
        if (endpoint == "purge")
        {
            using var admin = server.Client(TestServer.AdminToken);
            var after = await admin.GetAsync($"/v0.1/servers/{Uri.EscapeDataString(name)}/versions/1.0.0?include_deleted=true");
            Assert.Equal(caller == "admin" ? HttpStatusCode.NotFound : HttpStatusCode.OK, after.StatusCode);
        }
    }

    public static TheoryData<string, string> ServerMatrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var endpoint in new[] { "create-organisation", "list-organisations", "every-audit", "rotate-key" })
        {
            foreach (var caller in new[] { "anonymous", "bad-token", "developer", "other-admin", "other-developer", "admin" })
            {
                data.Add(endpoint, caller);
            }
        }

        return data;
    }

    /// <summary>The server-wide endpoints: only admins of the first organisation act on the server as a whole; another organisation's admin lists only its own organisation.</summary>
    [Theory]
    [MemberData(nameof(ServerMatrix))]
    public async Task A_server_endpoint_answers_each_kind_of_caller_as_it_must(string endpoint, string caller)
    {
        var token = caller switch
        {
            "anonymous" => null,
            "bad-token" => "stw_not-a-token-anyone-was-given",
            "developer" => fixture.Developer,
            "other-admin" => fixture.OtherAdmin,
            "other-developer" => fixture.OtherDeveloper,
            _ => TestServer.AdminToken,
        };
        var slug = $"made-{Interlocked.Increment(ref _counter)}";
        using var client = fixture.Server.Client(token);
        using var response = endpoint switch
        {
            "create-organisation" => await client.PostAsync("/api/v1/orgs", TestServer.Json($$"""{"slug":"{{slug}}"}""")),
            "list-organisations" => await client.GetAsync("/api/v1/orgs"),
            "every-audit" => await client.GetAsync("/api/v1/audit"),
            _ => await client.PostAsync("/api/v1/admin/keys/rotate", TestServer.Json("{}")),
        };

        var expected = caller switch
        {
            "anonymous" or "bad-token" => HttpStatusCode.Unauthorized,
            "other-admin" when endpoint == "list-organisations" => HttpStatusCode.OK,
            "developer" or "other-admin" or "other-developer" => HttpStatusCode.Forbidden,
            _ => endpoint is "create-organisation" or "rotate-key" ? HttpStatusCode.Created : HttpStatusCode.OK,
        };
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{endpoint} as {caller}: expected {(int)expected}, got {(int)response.StatusCode} {body}");
        if (endpoint == "list-organisations" && caller == "other-admin")
        {
            Assert.Contains("\"other\"", body, StringComparison.Ordinal);
            Assert.DoesNotContain("\"demo\"", body, StringComparison.Ordinal);
        }

        // A refused creation made nothing.
        if (endpoint == "create-organisation" && caller != "admin")
        {
            using var administrator = fixture.Server.Client(TestServer.AdminToken);
            Assert.DoesNotContain($"\"{slug}\"", await administrator.GetStringAsync("/api/v1/orgs"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Another_organisations_admin_sees_its_own_organisation_and_not_the_demo_one()
    {
        var server = fixture.Server;
        await server.PublishAsync("com.example.other/server", "1.0.0", organisation: "other", token: fixture.OtherAdmin);
        using var client = server.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/o/other/registry/v0.1/servers/com.example.other%2Fserver/versions/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/o/demo/registry/v0.1/servers/com.example.other%2Fserver/versions/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v0.1/servers/com.example.other%2Fserver/versions/latest")).StatusCode);

        using var otherAdmin = server.Client(fixture.OtherAdmin);
        var audit = await otherAdmin.GetStringAsync("/api/v1/orgs/other/audit");
        Assert.Contains("com.example.other/server", audit, StringComparison.Ordinal);
        Assert.DoesNotContain("modelcontextprotocol", audit, StringComparison.Ordinal);
    }
}
