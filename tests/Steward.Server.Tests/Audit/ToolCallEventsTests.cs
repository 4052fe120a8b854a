using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests.Audit;

/// <summary>
/// <c>POST /api/v1/audit/tool-calls</c> (a gateway's batch) and <c>GET /api/v1/orgs/{org}/audit/tool-calls</c> (an
/// admin's reading), the same assertions on SQLite and on PostgreSQL.
/// </summary>
public sealed class ToolCallEventsTests
{
    private const string Path = "/api/v1/audit/tool-calls";
    private const string AdminPath = "/api/v1/orgs/demo/audit/tool-calls";

    private static string Event(string id, string tool = "echo", string decision = "allow", string outcome = "ok", string? arguments = null, string time = "2026-11-21T10:00:00.125Z") =>
        $$"""{"id":"{{id}}","time":"{{time}}","server":"everything","tool":"{{tool}}","decision":"{{decision}}","because":"no rule","durationMs":12.5,"outcome":"{{outcome}}"{{(arguments is null ? "" : ",\"arguments\":" + arguments)}}}""";

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(HttpClient client, string body)
    {
        using var response = await client.PostAsync(Path, TestServer.Json(body));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static async Task<JsonArray> ListAsync(HttpClient admin, string query = "", string path = AdminPath)
    {
        var text = await admin.GetStringAsync(path + query);
        return JsonNode.Parse(text)!["toolCalls"]!.AsArray();
    }

    /// <summary>A developer token of the account "team", made through the admin API.</summary>
    private static async Task<string> TeamDeveloperAsync(TestServer server)
    {
        using var admin = server.Client(TestServer.AdminToken);
        using (var created = await admin.PostAsync("/api/v1/orgs/demo/accounts", TestServer.Json("""{"slug":"team","name":"Team"}""")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        using var token = await admin.PostAsync("/api/v1/orgs/demo/tokens", TestServer.Json("""{"name":"alice@example.com","role":"developer","account":"team"}"""));
        Assert.True(token.StatusCode == HttpStatusCode.Created, await token.Content.ReadAsStringAsync());
        return (string)JsonNode.Parse(await token.Content.ReadAsStringAsync())!["token"]!;
    }

    private static async Task RunAsync(TestServer server)
    {
        var developerToken = await TeamDeveloperAsync(server);
        var (otherAdminToken, otherDeveloperToken) = await server.AddOrganisationAsync("other");
        using var anonymous = server.Client();
        using var developer = server.Client(developerToken);
        using var admin = server.Client(TestServer.AdminToken);
        using var otherDeveloper = server.Client(otherDeveloperToken);
        using var otherAdmin = server.Client(otherAdminToken);

        // Anonymous and unknown tokens: 401, nothing stored.
        using (var refused = await anonymous.PostAsync(Path, TestServer.Json("[" + Event("evt-anon") + "]")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
        }

        using (var bad = server.Client("stw_not-a-token-anyone-was-given"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(bad, "[" + Event("evt-bad") + "]")).Status);
        }

        // Argument values are kept while the caller's profile records them (the next test: not otherwise).
        using (var on = await admin.PutAsync("/api/v1/orgs/demo/profile", TestServer.Json("""{"auditToolArguments":true}""")))
        {
            Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        }

        // A developer's batch is stored with the token's organisation, account and user.
        var batch = "[" + Event("evt-1", tool: "echo", arguments: """{"message":"hi"}""") + "," + Event("evt-2", tool: "add", decision: "deny", outcome: "refused") + "]";
        var (status, body) = await PostAsync(developer, batch);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, (int)body!["stored"]!);
        Assert.Equal(0, (int)body["duplicates"]!);

        // The same batch again (a retry after a lost answer) is not stored twice.
        (status, body) = await PostAsync(developer, batch);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, (int)body!["stored"]!);
        Assert.Equal(2, (int)body["duplicates"]!);

        var listed = await ListAsync(admin);
        Assert.Equal(["evt-2", "evt-1"], listed.Select(e => (string)e!["id"]!));
        var first = listed.Single(e => (string)e!["id"]! == "evt-1")!;
        Assert.Equal("team", (string)first["account"]!);
        Assert.Equal("alice@example.com", (string)first["user"]!);
        Assert.Equal("2026-11-21T10:00:00.125000Z", (string)first["time"]!);
        Assert.Equal(12.5, (double)first["durationMs"]!);
        Assert.Equal("hi", (string)first["arguments"]!["message"]!);
        Assert.Null(listed.Single(e => (string)e!["id"]! == "evt-2")!["arguments"]);

        // The body cannot say whose events they are.
        (status, body) = await PostAsync(developer, "[" + Event("evt-3").Replace("{\"id\"", "{\"organisation\":\"other\",\"id\"", StringComparison.Ordinal) + "]");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("body[0].organisation", (string)body!["errors"]![0]!["location"]!);

        // Each bad field is named; a batch with one bad event stores none of it.
        var cases = new (string Event, string Location)[]
        {
            (Event("evt-4").Replace("\"id\":\"evt-4\"", "\"id\":\"has space\"", StringComparison.Ordinal), "body[1].id"),
            (Event("evt-4", time: "yesterday"), "body[1].time"),
            (Event("evt-4", time: "2099-01-01T00:00:00Z"), "body[1].time"),
            (Event("evt-4").Replace("\"server\":\"everything\"", "\"server\":\"\"", StringComparison.Ordinal), "body[1].server"),
            (Event("evt-4").Replace("\"tool\":\"echo\"", "\"tool\":42", StringComparison.Ordinal), "body[1].tool"),
            (Event("evt-4", decision: "Allow everything"), "body[1].decision"),
            (Event("evt-4").Replace("12.5", "-1", StringComparison.Ordinal), "body[1].durationMs"),
            (Event("evt-4", outcome: ""), "body[1].outcome"),
            (Event("evt-4", arguments: "[1,2]"), "body[1].arguments"),
            (Event("evt-4").Replace("\"because\":\"no rule\",", "", StringComparison.Ordinal), "body[1].because"),
            ("\"not an event\"", "body[1]"),
        };
        foreach (var (bad, location) in cases)
        {
            (status, body) = await PostAsync(developer, "[" + Event("evt-good") + "," + bad + "]");
            Assert.True(status == HttpStatusCode.UnprocessableEntity, $"{location}: {(int)status} {body}");
            Assert.Equal(location, (string)body!["errors"]![0]!["location"]!);
        }

        (status, body) = await PostAsync(developer, "[]");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("body", (string)body!["errors"]![0]!["location"]!);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await PostAsync(developer, "{" + "\"id\":\"x\"}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(developer, "[{")).Status);
        Assert.DoesNotContain(await ListAsync(admin), e => (string)e!["id"]! == "evt-good");

        // Over the size limit: 413, nothing read.
        var huge = new StringBuilder("[");
        huge.Append(Event("evt-huge", arguments: "{\"blob\":\"" + new string('x', 1024 * 1024) + "\"}"));
        huge.Append(']');
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await PostAsync(developer, huge.ToString())).Status);

        // Another organisation: its events are its own, and this organisation's are not found for its admin.
        (status, _) = await PostAsync(otherDeveloper, "[" + Event("evt-1", tool: "other-tool") + "]");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["other-tool"], (await ListAsync(otherAdmin, path: "/api/v1/orgs/other/audit/tool-calls")).Select(e => (string)e!["tool"]!));
        Assert.DoesNotContain(await ListAsync(admin), e => (string)e!["tool"]! == "other-tool");
        Assert.Equal(HttpStatusCode.NotFound, (await otherAdmin.GetAsync(AdminPath)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await developer.GetAsync(AdminPath)).StatusCode);

        // Filters and paging.
        Assert.Equal(["evt-2"], (await ListAsync(admin, "?decision=deny")).Select(e => (string)e!["id"]!));
        Assert.Equal(["evt-1"], (await ListAsync(admin, "?tool=echo&account=team")).Select(e => (string)e!["id"]!));
        Assert.Empty(await ListAsync(admin, "?since=2026-11-21T10:00:01Z"));
        Assert.Equal(2, (await ListAsync(admin, "?until=2026-11-21T10:00:01Z")).Count);
        var page = JsonNode.Parse(await admin.GetStringAsync(AdminPath + "?limit=1"))!;
        Assert.Equal("evt-2", (string)page["toolCalls"]![0]!["id"]!);
        var next = (string)page["metadata"]!["nextCursor"]!;
        var second = JsonNode.Parse(await admin.GetStringAsync(AdminPath + "?limit=1&cursor=" + next))!;
        Assert.Equal("evt-1", (string)second["toolCalls"]![0]!["id"]!);
        Assert.Null(second["metadata"]!["nextCursor"]);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await admin.GetAsync(AdminPath + "?since=yesterday")).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await admin.GetAsync(AdminPath + "?limit=0")).StatusCode);
    }

    [Fact]
    public async Task A_batch_with_several_bad_events_is_one_422_naming_each_at_its_path()
    {
        await using var server = await TestServer.StartAsync();
        using var developer = server.Client(await TeamDeveloperAsync(server));
        var badTime = Event("evt-time", time: "yesterday");
        var badTool = Event("evt-tool", tool: "");
        var (status, body) = await PostAsync(developer, "[" + Event("evt-fine") + "," + badTime + ",7," + badTool + "]");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var errors = body!["errors"]!.AsArray();
        Assert.Equal(["body[1].time", "body[2]", "body[3].tool"], errors.Select(e => (string)e!["location"]!));
        Assert.Equal(["[1].time", "[2]", "[3].tool"], errors.Select(e => (string)e!["path"]!));
        Assert.Contains("[1].time: ", (string)body["detail"]!, StringComparison.Ordinal);
        Assert.Contains("; [3].tool: ", (string)body["detail"]!, StringComparison.Ordinal);
        using var admin = server.Client(TestServer.AdminToken);
        Assert.Empty(await ListAsync(admin));
    }

    [Fact]
    public async Task Argument_values_sent_while_the_callers_profile_does_not_record_them_are_dropped_and_counted()
    {
        await using var server = await TestServer.StartAsync();
        using var developer = server.Client(await TeamDeveloperAsync(server));
        using var admin = server.Client(TestServer.AdminToken);
        var (status, body) = await PostAsync(developer, "[" + Event("evt-a", arguments: """{"message":"not-kept"}""") + "," + Event("evt-b") + "]");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, (int)body!["stored"]!);
        Assert.Equal(1, (int)body["argumentsDropped"]!);
        var listed = await ListAsync(admin);
        Assert.All(listed, e => Assert.Null(e!["arguments"]));
        Assert.DoesNotContain("not-kept", await admin.GetStringAsync(AdminPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateways_post_batches_once_per_event_and_admins_read_only_their_organisations_on_SQLite()
    {
        await using var server = await TestServer.StartAsync();
        await RunAsync(server);
    }

    [PostgresFact]
    public async Task Gateways_post_batches_once_per_event_and_admins_read_only_their_organisations_on_PostgreSQL()
    {
        await using var database = await TestPostgres.CreateAsync("steward_toolcalls_");
        await using (var server = await TestServer.StartAsync(o => o with { Database = database.ConnectionString }))
        {
            await RunAsync(server);
        }
    }
}
