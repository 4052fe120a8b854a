using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Steward.Agent.Audit;
using Steward.Core.Audit;
using Steward.Core.Config;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// An allowed tools/call is forwarded as JSON: what the host sent reaches the upstream unchanged (only the name, in the
/// aggregated shape), the upstream's result reaches the host unchanged (members the SDK's types do not know included),
/// and errors, timeouts and cancellation are answered and audited as before. Through a real Node server.
/// </summary>
public sealed class ToolCallForwardingTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A stdio MCP server in plain Node. <c>mirror</c> answers with the params it received (as text) and a member no MCP
    /// type has; <c>refuse</c> answers a JSON-RPC error; <c>hang</c> never answers; <c>state</c> tells how many
    /// <c>hang</c> calls arrived and how many were cancelled.
    /// </summary>
    private const string ServerScript = """
        const readline = require('readline');
        const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
        const hung = [];
        const cancelled = [];
        readline.createInterface({ input: process.stdin }).on('line', (line) => {
          let m;
          try { m = JSON.parse(line); } catch { return; }
          if (m.method === 'notifications/cancelled') { if (hung.includes(m.params.requestId)) cancelled.push(m.params.requestId); return; }
          if (m.id === undefined) return;
          const text = (t) => send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: t }] } });
          switch (m.method) {
            case 'initialize':
              send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'fwd-test', version: '1.0.0' } } });
              break;
            case 'tools/list':
              send({ jsonrpc: '2.0', id: m.id, result: { tools: ['mirror', 'refuse', 'hang', 'state'].map((name) => ({ name, inputSchema: { type: 'object' } })) } });
              break;
            case 'tools/call':
              switch (m.params.name) {
                case 'mirror':
                  send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: JSON.stringify(m.params) }], isError: m.params.arguments.fail === true, 'x-extra': { kept: [1, 'two'] } } });
                  break;
                case 'refuse':
                  send({ jsonrpc: '2.0', id: m.id, error: { code: -32042, message: 'refused upstream' } });
                  break;
                case 'hang':
                  hung.push(m.id);
                  break;
                default:
                  text(JSON.stringify({ hung: hung.length, cancelled: cancelled.length }));
              }
              break;
            case 'ping':
              send({ jsonrpc: '2.0', id: m.id, result: {} });
              break;
            default:
              send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no such method' } });
          }
        });
        """;

    [NodeFact]
    public Task Per_server_shape_forwards_params_and_results_unchanged_and_audits_every_outcome() => ForwardsAsync(perServer: true);

    [NodeFact]
    public Task Aggregated_shape_forwards_params_and_results_unchanged_but_the_name_and_audits_every_outcome() => ForwardsAsync(perServer: false);

    private static async Task ForwardsAsync(bool perServer)
    {
        await using var harness = await StartFwdAsync(perServer ? "fwd" : null, timeoutMs: 20_000);
        var client = harness.Client;
        var prefix = perServer ? "" : "fwd__";

        // What the host sends arrives upstream as sent: arguments, _meta with the progress token, a member MCP does not define.
        var sent = JsonNode.Parse($$"""
            { "name": "{{prefix}}mirror", "arguments": { "a": 1, "nested": { "b": [1.5, "x", null] } },
              "_meta": { "progressToken": "token-7", "x-meta": { "deep": true } }, "x-param": "kept" }
            """)!.AsObject();
        var response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsCall, Params = sent.DeepClone() }).WaitAsync(Guard);
        var result = Assert.IsType<JsonObject>(response.Result);
        var received = JsonNode.Parse(result["content"]![0]!["text"]!.GetValue<string>())!;
        var expected = sent.DeepClone().AsObject();
        expected["name"] = "mirror";
        Assert.True(JsonNode.DeepEquals(expected, received), received.ToJsonString());

        // The upstream's result reaches the host as it answered, with the member no MCP type has.
        Assert.Equal("""{"kept":[1,"two"]}""", result["x-extra"]!.ToJsonString());
        Assert.False(result["isError"]!.GetValue<bool>());

        // isError from the tool: a result, audited "error".
        var failing = await client.CallToolAsync(prefix + "mirror", new Dictionary<string, object?> { ["fail"] = true }).AsTask().WaitAsync(Guard);
        Assert.True(failing.IsError);

        // A JSON-RPC error from the upstream reaches the host with its code and message, audited "failed".
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync(prefix + "refuse").AsTask().WaitAsync(Guard));
        Assert.Equal((McpErrorCode)(-32042), refused.ErrorCode);
        Assert.Contains("refused upstream", refused.Message, StringComparison.Ordinal);

        // The host cancels (notifications/cancelled, as a host sends it): the upstream is told and the call is audited "cancelled".
        var hangId = new RequestId("host-hang-" + prefix.Length);
        var hanging = client.SendRequestAsync(new JsonRpcRequest { Id = hangId, Method = RequestMethods.ToolsCall, Params = new JsonObject { ["name"] = prefix + "hang" } });
        await WaitForStateAsync(client, prefix, """{"hung":1,"cancelled":0}""");
        await client.SendNotificationAsync(NotificationMethods.CancelledNotification, new CancelledNotificationParams { RequestId = hangId, Reason = "the user stopped it" });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging.WaitAsync(Guard));
        await WaitForStateAsync(client, prefix, """{"hung":1,"cancelled":1}""");
        var deadline = DateTime.UtcNow + Guard;
        while (!File.ReadAllText(harness.AuditLog).Contains("\"tool\":\"hang\"", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the cancelled call was not audited");
            await Task.Delay(20);
        }

        // One audit line per call, in one intact chain, with the server's own tool names.
        var audit = AuditFile.Final(harness.AuditLog).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var calls = audit.Where(l => l.GetProperty("tool").GetString() != "state").ToList();
        Assert.Equal(["mirror", "mirror", "refuse", "hang"], calls.Select(l => l.GetProperty("tool").GetString()));

        // Every call was in the log before it was sent: a "sent" line of its tool precedes each outcome, and none is left over.
        var pending = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in AuditFile.Lines(harness.AuditLog).Select(l => JsonDocument.Parse(l).RootElement))
        {
            var tool = line.GetProperty("tool").GetString()!;
            if (line.GetProperty("outcome").GetString() == "sent")
            {
                pending[tool] = pending.GetValueOrDefault(tool) + 1;
                continue;
            }

            Assert.True(pending.GetValueOrDefault(tool) > 0, $"the outcome of a call to {tool} has no \"sent\" line before it");
            pending[tool]--;
        }

        Assert.All(pending.Values, count => Assert.Equal(0, count));
        Assert.Equal(["ok", "error", "failed", "cancelled"], calls.Select(l => l.GetProperty("outcome").GetString()));
        Assert.All(audit.Except(calls), l => Assert.Equal("ok", l.GetProperty("outcome").GetString()));
        Assert.All(audit, l => Assert.Equal("allow", l.GetProperty("decision").GetString()));
        Assert.All(audit, l => Assert.Equal("fwd", l.GetProperty("server").GetString()));
        using var reader = new StreamReader(harness.AuditLog);
        Assert.True(JsonlChain.Verify(reader).Intact);
    }

    /// <summary>
    /// Listed = callable, both ways: this server answers a call to any name, but only the tools it lists may be called
    /// through the gateway. A call to another name never reaches it, is answered as an unknown tool and is audited.
    /// </summary>
    [NodeTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_tool_the_server_never_listed_is_refused_as_unknown_and_audited_without_reaching_it(bool perServer)
    {
        await using var harness = await StartFwdAsync(perServer ? "fwd" : null, timeoutMs: 20_000);
        var prefix = perServer ? "" : "fwd__";

        // Answered by the gateway as an SDK server answers an unknown tool: a result with isError (this server would
        // have answered the name with its state, not an error).
        var unknown = await harness.Client.CallToolAsync(prefix + "hidden-admin").AsTask().WaitAsync(Guard);
        Assert.True(unknown.IsError);
        var text = Assert.IsType<TextContentBlock>(unknown.Content[0]).Text;
        Assert.Contains("Unknown tool", text, StringComparison.Ordinal);
        Assert.Contains("does not list a tool \"hidden-admin\"", text, StringComparison.Ordinal);
        var line = JsonDocument.Parse(File.ReadAllLines(harness.AuditLog)[0]).RootElement;
        Assert.Equal(("hidden-admin", "unlisted", "refused"),
            (line.GetProperty("tool").GetString(), line.GetProperty("decision").GetString(), line.GetProperty("outcome").GetString()));
    }

    [NodeFact]
    public async Task A_call_past_the_entry_timeout_is_answered_with_an_error_and_audited_as_a_timeout()
    {
        await using var harness = await StartFwdAsync("fwd", timeoutMs: 5_000);

        var timedOut = await Assert.ThrowsAsync<McpProtocolException>(() => harness.Client.CallToolAsync("hang").AsTask().WaitAsync(Guard));
        Assert.Equal(McpErrorCode.InternalError, timedOut.ErrorCode);
        Assert.Contains("\"hang\" of \"fwd\" did not answer within the configured timeout", timedOut.Message, StringComparison.Ordinal);
        var line = JsonDocument.Parse(Assert.Single(AuditFile.Final(harness.AuditLog))).RootElement;
        Assert.Equal("timeout", line.GetProperty("outcome").GetString());
    }

    /// <summary>
    /// A call is sent only once its decision is in the audit log. When the log cannot be written the call does not reach
    /// the server, and the host is told it was not sent. Once the log can be written again, calls go through as before.
    /// </summary>
    [NodeFact]
    public async Task A_call_the_audit_log_cannot_record_is_not_sent_and_the_host_is_told_so()
    {
        await using var harness = await StartFwdAsync("fwd", timeoutMs: 20_000);

        // A directory where the log file should be: opening it for writing fails.
        Directory.CreateDirectory(harness.AuditLog);
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => harness.Client.CallToolAsync("hang").AsTask().WaitAsync(Guard));
        Assert.Equal(McpErrorCode.InternalError, refused.ErrorCode);
        Assert.Contains("Steward could not write its audit log, so the call was not sent", refused.Message, StringComparison.Ordinal);

        Directory.Delete(harness.AuditLog);
        var state = ServerEverythingThroughGatewayTests.Text(await harness.Client.CallToolAsync("state").AsTask().WaitAsync(Guard));
        Assert.Equal("""{"hung":0,"cancelled":0}""", state);
        var line = JsonDocument.Parse(Assert.Single(AuditFile.Final(harness.AuditLog))).RootElement;
        Assert.Equal(("state", "ok"), (line.GetProperty("tool").GetString(), line.GetProperty("outcome").GetString()));
    }

    /// <summary>A gateway in front of this file's server (<see cref="ServerScript"/>, run by the uvx shim) as <c>fwd</c>, with the entry's <c>timeout</c>.</summary>
    private static Task<GatewayHarness> StartFwdAsync(string? server, int timeoutMs)
    {
        var directory = GatewayHarness.TempDirectory();
        var script = Path.Combine(directory, "fwd-server.cjs");
        File.WriteAllText(script, ServerScript);
        var entry = Shims.Entry("uvx", ["fwd-test==1.0.0"], Path.Combine(directory, "uvx.argv"));
        entry = entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", script)], Timeout = timeoutMs };
        return GatewayHarness.StartAsync(Fixtures.Config(("fwd", entry)), Fixtures.Policy([Fixtures.Pypi("fwd", "fwd-test", "1.0.0")]), server: server, directory: directory);
    }

    private static async Task WaitForStateAsync(ModelContextProtocol.Client.McpClient client, string prefix, string expected)
    {
        var deadline = DateTime.UtcNow + Guard;
        while (ServerEverythingThroughGatewayTests.Text(await client.CallToolAsync(prefix + "state").AsTask().WaitAsync(Guard)) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the server never reached {expected}");
            await Task.Delay(20);
        }
    }
}
