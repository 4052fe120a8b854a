using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// The gateway's message limit against a real stdio server (tests/node/flood-server.mjs, through the uvx shim): an
/// answer past the limit reaches the host as an error that says so, is audited <c>too_large</c>, and the server keeps
/// serving; an answer within the limit passes whole. Both member orders of a JSON-RPC answer are covered.
/// </summary>
public sealed class MessageLimitTests
{
    private const long Limit = 1024 * 1024;

    [NodeTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_answer_past_the_limit_is_refused_audited_too_large_and_the_server_keeps_serving(bool idLast)
    {
        var directory = GatewayHarness.TempDirectory();
        var entry = Shims.Entry("uvx", ["flood-server==1.0.0"], Path.Combine(directory, "flood.argv"));
        entry = entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", NodePackages.FloodScript)] };
        var policy = Fixtures.Policy([Fixtures.Pypi("flood", "flood-server", "1.0.0")]);
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config(("flood", entry)), policy, server: "flood", directory: directory, maxMessageBytes: Limit);

        var within = await harness.Client.CallToolAsync("big", new Dictionary<string, object?> { ["kib"] = 1000, ["tail"] = idLast });
        Assert.Equal(1000 * 1024, Assert.IsType<TextContentBlock>(Assert.Single(within.Content)).Text.Length);

        var refused = await Assert.ThrowsAsync<McpProtocolException>(async () =>
            await harness.Client.CallToolAsync("big", new Dictionary<string, object?> { ["kib"] = 3 * 1024, ["tail"] = idLast }));
        Assert.Contains("the answer of \"flood\" is 3.0 MiB, over the gateway's limit of 1 MiB", refused.Message, StringComparison.Ordinal);
        Assert.Contains(BoundedLineStream.LimitVariable, refused.Message, StringComparison.Ordinal);

        var echo = await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "still here" });
        Assert.Equal("Echo: still here", Assert.IsType<TextContentBlock>(Assert.Single(echo.Content)).Text);

        var outcomes = AuditFile.Final(harness.AuditLog).Select(l => (string)JsonNode.Parse(l)!["outcome"]!).ToList();
        Assert.Equal(["ok", "too_large", "ok"], outcomes);
    }

    [NodeFact]
    public async Task A_remote_servers_answer_past_the_limit_is_refused_audited_too_large_and_the_server_keeps_serving()
    {
        await using var remote = JsonRpcOverHttp.Start();
        var detail = new Steward.Core.Registry.ServerDetail
        {
            Name = "remote",
            Description = "A streamable HTTP server on loopback",
            Version = "1.0.0",
            Remotes = [new Steward.Core.Registry.RemoteTransport { Type = Steward.Core.Config.McpServerTypes.StreamableHttp, Url = remote.Url }],
        };
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config(("remote", new Steward.Core.Config.McpServerConfig { Type = Steward.Core.Config.McpServerTypes.StreamableHttp, Url = remote.Url })),
            AllowingLoopbackHttp(Fixtures.Policy([detail])), server: "remote", maxMessageBytes: Limit);
        var status = harness.Gateway.Status;
        Assert.True(status.Running.SequenceEqual(["remote"]),
            string.Join("; ", status.Refused.Concat(status.Failed).Select(r => $"{r.Name} {r.ReasonCode}: {r.Message}")));

        var within = await harness.Client.CallToolAsync("big", new Dictionary<string, object?> { ["kib"] = 1000 });
        Assert.Equal(1000 * 1024, Assert.IsType<TextContentBlock>(Assert.Single(within.Content)).Text.Length);

        // The answer is replaced by an error for its request on the way in (the same words as for a local server), audited too_large.
        var refused = await Assert.ThrowsAsync<McpProtocolException>(async () =>
            await harness.Client.CallToolAsync("big", new Dictionary<string, object?> { ["kib"] = 3 * 1024 }));
        Assert.Contains("is 3.0 MiB, over the gateway's limit of 1 MiB", refused.Message, StringComparison.Ordinal);

        var echo = await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "still here" });
        Assert.Equal("Echo: still here", Assert.IsType<TextContentBlock>(Assert.Single(echo.Content)).Text);
        Assert.Equal(["ok", "too_large", "ok"], AuditFile.Final(harness.AuditLog).Select(l => (string)JsonNode.Parse(l)!["outcome"]!));
    }

    private static PolicyState AllowingLoopbackHttp(PolicyState policy) =>
        policy is PolicyState.Active active ? new PolicyState.Active(active.Snapshot with { AllowLoopbackHttp = true }) : policy;

    /// <summary>
    /// A stateless streamable HTTP MCP server on 127.0.0.1 (HttpListener): every POST answered with one JSON body, tools
    /// <c>echo</c> and <c>big</c> (a text of <c>kib</c> KiB).
    /// </summary>
    private sealed class JsonRpcOverHttp : IAsyncDisposable
    {
        private readonly LoopbackHttpServer server = new(AnswerAsync);

        public string Url => server.Url + "/mcp";

        public static JsonRpcOverHttp Start() => new();

        public ValueTask DisposeAsync() => server.DisposeAsync();

        private static async Task AnswerAsync(HttpListenerContext context)
        {
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var request = JsonNode.Parse(await reader.ReadToEndAsync());
            var id = request?["id"];
            if (context.Request.HttpMethod != "POST" || request is null || id is null)
            {
                context.Response.StatusCode = context.Request.HttpMethod == "POST" ? 202 : 405;
                context.Response.Close();
                return;
            }

            var arguments = request["params"]?["arguments"];
            JsonNode result = (string?)request["method"] switch
            {
                "initialize" => new JsonObject
                {
                    ["protocolVersion"] = request["params"]!["protocolVersion"]!.DeepClone(),
                    ["capabilities"] = new JsonObject { ["tools"] = new JsonObject() },
                    ["serverInfo"] = new JsonObject { ["name"] = "remote", ["version"] = "1.0.0" },
                },
                "tools/list" => JsonNode.Parse("""
                    {"tools":[{"name":"echo","inputSchema":{"type":"object","properties":{"message":{"type":"string"}}}},
                              {"name":"big","inputSchema":{"type":"object","properties":{"kib":{"type":"number"}}}}]}
                    """)!,
                "tools/call" when (string?)request["params"]!["name"] == "big" =>
                    new JsonObject { ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = new string('x', (int)arguments!["kib"]! * 1024) }) },
                "tools/call" => new JsonObject { ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "Echo: " + (string?)arguments?["message"] }) },
                _ => new JsonObject(),
            };
            var body = Encoding.UTF8.GetBytes(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id.DeepClone(), ["result"] = result }.ToJsonString());
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = body.Length;
            try
            {
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The gateway stopped reading an answer past its limit.
            }
        }

    }

    [Theory]
    [InlineData("")]
    [InlineData("data: ")]
    public async Task A_body_past_the_limit_without_a_final_newline_or_as_an_event_field_is_replaced_as_well(string field)
    {
        var big = field + "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"" + new string('x', 300 * 1024) + "\"}]}}";
        await using var stream = new BoundedLineStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(big)), 64 * 1024, "s", (_, _) => { });
        using var reader = new StreamReader(stream);
        var text = await reader.ReadToEndAsync();

        Assert.StartsWith(field + "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32603,", text, StringComparison.Ordinal);
        Assert.False(text.EndsWith('\n'));
        Assert.Equal(7, (int)JsonNode.Parse(text[field.Length..])!["id"]!);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":42,"result":{"content":[""", "]}}", "42")]
    [InlineData("""{"result":{"content":[""", """]},"jsonrpc":"2.0","id":"a\"b"}""", "\"a\\\"b\"")]
    [InlineData("""{"jsonrpc":"2.0","method":"notifications/message","params":{"data":[""", "]}}", null)]
    [InlineData("""{"result":{"x":{"id":7}},"jsonrpc":"2.0","y":[""", """],"z":{"id":7}}""", null)]
    public async Task A_line_past_the_limit_is_never_kept_and_an_answer_is_replaced_by_an_error_for_its_id(string start, string end, string? id)
    {
        var big = start + string.Concat(Enumerable.Repeat("\"0123456789\",", 20_000)) + "\"z\"" + end;
        var input = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n" + big + "\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n";
        var seen = new List<(string? Id, long Size)>();
        await using var stream = new BoundedLineStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(input)), 64 * 1024, "s", (i, size) => seen.Add((i, size)));
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        Assert.Equal((id, (long)System.Text.Encoding.UTF8.GetByteCount(big)), Assert.Single(seen));
        Assert.Equal("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", lines[0]);
        Assert.Equal("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}", lines[^1]);
        if (id is null)
        {
            Assert.Equal(2, lines.Count);
        }
        else
        {
            Assert.Equal(3, lines.Count);
            var error = JsonNode.Parse(lines[1])!;
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(id), error["id"]), error.ToJsonString());
            Assert.Equal(-32603, (int)error["error"]!["code"]!);
            Assert.StartsWith("Steward: the answer of \"s\" is", (string)error["error"]!["message"]!, StringComparison.Ordinal);
        }
    }
}
