using System.Text.RegularExpressions;
using ModelContextProtocol.Client;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// Hosts start one gateway per server, all at once, all appending to one <c>steward.log</c>: real gateway processes
/// started together, each serving and calling its server, leave only whole lines.
/// </summary>
public sealed partial class GatewayLogFileTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(120);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (trce|dbug|info|warn|fail|crit) [A-Za-z.]+\[\d+\] \S.*$")]
    private static partial Regex WholeLine();

    [NodeFact]
    public async Task Gateway_processes_started_together_write_only_whole_lines_to_one_log()
    {
        const int gateways = 6;
        var (dir, policy) = GatewayCommandTests.Setup();
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        // Six configured servers (one per host entry), each run by its own per-server gateway.
        File.WriteAllText(Path.Combine(dir, "mcp.json"), "{ \"mcpServers\": {" + string.Join(",", Enumerable.Range(0, gateways).Select(i =>
            $"\"everything-{i}\": {{ \"command\": \"npx\", \"args\": [\"-y\", \"{spec}\"] }}")) + "} }");

        var clients = await Task.WhenAll(Enumerable.Range(0, gateways).Select(i => McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "gateway-" + i,
            Command = "dotnet",
            Arguments = [Path.Combine(AppContext.BaseDirectory, "steward.dll"), "gateway", "--server", "everything-" + i, "--policy", policy],
            WorkingDirectory = NodePackages.Root,
            EnvironmentVariables = new Dictionary<string, string?> { ["STEWARD_CONFIG_DIR"] = dir, ["PATH"] = NodePackages.PathWith(), ["npm_config_offline"] = "true" },
        })))).WaitAsync(Guard);
        try
        {
            await Task.WhenAll(clients.Select(async client =>
            {
                for (var call = 0; call < 5; call++)
                {
                    var result = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "line " + call });
                    Assert.NotEqual(true, result.IsError);
                }
            })).WaitAsync(Guard);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        var lines = File.ReadAllLines(Path.Combine(dir, "steward.log"));
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Matches(WholeLine(), line));
        for (var i = 0; i < gateways; i++)
        {
            Assert.Single(lines, l => l.Contains($"\"everything-{i}\" is up", StringComparison.Ordinal));
        }
    }
}
