using System.Net;
using System.Text.Json.Nodes;
using Steward.Core.Models;

namespace Steward.Server.Tests.Models;

public sealed class ModelsAdminApiTests(ModelsAdminApiTests.Fixture fixture) : IClassFixture<ModelsAdminApiTests.Fixture>
{
    /// <summary>One server for the authorization matrix: a developer, an admin of another organisation, an account with a profile.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        internal TestServer Server { get; private set; } = null!;
        public string Developer { get; private set; } = "";
        public string OtherAdmin { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Server = await TestServer.StartAsync();
            Developer = await Server.AddDemoDeveloperAsync();
            (OtherAdmin, _) = await Server.AddOrganisationAsync("other");
            await ModelTestData.AddAccountProfileAsync(Server, "team");
        }

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    private const string SmallCatalog = """
        {"models": [
          {"id": "auto", "displayName": "Auto", "status": "ga", "resolvesTo": ["model-a"]},
          {"id": "model-a", "displayName": "Model A", "provider": "anthropic", "status": "ga", "inference": {"scope": "regional", "geographies": ["EU"]}, "providerModelIds": {"EU": "eu.model-a"}, "aliases": ["a"]},
          {"id": "model-b", "displayName": "Model B", "provider": "anthropic", "status": "preview", "inference": {"scope": "global"}, "providerModelIds": {"global": "global.model-b"}}
        ]}
        """;

    [Fact]
    public async Task The_first_start_stores_the_shipped_catalog()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        using var response = await client.GetAsync("/api/v1/models/catalog");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("default", response.Headers.GetValues("Steward-Catalog-Source").Single());
        Assert.Equal("1", response.Headers.GetValues("Steward-Catalog-Revision").Single());
        var models = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["models"]!.AsArray();
        Assert.Equal(ModelCatalogReader.Default.Models.Select(m => m.Id), models.Select(m => m!["id"]!.GetValue<string>()));

        await server.RestartAsync();
        using var again = server.Client(TestServer.AdminToken);
        using var after = await again.GetAsync("/api/v1/models/catalog");
        Assert.Equal("1", after.Headers.GetValues("Steward-Catalog-Revision").Single());
    }

    [Fact]
    public async Task An_invalid_catalog_is_refused_with_every_problem_and_its_path_and_the_previous_catalog_stays()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        using var response = await client.PostAsync("/api/v1/models/catalog", TestServer.Json("""
            {"models": [
              {"id": "x", "displayName": "X", "status": "beta", "inference": {"scope": "regional", "geographies": ["EU"]}},
              {"id": "y", "inference": {"scope": "regional", "geographies": ["EU"]}},
              {"id": "auto", "displayName": "Auto", "resolvesTo": ["nowhere"]}
            ]}
            """));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var paths = JsonNode.Parse(text)!["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ToList();
        Assert.Contains("models[0].status", paths);
        Assert.Contains("models[1].displayName", paths);
        Assert.Contains("models[2].resolvesTo", paths);

        using var catalog = await client.GetAsync("/api/v1/models/catalog");
        Assert.Equal("1", catalog.Headers.GetValues("Steward-Catalog-Revision").Single());
        Assert.Empty(await ModelTestData.AuditAsync(server, "model-catalog.import"));
    }

    [Fact]
    public async Task A_valid_catalog_replaces_the_previous_one_whole_and_is_audited()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        using var response = await client.PostAsync("/api/v1/models/catalog", TestServer.Json(SmallCatalog));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["revision"]!.GetValue<long>());

        var developer = await ModelTestData.AddDeveloperAsync(server);
        using var developerClient = server.Client(developer);
        var listing = await ModelTestData.GetJsonAsync(developerClient, "/api/v1/models?all=true");
        Assert.Equal(["auto", "model-a", "model-b"], listing["models"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));

        var audit = Assert.Single(await ModelTestData.AuditAsync(server, "model-catalog.import"));
        Assert.Equal("model-catalog", audit.Object);
        Assert.Contains("claude-sonnet-4-6", audit.Before, StringComparison.Ordinal);
        Assert.Contains("\"model-b\":\"preview\"", audit.After, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_is_stored_with_an_explicit_state_for_every_model_audited_and_raises_the_profile_revision()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        var before = await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/models/policy");
        Assert.False(before["controlEnabled"]!.GetValue<bool>());

        var saved = await ModelTestData.PutPolicyAsync(server, """
            {"controlEnabled": true, "states": {"sonnet-4.6": true, "claude-haiku-4-5": true, "auto": true}, "defaultModel": "sonnet-4.6",
             "newModels": "autoEnableGaRegional", "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """);
        Assert.Equal("claude-sonnet-4-6", saved["defaultModel"]!.GetValue<string>());
        var states = saved["states"]!.AsObject();
        Assert.Equal(ModelCatalogReader.Default.Models.Count, states.Count);
        Assert.True(states["claude-sonnet-4-6"]!.GetValue<bool>());
        Assert.False(states["claude-opus-4-6"]!.GetValue<bool>());
        Assert.Equal(before["revision"]!.GetValue<long>() + 1, saved["revision"]!.GetValue<long>());

        var profile = await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/profile");
        Assert.True(profile["modelControlEnabled"]!.GetValue<bool>());
        Assert.Equal(saved["revision"]!.GetValue<long>(), profile["revision"]!.GetValue<long>());

        var audit = Assert.Single(await ModelTestData.AuditAsync(server, "profile.models.update"));
        Assert.Equal("profile:organisation", audit.Object);
        Assert.Contains("\"controlEnabled\":false", audit.Before, StringComparison.Ordinal);
        Assert.Contains("\"controlEnabled\":true", audit.After, StringComparison.Ordinal);
        Assert.Equal(saved["revision"]!.GetValue<long>(), audit.Revision);

        // The same policy again changes nothing.
        var again = await ModelTestData.PutPolicyAsync(server, saved.ToJsonString().Replace("\"scope\":\"organisation\",", "", StringComparison.Ordinal)
            .Replace("\"organisation\":\"demo\",\"account\":null,", "", StringComparison.Ordinal).Replace($",\"revision\":{saved["revision"]}", "", StringComparison.Ordinal));
        Assert.Equal(saved["revision"]!.GetValue<long>(), again["revision"]!.GetValue<long>());
        Assert.Single(await ModelTestData.AuditAsync(server, "profile.models.update"));
    }

    [Fact]
    public async Task A_default_that_is_not_enabled_is_refused_naming_defaultModel_along_with_every_other_problem()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        using var disabledDefault = await client.PutAsync("/api/v1/orgs/demo/models/policy", TestServer.Json(
            """{"controlEnabled": true, "states": {"claude-sonnet-4-6": true}, "defaultModel": "claude-opus-4-5"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, disabledDefault.StatusCode);
        var problem = JsonNode.Parse(await disabledDefault.Content.ReadAsStringAsync())!;
        var error = Assert.Single(problem["errors"]!.AsArray());
        Assert.Equal("body.defaultModel", error!["location"]!.GetValue<string>());
        Assert.Contains("disabled_by_policy", error["message"]!.GetValue<string>(), StringComparison.Ordinal);

        using var outsideRegion = await client.PutAsync("/api/v1/orgs/demo/models/policy", TestServer.Json(
            """{"controlEnabled": false, "defaultModel": "claude-opus-4-6", "residency": {"scopes": ["regional"], "geographies": ["EU"]}}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, outsideRegion.StatusCode);
        Assert.Contains("not_in_region", await outsideRegion.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var many = await client.PutAsync("/api/v1/orgs/demo/models/policy", TestServer.Json(
            """{"controlEnabled": true, "states": {"gpt-9": true, "auto": "yes"}, "newModels": "sometimes", "residency": {"scopes": ["regional", "lunar"]}}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, many.StatusCode);
        var locations = JsonNode.Parse(await many.Content.ReadAsStringAsync())!["errors"]!.AsArray().Select(e => e!["location"]!.GetValue<string>()).ToList();
        Assert.Equal(["body.states.gpt-9", "body.states.auto", "body.newModels", "body.residency.scopes[1]", "body.residency.geographies"], locations);

        Assert.Empty(await ModelTestData.AuditAsync(server, "profile.models.update"));
        Assert.False((await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/models/policy"))["controlEnabled"]!.GetValue<bool>());
    }

    [Fact]
    public async Task An_account_policy_needs_the_account_profile_and_then_supersedes_the_organisation_policy()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        var developer = await ModelTestData.AddDeveloperAsync(server, "eu-team");
        using var none = await client.PutAsync("/api/v1/orgs/demo/accounts/eu-team/models/policy", TestServer.Json("""{"controlEnabled": true}"""));
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        Assert.Contains("PUT /api/v1/orgs/demo/accounts/eu-team/profile", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var unknown = await client.GetAsync("/api/v1/orgs/demo/accounts/nobody/models/policy");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        await ModelTestData.PutPolicyAsync(server, """{"controlEnabled": true, "states": {"claude-opus-4-5": true}, "defaultModel": "claude-opus-4-5"}""");
        await ModelTestData.AddAccountProfileAsync(server, "eu-team");
        await ModelTestData.PutPolicyAsync(server, """{"controlEnabled": true, "states": {"claude-haiku-4-5": true}, "defaultModel": "claude-haiku-4-5", "residency": {"scopes": ["regional"], "geographies": ["EU"]}}""",
            "/api/v1/orgs/demo/accounts/eu-team/models/policy");

        using var developerClient = server.Client(developer);
        var listing = await ModelTestData.GetJsonAsync(developerClient, "/api/v1/models");
        var model = Assert.Single(listing["models"]!.AsArray());
        Assert.Equal("claude-haiku-4-5", model!["id"]!.GetValue<string>());
        Assert.Equal("EU", model["placement"]!.GetValue<string>());
        Assert.Equal("eu.anthropic.claude-haiku-4-5-20251001-v1:0", model["providerModelId"]!.GetValue<string>());
        Assert.True(model["default"]!.GetValue<bool>());

        var audit = await ModelTestData.AuditAsync(server, "profile.models.update");
        Assert.Equal(["profile:organisation", "profile:account/eu-team"], audit.Select(a => a.Object));
    }

    [Fact]
    public async Task Group_rules_are_validated_against_the_catalog_audited_and_narrow_what_members_may_use()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        using var invalid = await client.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json(
            """{"rules": [{"group": "contractors", "effect": "deny", "models": ["gpt-*"]}, {"group": "", "effect": "block", "models": "all"}]}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        var locations = JsonNode.Parse(await invalid.Content.ReadAsStringAsync())!["errors"]!.AsArray().Select(e => e!["location"]!.GetValue<string>()).ToList();
        Assert.Equal(["body.rules[0].models[0]", "body.rules[1].group", "body.rules[1].effect", "body.rules[1].models"], locations);

        var revision = (await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/profile"))["revision"]!.GetValue<long>();
        using var saved = await client.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json(
            """{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-opus-*"]}, {"group": "interns", "effect": "allowOnly", "models": ["haiku-4.5"]}]}"""));
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        Assert.Equal(revision + 1, (await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/profile"))["revision"]!.GetValue<long>());
        var rules = await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/models/groups");
        Assert.Equal(2, rules["rules"]!.AsArray().Count);
        var audit = Assert.Single(await ModelTestData.AuditAsync(server, "profile.model-groups.update"));
        Assert.Equal("""{"rules":[]}""", audit.Before);

        using var contractor = server.Client(await ModelTestData.AddDeveloperAsync(server, null, "contractors"));
        var listing = await ModelTestData.GetJsonAsync(contractor, "/api/v1/models?all=true");
        var opus = listing["models"]!.AsArray().Single(m => m!["id"]!.GetValue<string>() == "claude-opus-4-5")!;
        Assert.Equal("denied_for_group", opus["reason"]!.GetValue<string>());
        Assert.Equal(["contractors"], listing["groups"]!.AsArray().Select(g => g!.GetValue<string>()));

        using var intern = server.Client(await ModelTestData.AddDeveloperAsync(server, null, "interns", "contractors"));
        var internListing = await ModelTestData.GetJsonAsync(intern, "/api/v1/models");
        Assert.Equal(["claude-haiku-4-5"], internListing["models"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task An_admin_sets_a_tokens_groups_which_then_decide_the_group_rules_that_apply()
    {
        await using var server = await TestServer.StartAsync();
        var (otherAdmin, _) = await server.AddOrganisationAsync("other");
        var developer = await ModelTestData.AddDeveloperAsync(server);
        string tokenId;
        await using (var connection = await server.Server.Database.OpenAsync(CancellationToken.None))
        {
            tokenId = (string)(await Storage.Sql.ScalarAsync(connection, "SELECT id FROM api_tokens WHERE token_hash = @hash", null, CancellationToken.None, ("hash", Identity.Tokens.Hash(developer))))!;
        }

        using var admin = server.Client(TestServer.AdminToken);
        using (var rules = await admin.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json("""{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-opus-*"]}]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, rules.StatusCode);
        }

        using var put = await admin.PutAsync($"/api/v1/orgs/demo/models/token-groups/{tokenId}", TestServer.Json("""{"groups": ["contractors", "Contractors", "eu"]}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(["contractors", "eu"], JsonNode.Parse(await put.Content.ReadAsStringAsync())!["groups"]!.AsArray().Select(g => g!.GetValue<string>()));

        using var developerClient = server.Client(developer);
        var listing = await ModelTestData.GetJsonAsync(developerClient, "/api/v1/models?all=true");
        Assert.Equal("denied_for_group", listing["models"]!.AsArray().Single(m => m!["id"]!.GetValue<string>() == "claude-opus-4-5")!["reason"]!.GetValue<string>());
        var audit = Assert.Single(await ModelTestData.AuditAsync(server, "token.groups.update"));
        Assert.Equal("token:" + tokenId, audit.Object);

        using var other = server.Client(otherAdmin);
        using var hidden = await other.PutAsync($"/api/v1/orgs/other/models/token-groups/{tokenId}", TestServer.Json("""{"groups": []}"""));
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        using var forbidden = await developerClient.PutAsync($"/api/v1/orgs/demo/models/token-groups/{tokenId}", TestServer.Json("""{"groups": []}"""));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var invalid = await admin.PutAsync($"/api/v1/orgs/demo/models/token-groups/{tokenId}", TestServer.Json("""{"groups": [""]}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
    }

    [Theory]
    [InlineData("/api/v1/orgs/demo/models/policy", """{"controlEnabled": "yes", "defaultModel": 5, "colour": 1}""", "colour,controlEnabled,defaultModel")]
    [InlineData("/api/v1/orgs/demo/models/policy", """{"controlEnabled": null, "newModels": "sometimes", "states": {"gpt-9": true}}""", "controlEnabled")]
    [InlineData("/api/v1/orgs/demo/models/groups", """{"rules": [{"group": "", "effect": "block", "models": ["gpt-*"]}], "extra": true}""", "extra,rules[0].group,rules[0].effect,rules[0].models[0]")]
    [InlineData("/api/v1/orgs/demo/models/token-groups/tok_unknown", """{"groups": ["eu", 5], "colour": 1}""", "colour,groups[1]")]
    [InlineData("/api/v1/orgs/demo/models/token-groups/tok_unknown", """{"groups": [""], "colour": 1}""", "colour,groups")]
    [InlineData("/api/v1/models/upstreams", """{"upstreams": [{"provider": "", "placement": "EU", "baseUrl": "ftp://x", "apiKey": "sk-secret\u0001", "colour": 1}], "extra": 1}""",
        "extra,upstreams[0].colour,upstreams[0].provider,upstreams[0].baseUrl,upstreams[0].apiKey")]
    public async Task A_models_body_with_several_problems_is_one_422_naming_every_one_at_its_path(string path, string json, string paths)
    {
        using var admin = fixture.Server.Client(TestServer.AdminToken);
        using var response = await admin.PutAsync(path, TestServer.Json(json));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var problem = JsonNode.Parse(text)!;
        var errors = problem["errors"]!.AsArray();
        Assert.Equal(paths, string.Join(',', errors.Select(e => e!["path"]!.GetValue<string>())));
        Assert.Equal(paths.Split(',').Select(p => "body." + p), errors.Select(e => e!["location"]!.GetValue<string>()));
        var detail = problem["detail"]!.GetValue<string>();
        foreach (var error in errors)
        {
            Assert.Contains($"{error!["path"]}: {error["message"]}", detail, StringComparison.Ordinal);
        }

        // An API key is a secret: no problem repeats it.
        Assert.DoesNotContain("sk-secret", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_admin_view_shows_every_model_with_status_scope_state_and_reason()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(TestServer.AdminToken);
        await ModelTestData.PutPolicyAsync(server, """{"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-opus-4-6": true}, "residency": {"scopes": ["regional"], "geographies": ["EU", "US"]}}""");
        var view = await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/models");
        var models = view["models"]!.AsArray().ToDictionary(m => m!["id"]!.GetValue<string>(), m => m!.AsObject());
        Assert.Equal(ModelCatalogReader.Default.Models.Count, models.Count);
        Assert.Equal(("enabled", true, "EU"), (models["claude-sonnet-4-6"]["state"]!.GetValue<string>(), models["claude-sonnet-4-6"]["available"]!.GetValue<bool>(), models["claude-sonnet-4-6"]["placement"]!.GetValue<string>()));
        Assert.Equal(("enabled", "not_in_region", "global", "experimental"), (models["claude-opus-4-6"]["state"]!.GetValue<string>(), models["claude-opus-4-6"]["reason"]!.GetValue<string>(),
            models["claude-opus-4-6"]["scope"]!.GetValue<string>(), models["claude-opus-4-6"]["status"]!.GetValue<string>()));
        Assert.Equal(("disabled", "disabled_by_policy"), (models["claude-haiku-4-5"]["state"]!.GetValue<string>(), models["claude-haiku-4-5"]["reason"]!.GetValue<string>()));
        Assert.Equal("claude-sonnet-4-6", view["defaultModel"]!.GetValue<string>());
    }

    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var endpoint in new[] { "view", "get-policy", "put-policy", "get-account-policy", "get-groups", "put-groups", "import-catalog", "get-upstreams", "put-upstreams" })
        {
            foreach (var caller in new[] { "anonymous", "bad-token", "developer", "other-admin", "admin" })
            {
                data.Add(endpoint, caller);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Each_model_admin_endpoint_answers_each_kind_of_caller_as_it_must(string endpoint, string caller)
    {
        var server = fixture.Server;
        var developer = fixture.Developer;
        var otherAdmin = fixture.OtherAdmin;
        var audited = await AuditCountAsync(server);
        var token = caller switch
        {
            "anonymous" => null,
            "bad-token" => "stw_not-a-token-anyone-was-given",
            "developer" => developer,
            "other-admin" => otherAdmin,
            _ => TestServer.AdminToken,
        };
        using var client = server.Client(token);
        using var response = endpoint switch
        {
            "view" => await client.GetAsync("/api/v1/orgs/demo/models"),
            "get-policy" => await client.GetAsync("/api/v1/orgs/demo/models/policy"),
            "put-policy" => await client.PutAsync("/api/v1/orgs/demo/models/policy", TestServer.Json("""{"controlEnabled": true, "states": {"auto": true}}""")),
            "get-account-policy" => await client.GetAsync("/api/v1/orgs/demo/accounts/team/models/policy"),
            "get-groups" => await client.GetAsync("/api/v1/orgs/demo/models/groups"),
            "put-groups" => await client.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json("""{"rules": [{"group": "g", "effect": "deny", "models": ["auto"]}]}""")),
            "import-catalog" => await client.PostAsync("/api/v1/models/catalog", TestServer.Json(SmallCatalog)),
            "get-upstreams" => await client.GetAsync("/api/v1/models/upstreams"),
            _ => await client.PutAsync("/api/v1/models/upstreams", TestServer.Json("""{"upstreams": [{"provider": "anthropic", "placement": "EU", "baseUrl": "https://bedrock.example/v1", "apiKey": "k"}]}""")),
        };

        var installationWide = endpoint is "import-catalog" or "get-upstreams" or "put-upstreams";
        var expected = caller switch
        {
            "anonymous" or "bad-token" => HttpStatusCode.Unauthorized,
            "developer" => HttpStatusCode.Forbidden,
            "other-admin" => installationWide ? HttpStatusCode.Forbidden : HttpStatusCode.NotFound,
            _ => HttpStatusCode.OK,
        };
        Assert.True(expected == response.StatusCode, $"{endpoint} as {caller}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");

        // Whatever was refused changed nothing: no audit row.
        if (expected != HttpStatusCode.OK)
        {
            Assert.Equal(audited, await AuditCountAsync(server));
        }
    }

    private static async Task<int> AuditCountAsync(TestServer server)
    {
        var count = 0;
        foreach (var action in new[] { "profile.models.update", "profile.model-groups.update", "model-catalog.import", "model-upstreams.update" })
        {
            count += (await ModelTestData.AuditAsync(server, action)).Count;
        }

        return count;
    }
}
