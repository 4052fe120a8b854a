using System.Data.Common;
using System.Net;
using System.Text.Json.Nodes;
using Steward.Server.Audit;
using Steward.Server.Storage;
using Steward.Server.Tests.Governance;
using Steward.Server.Tests.Models;

namespace Steward.Server.Tests.Audit;

/// <summary>
/// Tool-call events are kept for the organisation's retention (<c>PUT …/audit/retention</c>) and pruned after it; the
/// prune is audited, the admin audit stays verifiable, and the database still refuses any other delete or update.
/// The same assertions on SQLite and on PostgreSQL, on a manual clock.
/// </summary>
public sealed class ToolCallRetentionTests
{
    private const string RetentionPath = "/api/v1/orgs/demo/audit/retention";

    private static readonly DateTimeOffset Start = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);

    private static string Event(string id, DateTimeOffset at) =>
        $$"""[{"id":"{{id}}","time":"{{Timestamps.ToText(at)}}","server":"everything","tool":"echo","decision":"allow","because":"no rule","durationMs":1,"outcome":"ok"}]""";

    private static async Task PostEventAsync(HttpClient gateway, string id, ManualTime time)
    {
        using var response = await gateway.PostAsync("/api/v1/audit/tool-calls", TestServer.Json(Event(id, time.GetUtcNow())));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"post {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task<List<string>> EventIdsAsync(HttpClient admin, string organisation = "demo") =>
        [.. JsonNode.Parse(await admin.GetStringAsync($"/api/v1/orgs/{organisation}/audit/tool-calls"))!["toolCalls"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal)];

    private static async Task ExpectRefusedAsync(HttpClient admin, string body, string because)
    {
        using var response = await admin.PutAsync(RetentionPath, TestServer.Json(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{body}: expected 422, got {(int)response.StatusCode} {text}");
        Assert.Contains(because, text, StringComparison.Ordinal);
    }

    private static async Task RunAsync(TestServer server, ManualTime time)
    {
        using var admin = server.Client(TestServer.AdminToken);
        using var gateway = server.Client(await ModelTestData.AddDeveloperAsync(server));
        var (otherAdminToken, otherDeveloperToken) = await server.AddOrganisationAsync("other");
        using var otherAdmin = server.Client(otherAdminToken);
        using var otherGateway = server.Client(otherDeveloperToken);

        // The default, and bad values refused naming the field; the setting is unchanged after them.
        var initial = JsonNode.Parse(await admin.GetStringAsync(RetentionPath))!;
        Assert.Equal((90, 90), (initial["toolCallDays"]!.GetValue<int>(), initial["defaultToolCallDays"]!.GetValue<int>()));
        Assert.Null(initial["prunedBefore"]);
        await ExpectRefusedAsync(admin, """{"toolCallDays":0}""", "toolCallDays: expected a whole number of days from 1 to 3650");
        await ExpectRefusedAsync(admin, """{"toolCallDays":3651}""", "toolCallDays: expected a whole number of days from 1 to 3650");
        await ExpectRefusedAsync(admin, """{"toolCallDays":"30"}""", "toolCallDays: expected a whole number");
        await ExpectRefusedAsync(admin, """{"toolCallDays":1.5}""", "toolCallDays: expected a whole number");
        await ExpectRefusedAsync(admin, "{}", "toolCallDays: expected a whole number");
        await ExpectRefusedAsync(admin, """{"days":30}""", "days: unknown field");
        Assert.Equal(90, JsonNode.Parse(await admin.GetStringAsync(RetentionPath))!["toolCallDays"]!.GetValue<int>());
        Assert.Empty(await AuditAsync(server, "audit.retention.update"));

        using (var set = await admin.PutAsync(RetentionPath, TestServer.Json("""{"toolCallDays":30}""")))
        {
            Assert.True(set.StatusCode == HttpStatusCode.OK, await set.Content.ReadAsStringAsync());
        }

        Assert.Equal(30, JsonNode.Parse(await admin.GetStringAsync(RetentionPath))!["toolCallDays"]!.GetValue<int>());
        var change = Assert.Single(await AuditAsync(server, "audit.retention.update"));
        Assert.Equal(("""{"toolCallDays":90}""", """{"toolCallDays":30}"""), (change.Before, change.After));

        // Events received at day 0, 20 and 31; the other organisation keeps its default of 90 days.
        await PostEventAsync(gateway, "old-1", time);
        await PostEventAsync(gateway, "old-2", time);
        await PostEventAsync(otherGateway, "other-old", time);
        time.Advance(TimeSpan.FromDays(20));
        await PostEventAsync(gateway, "mid", time);
        time.Advance(TimeSpan.FromDays(11));
        await PostEventAsync(gateway, "new", time);

        // Before any prune, no event may be deleted or changed.
        await ExpectDatabaseRefusesAsync(server, "DELETE FROM tool_call_events WHERE event_id = 'old-1'");

        var pruned = Assert.Single(await ToolCallRetention.PruneAsync(server.Server.Database, time, CancellationToken.None));
        var cutoff = Timestamps.ToText(Timestamps.Now(time) - TimeSpan.FromDays(30));
        Assert.Equal((2L, cutoff), (pruned.Count, pruned.Cutoff));
        Assert.Equal(["mid", "new"], await EventIdsAsync(admin));
        Assert.Equal(["other-old"], await EventIdsAsync(otherAdmin, "other"));
        Assert.Equal(cutoff, JsonNode.Parse(await admin.GetStringAsync(RetentionPath))!["prunedBefore"]!.GetValue<string>());

        var row = Assert.Single(await AuditAsync(server, "tool-calls.pruned"));
        Assert.Equal(("system:retention", "audit:tool-calls"), (row.Actor, row.Object));
        var detail = JsonNode.Parse(row.After!)!;
        Assert.Equal((2L, cutoff, 30), (detail["count"]!.GetValue<long>(), detail["cutoff"]!.GetValue<string>(), detail["retentionDays"]!.GetValue<int>()));

        // The admin audit (never pruned) still verifies, the prune's row included.
        var verify = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit/verify"))!;
        Assert.True(verify["intact"]!.GetValue<bool>(), verify.ToJsonString());

        // Kept events still cannot be deleted or changed directly.
        await ExpectDatabaseRefusesAsync(server, "DELETE FROM tool_call_events WHERE event_id = 'mid'");
        await ExpectDatabaseRefusesAsync(server, "DELETE FROM tool_call_events");
        await ExpectDatabaseRefusesAsync(server, "UPDATE tool_call_events SET outcome = 'error' WHERE event_id = 'new'");
        if (server.Server.Database.Dialect == Dialect.Postgres)
        {
            await ExpectDatabaseRefusesAsync(server, "TRUNCATE tool_call_events");
            await ExpectDatabaseRefusesAsync(server, "TRUNCATE audit CASCADE");
        }

        Assert.Equal(["mid", "new"], await EventIdsAsync(admin));

        // Nothing more to prune: nothing written.
        Assert.Empty(await ToolCallRetention.PruneAsync(server.Server.Database, time, CancellationToken.None));
        Assert.Single(await AuditAsync(server, "tool-calls.pruned"));
    }

    private static async Task ExpectDatabaseRefusesAsync(TestServer server, string sql)
    {
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        var refused = await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync(sql, null, CancellationToken.None));
        Assert.Contains("append-only", refused.Message, StringComparison.Ordinal);
    }

    private static Task<List<(string Actor, string Object, string? Before, string? After, long? Revision)>> AuditAsync(TestServer server, string action) =>
        ModelTestData.AuditAsync(server, action);

    [Fact]
    public async Task Events_past_the_retention_are_pruned_with_an_audit_row_and_others_cannot_be_deleted()
    {
        var time = new ManualTime(Start);
        await using var server = await TestServer.StartAsync(o => o with { TimeProvider = time });
        await RunAsync(server, time);
    }

    [Fact]
    public async Task A_body_with_several_problems_is_refused_with_every_one_at_its_path_and_changes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var response = await admin.PutAsync(RetentionPath, TestServer.Json("""{"days":30,"toolCallDays":0,"keep":"all"}"""));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(["days", "keep", "toolCallDays"], problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("days: unknown field; expected one of toolCallDays", detail, StringComparison.Ordinal);
        Assert.Contains("toolCallDays: expected a whole number of days from 1 to 3650", detail, StringComparison.Ordinal);
        Assert.Equal(90, JsonNode.Parse(await admin.GetStringAsync(RetentionPath))!["toolCallDays"]!.GetValue<int>());
        Assert.Empty(await AuditAsync(server, "audit.retention.update"));
    }

    [PostgresFact]
    public async Task Events_past_the_retention_are_pruned_with_an_audit_row_and_others_cannot_be_deleted_on_PostgreSQL()
    {
        await using var database = await TestPostgres.CreateAsync("steward_retention_");
        var time = new ManualTime(Start);
        await using (var server = await TestServer.StartAsync(o => o with { TimeProvider = time, Database = database.ConnectionString }))
        {
            await RunAsync(server, time);
        }
    }
}
