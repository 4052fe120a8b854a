using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Steward.Server.Models;
using Steward.Server.Storage;
using Steward.Server.Tests.Governance;

namespace Steward.Server.Tests.Models;

/// <summary>
/// Refused model requests do not flood the append-only admin audit: per token and reason, one row at once and one
/// summary row with the count of the rest of the window. The server runs on a manual clock.
/// </summary>
public sealed class ModelRefusalAuditTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);

    private static StringContent Chat(string model) =>
        TestServer.Json($$"""{"model": "{{model}}", "messages": [{"role": "user", "content": "a secret prompt"}]}""");

    private static async Task<TestServer> StartAsync(ManualTime time, string? database = null)
    {
        var server = await TestServer.StartAsync(o => o with { TimeProvider = time, Database = database });
        await ModelTestData.PutPolicyAsync(server, """
            {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-opus-4-5": false}, "defaultModel": "claude-sonnet-4-6",
             "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """);
        return server;
    }

    private static async Task RefuseAsync(HttpClient client, string model, string reason)
    {
        using var response = await client.PostAsync("/v1/chat/completions", Chat(model));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{model}: expected 403, got {(int)response.StatusCode} {text}");
        Assert.Equal(reason, JsonNode.Parse(text)!["error"]!["code"]!.GetValue<string>());
    }

    private static async Task RunAsync(TestServer server, ManualTime time)
    {
        var developer = await ModelTestData.AddDeveloperAsync(server);
        using var client = server.Client(developer);

        for (var i = 0; i < 100; i++)
        {
            await RefuseAsync(client, "claude-opus-4-5", "disabled_by_policy");
        }

        // The first refusal has its row; the other 99 are counted, not written.
        var first = Assert.Single(await ModelTestData.AuditAsync(server, "model.access-denied"));
        Assert.Equal("model:claude-opus-4-5", first.Object);
        Assert.Empty(await ModelTestData.AuditAsync(server, "model.request.refused"));

        // Another reason is another key: its first refusal is written at once.
        await RefuseAsync(client, "gpt-4o", "not_in_catalog");
        Assert.Equal(2, (await ModelTestData.AuditAsync(server, "model.access-denied")).Count);

        // After the window, the next refusal writes the summary of the last window and its own row.
        time.Advance(ModelRefusals.Window + TimeSpan.FromSeconds(1));
        await RefuseAsync(client, "opus-4.5", "disabled_by_policy");
        var summary = Assert.Single(await ModelTestData.AuditAsync(server, "model.request.refused"));
        Assert.Equal("model-refusals:disabled_by_policy", summary.Object);
        Assert.StartsWith("token:", summary.Actor, StringComparison.Ordinal);
        var detail = JsonNode.Parse(summary.After!)!;
        Assert.Equal(99, detail["count"]!.GetValue<long>());
        Assert.Equal("disabled_by_policy", detail["reason"]!.GetValue<string>());
        Assert.Equal((Timestamps.ToText(Start), Timestamps.ToText(Start)), (detail["first"]!.GetValue<string>(), detail["last"]!.GetValue<string>()));
        Assert.Equal(["claude-opus-4-5"], detail["requested"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.DoesNotContain("secret prompt", summary.After, StringComparison.Ordinal);
        Assert.Equal(3, (await ModelTestData.AuditAsync(server, "model.access-denied")).Count);

        // Five more in the new window, then the window closes: the periodic flush writes their summary.
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await RefuseAsync(client, i % 2 == 0 ? "claude-opus-4-5" : "opus-4.5", "disabled_by_policy");
        }

        var refusals = server.Server.Services.GetRequiredService<ModelRefusals>();
        Assert.Equal(0, await refusals.FlushAsync());
        time.Advance(ModelRefusals.Window);
        Assert.Equal(1, await refusals.FlushAsync());
        var summaries = await ModelTestData.AuditAsync(server, "model.request.refused");
        Assert.Equal(2, summaries.Count);
        var second = JsonNode.Parse(summaries[1].After!)!;
        Assert.Equal(5, second["count"]!.GetValue<long>());
        Assert.Equal(Timestamps.ToText(Start + ModelRefusals.Window + TimeSpan.FromSeconds(26)), second["last"]!.GetValue<string>());
        Assert.Equal(["claude-opus-4-5", "opus-4.5"], second["requested"]!.AsArray().Select(m => m!.GetValue<string>()));

        // 106 refusals, five rows; the chain is intact.
        Assert.Equal(3, (await ModelTestData.AuditAsync(server, "model.access-denied")).Count);
        using var admin = server.Client(TestServer.AdminToken);
        var verify = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit/verify"))!;
        Assert.True(verify["intact"]!.GetValue<bool>(), verify.ToJsonString());
    }

    [Fact]
    public async Task A_hundred_refused_requests_write_one_row_and_a_summary_with_their_count()
    {
        var time = new ManualTime(Start);
        await using var server = await StartAsync(time);
        await RunAsync(server, time);
    }

    [PostgresFact]
    public async Task A_hundred_refused_requests_write_one_row_and_a_summary_with_their_count_on_PostgreSQL()
    {
        await using var database = await TestPostgres.CreateAsync("steward_refusals_");
        var time = new ManualTime(Start);
        await using var server = await StartAsync(time, database.ConnectionString);
        await RunAsync(server, time);
    }

    [Fact]
    public async Task A_refusal_whose_audit_write_fails_is_still_refused_and_counted_in_the_next_summary()
    {
        var time = new ManualTime(Start);
        await using var server = await StartAsync(time);
        var developer = await ModelTestData.AddDeveloperAsync(server);
        using var client = server.Client(developer);

        // The audit table is out of reach: the write fails, the request is refused all the same (never sent upstream).
        await using (var connection = await server.Server.Database.OpenAsync(CancellationToken.None))
        {
            await connection.ExecuteAsync("ALTER TABLE audit RENAME TO audit_away", null, CancellationToken.None);
        }

        await RefuseAsync(client, "claude-opus-4-5", "disabled_by_policy");
        await RefuseAsync(client, "claude-opus-4-5", "disabled_by_policy");

        await using (var connection = await server.Server.Database.OpenAsync(CancellationToken.None))
        {
            await connection.ExecuteAsync("ALTER TABLE audit_away RENAME TO audit", null, CancellationToken.None);
        }

        Assert.Empty(await ModelTestData.AuditAsync(server, "model.access-denied"));

        // Back: the next refusal after the window writes the two unrecorded ones as a summary, then its own row.
        time.Advance(ModelRefusals.Window);
        await RefuseAsync(client, "claude-opus-4-5", "disabled_by_policy");
        var summary = Assert.Single(await ModelTestData.AuditAsync(server, "model.request.refused"));
        Assert.Equal(2, JsonNode.Parse(summary.After!)!["count"]!.GetValue<long>());
        Assert.Single(await ModelTestData.AuditAsync(server, "model.access-denied"));
    }
}
