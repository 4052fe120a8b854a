using System.Net;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests.Models;

public sealed class ModelExportsTests
{
    [Fact]
    public async Task The_claude_code_export_lists_the_available_anthropic_models_exactly_denies_the_others_and_sets_the_default()
    {
        await using var server = await TestServer.StartAsync();
        await ModelTestData.PutPolicyAsync(server, """
            {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-haiku-4-5": true, "auto": true, "claude-opus-4-6": true}, "defaultModel": "auto",
             "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """);
        using var developer = server.Client(await server.AddDemoDeveloperAsync());
        var settings = await ModelTestData.GetJsonAsync(developer, "/api/v1/orgs/demo/exports/claude-models");
        Assert.Equal(["claude-sonnet-4-6", "claude-haiku-4-5"], settings["availableModels"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal("exact", settings["availableModelsMatch"]!.GetValue<string>());
        Assert.True(settings["enforceAvailableModels"]!.GetValue<bool>());
        Assert.Contains("claude-opus-4-6", settings["deniedModels"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.DoesNotContain("deepseek-v3-2", settings["deniedModels"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal("claude-haiku-4-5", settings["model"]!.GetValue<string>());

        var report = await ModelTestData.GetJsonAsync(developer, "/api/v1/orgs/demo/exports/claude-models/report");
        Assert.Contains(report["notes"]!.AsArray(), n => n!.GetValue<string>().Contains("no Auto model", StringComparison.Ordinal));

        var copilot = await ModelTestData.GetJsonAsync(developer, "/api/v1/orgs/demo/exports/copilot-models");
        Assert.Equal("""{"model":"auto"}""", copilot.ToJsonString());

        // The registry exports next to them still answer.
        using var registryExport = await developer.GetAsync("/api/v1/orgs/demo/exports/claude-settings");
        Assert.Equal(HttpStatusCode.OK, registryExport.StatusCode);
    }

    [Fact]
    public async Task The_model_exports_answer_only_members_of_the_organisation()
    {
        await using var server = await TestServer.StartAsync();
        var (otherAdmin, _) = await server.AddOrganisationAsync("other");
        using var anonymous = server.Client();
        using var refused = await anonymous.GetAsync("/api/v1/orgs/demo/exports/claude-models");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var other = server.Client(otherAdmin);
        using var hidden = await other.GetAsync("/api/v1/orgs/demo/exports/copilot-models");
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        using var admin = server.Client(TestServer.AdminToken);
        using var unknownAccount = await admin.GetAsync("/api/v1/orgs/demo/exports/claude-models?account=nobody");
        Assert.Equal(HttpStatusCode.NotFound, unknownAccount.StatusCode);
    }
}
