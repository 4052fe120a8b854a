using System.Net;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests.Models;

public sealed class DeveloperModelsApiTests
{
    [Fact]
    public async Task The_listing_holds_the_available_models_with_the_default_marked_and_with_all_the_others_with_their_reasons()
    {
        await using var server = await TestServer.StartAsync();
        await ModelTestData.PutPolicyAsync(server, """
            {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-haiku-4-5": true, "claude-opus-4-6": true}, "defaultModel": "claude-haiku-4-5",
             "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """);
        using var client = server.Client(await ModelTestData.AddDeveloperAsync(server));
        var listing = await ModelTestData.GetJsonAsync(client, "/api/v1/models");
        Assert.Equal("claude-haiku-4-5", listing["defaultModel"]!.GetValue<string>());
        Assert.Null(listing["defaultFallback"]);
        var models = listing["models"]!.AsArray();
        Assert.Equal(["claude-sonnet-4-6", "claude-haiku-4-5"], models.Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal([false, true], models.Select(m => m!["default"]!.GetValue<bool>()));

        var all = await ModelTestData.GetJsonAsync(client, "/api/v1/models?all=true");
        var reasons = all["models"]!.AsArray().ToDictionary(m => m!["id"]!.GetValue<string>(), m => m!["reason"]?.GetValue<string>());
        Assert.Equal("not_in_region", reasons["claude-opus-4-6"]);
        Assert.Equal("disabled_by_policy", reasons["claude-opus-4-5"]);
        Assert.Null(reasons["claude-sonnet-4-6"]);

        using var invalid = await client.GetAsync("/api/v1/models?all=yes");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        using var anonymous = server.Client();
        using var refused = await anonymous.GetAsync("/api/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task When_the_default_becomes_unavailable_the_fallback_is_deterministic_and_the_client_is_told()
    {
        await using var server = await TestServer.StartAsync();
        await ModelTestData.PutPolicyAsync(server, """{"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-opus-4-5": true}, "defaultModel": "claude-opus-4-5"}""");
        using (var admin = server.Client(TestServer.AdminToken))
        {
            using var groups = await admin.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json("""{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-opus-*"]}]}"""));
            Assert.Equal(HttpStatusCode.OK, groups.StatusCode);
        }

        using var client = server.Client(await ModelTestData.AddDeveloperAsync(server, null, "contractors"));
        var listing = await ModelTestData.GetJsonAsync(client, "/api/v1/models");
        Assert.Equal("claude-sonnet-4-6", listing["defaultModel"]!.GetValue<string>());
        var fallback = listing["defaultFallback"]!;
        Assert.Equal(("claude-opus-4-5", "claude-sonnet-4-6", "denied_for_group"), (fallback["requested"]!.GetValue<string>(), fallback["actual"]!.GetValue<string>(), fallback["reason"]!.GetValue<string>()));
        Assert.Contains("is used instead", fallback["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task What_the_listing_endpoint_writes_is_exactly_what_the_client_reads()
    {
        await using var server = await TestServer.StartAsync();
        await ModelTestData.PutPolicyAsync(server, """{"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-opus-4-5": true}, "defaultModel": "claude-opus-4-5"}""");
        using (var admin = server.Client(TestServer.AdminToken))
        {
            using var groups = await admin.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json("""{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-opus-*"]}]}"""));
            Assert.Equal(HttpStatusCode.OK, groups.StatusCode);
        }

        using var client = server.Client(await ModelTestData.AddDeveloperAsync(server, null, "contractors"));
        foreach (var path in new[] { "/api/v1/models", "/api/v1/models?all=true" })
        {
            var body = await client.GetStringAsync(path);
            using var document = System.Text.Json.JsonDocument.Parse(body);
            // steward models list reads the body with Core's reader; written again it is the same JSON, so nothing the
            // server said is lost or misread on the way.
            var listing = Steward.Core.Models.ModelListingWire.Read(document.RootElement);
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
            {
                Steward.Core.Models.ModelListingWire.Write(writer, listing);
            }

            var again = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(body), JsonNode.Parse(again)), $"the server wrote\n{body}\nthe client read\n{again}");
            Assert.NotEmpty(listing.Models);
            Assert.NotNull(listing.DefaultFallback);
        }
    }

    [Fact]
    public async Task Explain_names_the_rule_that_decided_with_its_facts()
    {
        await using var server = await TestServer.StartAsync();
        await ModelTestData.PutPolicyAsync(server, """
            {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-opus-4-5": true, "claude-opus-4-6": true, "auto": true}, "defaultModel": "claude-sonnet-4-6",
             "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """);
        using (var admin = server.Client(TestServer.AdminToken))
        {
            using var groups = await admin.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json("""{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-opus-*"]}]}"""));
            Assert.Equal(HttpStatusCode.OK, groups.StatusCode);
        }

        using var client = server.Client(await ModelTestData.AddDeveloperAsync(server, null, "contractors"));
        var allowed = await ModelTestData.GetJsonAsync(client, "/api/v1/models/explain?model=sonnet-4.6");
        Assert.Equal((true, "allowed", "alias", "EU", "eu.anthropic.claude-sonnet-4-6"),
            (allowed["allowed"]!.GetValue<bool>(), allowed["rule"]!.GetValue<string>(), allowed["resolvedBy"]!.GetValue<string>(), allowed["placement"]!.GetValue<string>(), allowed["providerModelId"]!.GetValue<string>()));

        var region = await ModelTestData.GetJsonAsync(client, "/api/v1/models/explain?model=us.anthropic.claude-sonnet-4-6");
        Assert.Equal(("not_in_region", "provider-id", "US"), (region["rule"]!.GetValue<string>(), region["resolvedBy"]!.GetValue<string>(), region["requestedPlacement"]!.GetValue<string>()));
        Assert.Equal(["EU"], region["allowedGeographies"]!.AsArray().Select(g => g!.GetValue<string>()));
        Assert.Equal(["regional"], region["allowedScopes"]!.AsArray().Select(g => g!.GetValue<string>()));

        var group = await ModelTestData.GetJsonAsync(client, "/api/v1/models/explain?model=claude-opus-4-5");
        Assert.Equal(("denied_for_group", "contractors", "deny"), (group["rule"]!.GetValue<string>(), group["group"]!.GetValue<string>(), group["groupEffect"]!.GetValue<string>()));

        var disabled = await ModelTestData.GetJsonAsync(client, "/api/v1/models/explain?model=claude-haiku-4-5");
        Assert.Equal("disabled_by_policy", disabled["rule"]!.GetValue<string>());
        var unknown = await ModelTestData.GetJsonAsync(client, "/api/v1/models/explain?model=gpt-4o");
        Assert.Equal(("not_in_catalog", false), (unknown["rule"]!.GetValue<string>(), unknown.ContainsKey("modelId")));
        var auto = await ModelTestData.GetJsonAsync(client, "/api/v1/models/explain?model=auto");
        Assert.Equal(("no_available_target", 3), (auto["rule"]!.GetValue<string>(), auto["candidates"]!.AsArray().Count));
    }
}
