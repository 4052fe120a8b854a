using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Steward.Agent.Gateway;

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

        var outcomes = File.ReadAllLines(harness.AuditLog).Select(l => (string)JsonNode.Parse(l)!["outcome"]!).ToList();
        Assert.Equal(["ok", "too_large", "ok"], outcomes);
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
