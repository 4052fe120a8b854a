using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// The per-server shape a host config has after <c>steward mcp export-host</c>: one <c>steward gateway --server</c>
/// process per server, all appending to the same <c>audit.jsonl</c> while their calls overlap; <c>steward audit verify
/// --file</c> finds one intact chain with every call once.
/// </summary>
public sealed class GatewayAuditChainTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(120);

    [NodeFact]
    public async Task Per_server_gateways_calling_at_once_write_one_audit_chain_with_every_call_once()
    {
        string[] servers = ["alpha", "beta", "gamma"];
        const int Rounds = 30;
        var (dir, policy) = GatewayCommandTests.Setup();
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        File.WriteAllText(Path.Combine(dir, "mcp.json"), JsonSerializer.Serialize(new
        {
            mcpServers = servers.ToDictionary(s => s, _ => new { command = "npx", args = new[] { "-y", spec } }),
        }));
        // The argument values in the audit lines tell the calls apart.
        var document = JsonNode.Parse(File.ReadAllText(policy))!;
        document["auditArguments"] = true;
        File.WriteAllText(policy, document.ToJsonString());

        var clients = await Task.WhenAll(servers.Select(server => McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway-" + server,
            Command = "dotnet",
            Arguments = [Path.Combine(AppContext.BaseDirectory, "steward.dll"), "gateway", "--server", server, "--policy", policy],
            WorkingDirectory = NodePackages.Root,
            EnvironmentVariables = new Dictionary<string, string?>
            {
                ["STEWARD_CONFIG_DIR"] = dir,
                ["PATH"] = NodePackages.PathWith(),
                ["npm_config_offline"] = "true",
            },
        })))).WaitAsync(Guard);
        try
        {
            async Task Echo(McpClient client, string message)
            {
                var result = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = message });
                Assert.Equal("Echo: " + message, string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text)));
            }

            // A first call each (so that no gateway is still starting up), then rounds in which every gateway is called
            // at once, twice: the gateways' appends overlap in every round.
            await Task.WhenAll(clients.Zip(servers).Select(p => Echo(p.First, $"{p.Second}-warm"))).WaitAsync(Guard);
            for (var round = 0; round < Rounds; round++)
            {
                await Task.WhenAll(clients.Zip(servers).SelectMany(p => new[] { Echo(p.First, $"{p.Second}-{round}a"), Echo(p.First, $"{p.Second}-{round}b") })).WaitAsync(Guard);
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        var audit = Path.Combine(dir, "audit.jsonl");
        var verify = await CliRunner.RunProcessAsync("audit", "verify", "--file", audit, "--json");
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        var verified = JsonNode.Parse(verify.Stdout)!;
        Assert.True((bool)verified["intact"]!);
        var expected = servers.SelectMany(s => Enumerable.Range(0, Rounds).SelectMany(r => new[] { $"{s}-{r}a", $"{s}-{r}b" }).Prepend($"{s}-warm").Select(m => (s, m))).ToList();
        // Each call is two records: "sent" before it went upstream, its outcome after.
        Assert.Equal(2 * expected.Count, (long)verified["records"]!);

        var calls = AuditFile.Final(audit).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.All(calls, c => Assert.Equal(("allow", "ok"), ((string)c["decision"]!, (string)c["outcome"]!)));
        Assert.Equal(
            expected.Order(),
            calls.Select(c => ((string)c["server"]!, (string)c["arguments"]!["message"]!)).Order());
    }
}
