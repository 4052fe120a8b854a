using System.Buffers.Text;
using System.Net;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests.Models;

public sealed class ModelBundleTests
{
    [Fact]
    public async Task The_signed_policy_bundle_carries_the_same_models_as_the_developer_listing_and_changes_with_the_policy()
    {
        await using var server = await TestServer.StartAsync();
        await ModelTestData.PutPolicyAsync(server, """
            {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-haiku-4-5": true, "claude-opus-4-5": true}, "defaultModel": "claude-haiku-4-5",
             "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """);
        using (var admin = server.Client(TestServer.AdminToken))
        {
            using var groups = await admin.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json("""{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-opus-*"]}]}"""));
            Assert.Equal(HttpStatusCode.OK, groups.StatusCode);
        }

        using var client = server.Client(await ModelTestData.AddDeveloperAsync(server, null, "contractors"));
        var listing = await ModelTestData.GetJsonAsync(client, "/api/v1/models");
        var (bundle, etag) = await BundleAsync(client);
        var models = bundle["models"]!.AsArray();
        Assert.Equal(listing["models"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()), models.Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal(["claude-sonnet-4-6", "claude-haiku-4-5"], models.Select(m => m!["id"]!.GetValue<string>()));
        var haiku = models.Single(m => m!["default"]!.GetValue<bool>())!;
        Assert.Equal(("claude-haiku-4-5", "EU", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
            (haiku["id"]!.GetValue<string>(), haiku["placement"]!.GetValue<string>(), haiku["providerModelId"]!.GetValue<string>()));

        await ModelTestData.PutPolicyAsync(server, """{"controlEnabled": true, "states": {"claude-haiku-4-5": true}, "defaultModel": "claude-haiku-4-5"}""");
        var (changed, changedEtag) = await BundleAsync(client);
        Assert.NotEqual(etag, changedEtag);
        Assert.Equal(["claude-haiku-4-5"], changed["models"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
    }

    private static async Task<(JsonObject Payload, string ETag)> BundleAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/api/v1/policy");
        var jws = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, jws);
        var payload = Base64Url.DecodeFromChars(jws.Split('.')[1]);
        return (JsonNode.Parse(payload)!.AsObject(), response.Headers.ETag!.Tag);
    }
}
