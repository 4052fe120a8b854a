using System.Net;
using System.Text.Json.Nodes;
using Steward.Core.Audit;
using Steward.Server.Audit;
using Steward.Server.Storage;

namespace Steward.Server.Tests.Audit;

public sealed class AuditChainTests
{
    private static async Task<JsonNode> VerifyAsync(TestServer server)
    {
        using var admin = server.Client(TestServer.AdminToken);
        return JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit/verify"))!;
    }

    /// <summary>Someone with the database in hand: the append-only triggers are dropped first.</summary>
    private static async Task TamperAsync(TestServer server, params string[] statements)
    {
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        await connection.ExecuteAsync("DROP TRIGGER IF EXISTS audit_no_update", null, CancellationToken.None);
        await connection.ExecuteAsync("DROP TRIGGER IF EXISTS audit_no_delete", null, CancellationToken.None);
        foreach (var statement in statements)
        {
            await connection.ExecuteAsync(statement, null, CancellationToken.None);
        }
    }

    private static async Task<List<long>> IdsAsync(TestServer server)
    {
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        return await connection.QueryAsync("SELECT a.id FROM audit a JOIN organisations o ON o.id = a.organisation_id WHERE o.slug = 'demo' ORDER BY a.id", null, r => r.Int64(0), CancellationToken.None);
    }

    [Fact]
    public async Task The_chain_of_a_new_server_is_intact_and_every_row_links_to_the_one_before()
    {
        await using var server = await TestServer.StartAsync();

        var result = await VerifyAsync(server);

        Assert.True(result["intact"]!.GetValue<bool>());
        Assert.Equal((await IdsAsync(server)).Count, result["rows"]!.GetValue<long>());
        Assert.Equal(64, result["head"]!.GetValue<string>().Length);
        Assert.Null(result["broken"]);
    }

    [Fact]
    public async Task A_changed_row_is_named_as_the_broken_link()
    {
        await using var server = await TestServer.StartAsync();
        var ids = await IdsAsync(server);

        await TamperAsync(server, $"UPDATE audit SET actor = 'someone else' WHERE id = {ids[3]}");

        var broken = (await VerifyAsync(server))["broken"]!;
        Assert.Equal(ids[3], broken["id"]!.GetValue<long>());
        Assert.Equal(3, broken["index"]!.GetValue<long>());
        Assert.Contains("the record was changed", broken["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_row_breaks_the_link_of_the_row_after_it()
    {
        await using var server = await TestServer.StartAsync();
        var ids = await IdsAsync(server);

        await TamperAsync(server, $"DELETE FROM audit WHERE id = {ids[2]}");

        var result = await VerifyAsync(server);
        Assert.False(result["intact"]!.GetValue<bool>());
        Assert.Equal(ids[3], result["broken"]!["id"]!.GetValue<long>());
        Assert.Contains("deleted, inserted or moved", result["broken"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_rows_swapped_break_at_the_first_of_them()
    {
        await using var server = await TestServer.StartAsync();
        var ids = await IdsAsync(server);
        var (a, b) = (ids[1], ids[2]);
        const string columns = "organisation_id, at, actor, action, object, before_json, after_json, revision, prev_hash, hash";

        // Swap every column but the id, hashes included, through a scratch copy.
        await TamperAsync(server,
            $"CREATE TABLE scratch AS SELECT id, {columns} FROM audit WHERE id IN ({a}, {b})",
            $"UPDATE audit SET ({columns}) = (SELECT {columns} FROM scratch WHERE scratch.id = {b}) WHERE id = {a}",
            $"UPDATE audit SET ({columns}) = (SELECT {columns} FROM scratch WHERE scratch.id = {a}) WHERE id = {b}");

        var broken = (await VerifyAsync(server))["broken"]!;
        Assert.Equal(a, broken["id"]!.GetValue<long>());
        Assert.Contains("deleted, inserted or moved", broken["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_migration_chains_rows_written_before_the_chain_existed_exactly_as_appends_do()
    {
        await using var server = await TestServer.StartAsync();
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        var before = await connection.QueryAsync("SELECT hash FROM audit ORDER BY id", null, r => r.GetString(0), CancellationToken.None);
        await connection.ExecuteAsync("DROP TRIGGER audit_no_update", null, CancellationToken.None);
        await connection.ExecuteAsync("UPDATE audit SET prev_hash = NULL, hash = NULL", null, CancellationToken.None);
        await connection.ExecuteAsync("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END", null, CancellationToken.None);
        Assert.False((await VerifyAsync(server))["intact"]!.GetValue<bool>());

        await using (var transaction = await Database.BeginWriteAsync(connection, CancellationToken.None))
        {
            await AuditChain.ChainExistingAsync(connection, transaction, Dialect.Sqlite, CancellationToken.None);
            await transaction.CommitAsync();
        }

        Assert.Equal(before, await connection.QueryAsync("SELECT hash FROM audit ORDER BY id", null, r => r.GetString(0), CancellationToken.None));
        Assert.True((await VerifyAsync(server))["intact"]!.GetValue<bool>());
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => connection.ExecuteAsync("UPDATE audit SET actor = 'x'", null, CancellationToken.None));
    }

    [Fact]
    public async Task Concurrent_admin_changes_on_SQLite_keep_one_chain()
    {
        await using var server = await TestServer.StartAsync();

        await PublishConcurrentlyAsync([server.BaseUrl], 24);

        var result = await VerifyAsync(server);
        Assert.True(result["intact"]!.GetValue<bool>(), result.ToJsonString());
    }

    [Fact]
    public async Task The_verify_endpoint_is_for_admins()
    {
        await using var server = await TestServer.StartAsync();
        using var anonymous = server.Client();

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/orgs/demo/audit/verify")).StatusCode);
    }

    [Fact]
    public void The_row_canonical_form_is_sorted_compact_json_with_before_and_after_as_stored_text()
    {
        var canonical = AuditLog.Canonical("org1", "2025-01-01T00:00:00.000000Z", "admin", "registry.edit", "x/y@1", null, "{\"a\": 1}", 3);

        Assert.Equal("""{"action":"registry.edit","actor":"admin","after":"{\"a\": 1}","at":"2025-01-01T00:00:00.000000Z","before":null,"object":"x/y@1","organisation":"org1","revision":3}""", canonical);
        Assert.Equal(64, HashChain.Link(HashChain.Genesis, canonical).Length);
    }

    [PostgresFact]
    public async Task Concurrent_admin_changes_through_two_instances_on_PostgreSQL_keep_one_chain()
    {
        await using var database = await TestPostgres.CreateAsync("steward_test_");
        var (firstInstance, secondInstance) = await database.StartTwoInstancesAsync();
        await using var first = firstInstance;
        await using var second = secondInstance;

        await PublishConcurrentlyAsync([first.BaseUrl, second.BaseUrl], 24);

        await using var db = await first.Database.OpenAsync(CancellationToken.None);
        var organisation = (string)(await db.ScalarAsync("SELECT id FROM organisations WHERE slug = 'demo'", null, CancellationToken.None))!;
        var result = await AuditChain.VerifyAsync(db, organisation, CancellationToken.None);
        Assert.Null(result.Break);
        Assert.True(result.Rows > 24);
    }

    private static async Task PublishConcurrentlyAsync(IReadOnlyList<Uri> instances, int count)
    {
        var clients = instances.Select(u =>
        {
            var client = new HttpClient { BaseAddress = u };
            client.DefaultRequestHeaders.Authorization = new("Bearer", TestServer.AdminToken);
            return client;
        }).ToList();
        try
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(i =>
                clients[i % clients.Count].PostAsync("/api/v1/orgs/demo/registry/servers", TestServer.Json(TestServer.ServerJson($"com.example.chain{i}/server", "1.0.0")))));
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }
}
