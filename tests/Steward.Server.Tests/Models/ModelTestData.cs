using System.Net;
using System.Text.Json.Nodes;
using Steward.Server.Identity;
using Steward.Server.Storage;

namespace Steward.Server.Tests.Models;

/// <summary>Developers with accounts and groups, model policies and audit reads, for the model tests.</summary>
internal static class ModelTestData
{
    /// <summary>A developer token of the demo organisation, of <paramref name="accountSlug"/> when given, member of <paramref name="groups"/>.</summary>
    public static async Task<string> AddDeveloperAsync(TestServer server, string? accountSlug = null, params string[] groups)
    {
        var database = server.Server.Database;
        var demo = await Organisations.Organisation.FindAsync(database, "demo", CancellationToken.None);
        await using var connection = await database.OpenAsync(CancellationToken.None);
        string? accountId = null;
        if (accountSlug is not null)
        {
            accountId = (string?)await connection.ScalarAsync("SELECT id FROM accounts WHERE organisation_id = @org AND slug = @slug", null, CancellationToken.None,
                ("org", demo!.Id), ("slug", accountSlug));
            if (accountId is null)
            {
                accountId = Tokens.NewId("acc");
                await connection.ExecuteAsync("INSERT INTO accounts (id, organisation_id, slug, name, created_at) VALUES (@id, @org, @slug, @slug, @at)", null, CancellationToken.None,
                    ("id", accountId), ("org", demo.Id), ("slug", accountSlug), ("at", Timestamps.ToText(DateTimeOffset.UtcNow)));
            }
        }

        await using var transaction = await Database.BeginWriteAsync(connection, CancellationToken.None);
        var token = Tokens.Generate();
        var id = await Authentication.CreateTokenAsync(connection, transaction, demo!.Id, accountId, Roles.Developer, "developer", token, DateTimeOffset.UtcNow, null, CancellationToken.None);
        foreach (var group in groups)
        {
            await connection.ExecuteAsync("INSERT INTO api_token_groups (token_id, group_name) VALUES (@id, @group)", transaction, CancellationToken.None, ("id", id), ("group", group));
        }

        await transaction.CommitAsync();
        return token;
    }

    /// <summary>Gives an account a profile of its own (through the profiles API).</summary>
    public static async Task AddAccountProfileAsync(TestServer server, string accountSlug)
    {
        using var admin = server.Client(TestServer.AdminToken);
        using var created = await admin.PostAsync("/api/v1/orgs/demo/accounts", TestServer.Json($$"""{"slug":"{{accountSlug}}"}"""));
        Assert.True(created.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, await created.Content.ReadAsStringAsync());
        using var profile = await admin.PutAsync($"/api/v1/orgs/demo/accounts/{accountSlug}/profile", TestServer.Json("{}"));
        Assert.True(profile.IsSuccessStatusCode, await profile.Content.ReadAsStringAsync());
    }

    public static async Task<JsonObject> PutPolicyAsync(TestServer server, string json, string path = "/api/v1/orgs/demo/models/policy")
    {
        using var admin = server.Client(TestServer.AdminToken);
        using var response = await admin.PutAsync(path, TestServer.Json(json));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task PutUpstreamsAsync(TestServer server, string json)
    {
        using var admin = server.Client(TestServer.AdminToken);
        using var response = await admin.PutAsync("/api/v1/models/upstreams", TestServer.Json(json));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT upstreams: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The audit rows of the demo organisation with <paramref name="action"/>, oldest first.</summary>
    public static async Task<List<(string Actor, string Object, string? Before, string? After, long? Revision)>> AuditAsync(TestServer server, string action)
    {
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        return await connection.QueryAsync(
            "SELECT a.actor, a.object, a.before_json, a.after_json, a.revision FROM audit a JOIN organisations o ON o.id = a.organisation_id WHERE o.slug = 'demo' AND a.action = @action ORDER BY a.id",
            null, r => (r.GetString(0), r.GetString(1), r.NullableString(2), r.NullableString(3), r.NullableInt64(4)), CancellationToken.None, ("action", action));
    }

    public static async Task<JsonObject> GetJsonAsync(HttpClient client, string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"GET {path}: expected {(int)expected}, got {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }
}
