using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Tests.Models;

public sealed class ModelPostgresTests
{
    [PostgresFact]
    public async Task On_PostgreSQL_the_catalog_policies_groups_upstreams_and_the_endpoint_work_as_on_SQLite()
    {
        await using var database = await TestPostgres.CreateAsync("steward_models_", pooling: false);

        var dataDir = Directory.CreateTempSubdirectory("steward-pg-models-").FullName;
        try
        {
            await using var upstream = await FakeModelUpstream.StartAsync();
            await using var server = await StewardServer.StartAsync(new ServeOptions
            {
                DataDir = dataDir,
                Urls = ["http://127.0.0.1:0"],
                Database = database.ConnectionString,
                BootstrapAdminToken = TestServer.AdminToken,
                Messages = new StringWriter(),
                LogLevel = LogLevel.Warning,
            }, CancellationToken.None);
            using var client = new HttpClient { BaseAddress = server.BaseUrl };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestServer.AdminToken);

            async Task<HttpResponseMessage> Put(string path, string json)
            {
                var response = await client.PutAsync(path, TestServer.Json(json));
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                return response;
            }

            (await Put("/api/v1/orgs/demo/models/policy", """
                {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "auto": true, "claude-haiku-4-5": true}, "defaultModel": "auto",
                 "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
                """)).Dispose();
            (await Put("/api/v1/orgs/demo/models/groups", """{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-haiku-*"]}]}""")).Dispose();
            (await Put("/api/v1/models/upstreams", $$"""{"upstreams": [{"provider": "anthropic", "placement": "EU", "baseUrl": "{{upstream.ApiBase}}", "apiKey": "sk-pg"}]}""")).Dispose();

            var listing = await ModelTestData.GetJsonAsync(client, "/api/v1/models?all=true");
            Assert.Equal("auto", listing["defaultModel"]!.GetValue<string>());
            Assert.Equal(3, listing["models"]!.AsArray().Count(m => m!["available"]!.GetValue<bool>()));

            using var refused = await client.PostAsync("/v1/chat/completions", TestServer.Json("""{"model": "opus-4.5", "messages": []}"""));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            using var allowed = await client.PostAsync("/v1/chat/completions", TestServer.Json("""{"model": "sonnet-4.6", "messages": []}"""));
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
            var received = Assert.Single(upstream.Requests);
            Assert.Equal(("eu.anthropic.claude-sonnet-4-6", "Bearer sk-pg"), (received.Model, received.Authorization));

            using var import = await client.PostAsync("/api/v1/models/catalog", TestServer.Json(
                """{"models": [{"id": "model-a", "displayName": "A", "provider": "anthropic", "inference": {"scope": "regional", "geographies": ["EU"]}}]}"""));
            Assert.Equal(HttpStatusCode.OK, import.StatusCode);
            var after = await ModelTestData.GetJsonAsync(client, "/api/v1/models?all=true");
            var only = Assert.Single(after["models"]!.AsArray())!;
            Assert.Equal(("model-a", "awaiting_approval"), (only["id"]!.GetValue<string>(), only["reason"]!.GetValue<string>()));
            var audit = await ModelTestData.GetJsonAsync(client, "/api/v1/orgs/demo/audit");
            Assert.Contains("model.access-denied", audit.ToJsonString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
