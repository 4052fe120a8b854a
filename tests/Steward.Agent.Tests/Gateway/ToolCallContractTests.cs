using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Agent.Tests.Support;
using Steward.Core.Audit;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// The server accepts exactly what the gateway writes: the uploader's own lines, posted by a developer token to the real
/// server, are each stored and listed back field for field; and a batch as earlier gateways sent it is still accepted.
/// </summary>
public sealed class ToolCallContractTests
{
    private static Dictionary<string, JsonElement> Arguments(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
    }

    [Fact]
    public async Task Every_event_the_gateway_writes_is_stored_and_listed_as_it_was_written()
    {
        var now = DateTimeOffset.UtcNow;
        await using var server = await StewardServerHost.StartAsync(new ManualTime(now));
        var token = await server.DeveloperTokenAsync();
        await server.PutProfileAsync("""{"auditToolArguments":true}""");
        var decisions = new[] { "allow", "ask-approved", "ask-declined", "ask-unavailable", "deny", "disabled", "pin_mismatch", "unlisted" };
        var outcomes = new[] { "ok", "error", "failed", "refused", "cancelled", "timeout", "blocked" };
        var written = new List<(string Id, ToolCallEvent Event)>();
        for (var i = 0; i < decisions.Length * 2; i++)
        {
            var arguments = i % 3 == 0 ? Arguments($$"""{"n":{{i}},"text":"é “{{i}}”","list":[1,{"k":null}],"secret":"[redacted]"}""") : null;
            written.Add((Guid.CreateVersion7().ToString(), new ToolCallEvent(now.AddSeconds(-i).AddMilliseconds(i * 7), i % 2 == 0 ? "everything" : "io.github.x/server-ü",
                "tool_" + i, decisions[i % decisions.Length], i == 0 ? "" : "rule everything/tool_" + i, i * 12.3456789, outcomes[i % outcomes.Length], arguments)));
        }

        // The batch exactly as the uploader sends it: its lines in a JSON array.
        var batch = "[" + string.Join(",", written.Select(w => AuditUploader.Line(w.Id, w.Event))) + "]";
        using (var gateway = server.Client(token))
        using (var posted = await gateway.PostAsync("api/v1/audit/tool-calls", new StringContent(batch, Encoding.UTF8, "application/json")))
        {
            var answer = await posted.Content.ReadAsStringAsync();
            Assert.True(posted.StatusCode == HttpStatusCode.OK, answer);
            Assert.Equal(written.Count, (int)JsonNode.Parse(answer)!["stored"]!);
        }

        using var admin = server.Client();
        var listed = JsonNode.Parse(await admin.GetStringAsync("api/v1/orgs/demo/audit/tool-calls?limit=100"))!["toolCalls"]!.AsArray()
            .ToDictionary(e => (string)e!["id"]!, e => e!);
        foreach (var (id, entry) in written)
        {
            var row = listed[id];
            Assert.Equal(entry.Time.ToUnixTimeMilliseconds(), DateTimeOffset.Parse((string)row["time"]!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
            Assert.Equal((entry.Server, entry.Tool, entry.Decision, entry.Because, Math.Round(entry.DurationMs, 3), entry.Outcome),
                ((string)row["server"]!, (string)row["tool"]!, (string)row["decision"]!, (string)row["because"]!, (double)row["durationMs"]!, (string)row["outcome"]!));
            Assert.Equal(entry.Arguments is null ? null : JsonNode.Parse(ToolCallWire.ArgumentsText(entry.Arguments))!.ToJsonString(), row["arguments"]?.ToJsonString());
        }
    }

    [Fact]
    public async Task A_batch_as_earlier_gateways_sent_it_is_still_accepted()
    {
        var now = DateTimeOffset.UtcNow;
        await using var server = await StewardServerHost.StartAsync(new ManualTime(now));
        var token = await server.DeveloperTokenAsync();
        var at = now.AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        // Written by hand as the gateway's writer wrote them before the contract moved to Core (no arguments member when
        // values are not recorded; arguments sent although the profile does not record them are dropped, not refused).
        var batch = $$$"""
            [{"id":"0193c8f1-7a8e-7000-8000-0000000000a1","time":"{{{at}}}","server":"everything","tool":"echo","decision":"allow","because":"no rule","durationMs":3.25,"outcome":"ok"},
             {"id":"0193c8f1-7a8e-7000-8000-0000000000a2","time":"{{{at}}}","server":"everything","tool":"printEnv","decision":"deny","because":"rule everything/printEnv","durationMs":0,"outcome":"refused","arguments":{"x":1}}]
            """;
        using var gateway = server.Client(token);
        using var posted = await gateway.PostAsync("api/v1/audit/tool-calls", new StringContent(batch, Encoding.UTF8, "application/json"));
        var answer = JsonNode.Parse(await posted.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(2, (int)answer["stored"]!);
        Assert.Equal(1, (int)answer["argumentsDropped"]!);
    }
}
