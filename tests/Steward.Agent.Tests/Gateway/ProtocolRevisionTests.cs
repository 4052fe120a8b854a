using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// The gateway speaks each revision a host asks for and connects to an upstream whatever revision it answers: a real
/// SDK client asking for each revision, in front of a real Node stdio server answering each revision.
/// </summary>
public sealed class ProtocolRevisionTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    /// <summary>A stdio MCP server in plain Node that answers <c>initialize</c> with the revision in its environment, whatever was asked.</summary>
    private const string ServerScript = """
        const readline = require('readline');
        const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
        const revision = process.env.UPSTREAM_REVISION;
        let asked = null;
        readline.createInterface({ input: process.stdin }).on('line', (line) => {
          let m;
          try { m = JSON.parse(line); } catch { return; }
          if (m.id === undefined) return;
          switch (m.method) {
            case 'initialize':
              asked = m.params.protocolVersion;
              send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: revision, capabilities: { tools: {} }, serverInfo: { name: 'rev-test', version: '1.0.0' } } });
              break;
            case 'tools/list':
              send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'hello', description: 'Says which revision it speaks', inputSchema: { type: 'object' } }] } });
              break;
            case 'tools/call':
              send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `hello from ${revision} (asked ${asked})` }] } });
              break;
            case 'ping':
              send({ jsonrpc: '2.0', id: m.id, result: {} });
              break;
            default:
              send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no such method' } });
          }
        });
        """;

    private static readonly string[] Revisions = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

    /// <summary>What hosts speak: every session revision and the stateless 2026-07-28.</summary>
    private static readonly string[] HostRevisions = [.. Revisions, "2026-07-28"];

    public static TheoryData<string, string> Pairs()
    {
        var data = new TheoryData<string, string>();
        foreach (var host in HostRevisions)
        {
            foreach (var upstream in Revisions)
            {
                data.Add(host, upstream);
            }
        }

        return data;
    }

    [NodeTheory]
    [MemberData(nameof(Pairs))]
    public async Task A_host_of_each_revision_calls_an_upstream_of_each_revision(string hostRevision, string upstreamRevision)
    {
        var directory = GatewayHarness.TempDirectory();
        var script = Path.Combine(directory, "rev-server.cjs");
        File.WriteAllText(script, ServerScript);
        var entry = Shims.Entry("uvx", ["rev-test==1.0.0"], Path.Combine(directory, "uvx.argv"));
        entry = entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", script), new("UPSTREAM_REVISION", upstreamRevision)] };
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config(("rev", entry)), Fixtures.Policy([Fixtures.Pypi("rev", "rev-test", "1.0.0")]),
            clientOptions: new McpClientOptions { ProtocolVersion = hostRevision }, directory: directory);

        Assert.Equal(hostRevision, harness.Client.NegotiatedProtocolVersion);
        Assert.Contains("rev__hello", (await harness.Client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name));
        var result = await harness.Client.CallToolAsync("rev__hello").AsTask().WaitAsync(Guard);
        Assert.StartsWith($"hello from {upstreamRevision}", Assert.IsType<TextContentBlock>(result.Content[0]).Text, StringComparison.Ordinal);
        Assert.Null(result.IsError);
    }

    /// <summary>
    /// A host on the SDK's default opens with the stateless 2026-07-28 revision's server/discover; the gateway answers it
    /// and serves that revision, in front of an upstream that speaks 2025-06-18.
    /// </summary>
    [NodeFact]
    public async Task A_host_opening_with_server_discover_speaks_the_stateless_revision_through_the_gateway()
    {
        var directory = GatewayHarness.TempDirectory();
        var script = Path.Combine(directory, "rev-server.cjs");
        File.WriteAllText(script, ServerScript);
        var entry = Shims.Entry("uvx", ["rev-test==1.0.0"], Path.Combine(directory, "uvx.argv"));
        entry = entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", script), new("UPSTREAM_REVISION", "2025-06-18")] };
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config(("rev", entry)), Fixtures.Policy([Fixtures.Pypi("rev", "rev-test", "1.0.0")]),
            clientOptions: new McpClientOptions(), directory: directory);

        Assert.Equal("2026-07-28", harness.Client.NegotiatedProtocolVersion);
        Assert.Equal("steward-gateway", harness.Client.ServerInfo?.Name);
        var result = await harness.Client.CallToolAsync("rev__hello").AsTask().WaitAsync(Guard);
        Assert.Equal("hello from 2025-06-18 (asked 2025-06-18)", Assert.IsType<TextContentBlock>(result.Content[0]).Text);
    }
}
