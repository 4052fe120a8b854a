using System.Diagnostics;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Cli.Tests.AgentCommands;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// <c>steward gateway</c> without <c>--policy</c>: the policy of <c>steward login --registry &lt;file&gt;</c>, from the
/// verified cache, followed across <c>steward sync</c> runs; <c>${VAR}</c> resolved from the secrets file.
/// </summary>
public sealed class GatewaySyncTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    private static string Steward => Path.Combine(AppContext.BaseDirectory, "steward.dll");

    private static string Registry(string identifier) => $$"""
        { "servers": [ { "server": {
            "name": "everything", "description": "The MCP reference test server", "version": "{{NodePackages.ServerEverythingVersion}}",
            "packages": [ { "registryType": "npm", "identifier": "{{identifier}}", "version": "{{NodePackages.ServerEverythingVersion}}", "transport": { "type": "stdio" } } ]
        } } ] }
        """;

    private static void Replace(string path, string content)
    {
        var next = path + ".next";
        File.WriteAllText(next, content);
        File.Move(next, path, overwrite: true);
    }

    [NodeFact]
    public async Task The_gateway_follows_the_synced_registry_file_and_resolves_secrets_from_the_secrets_file()
    {
        NodePackages.Require();
        var dir = Path.Combine(Path.GetTempPath(), "steward-gwsync-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var registry = Path.Combine(dir, "registry.json");
        File.WriteAllText(registry, Registry(NodePackages.ServerEverything));
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        // The secret is only in the 0600 secrets file: the gateway must resolve ${STEWARD_EVERYTHING_TOKEN} from it.
        File.WriteAllText(Path.Combine(dir, "mcp.json"), $$"""
            { "mcpServers": { "everything": { "command": "npx", "args": ["-y", "{{spec}}"], "env": { "EVERYTHING_TOKEN": "${STEWARD_EVERYTHING_TOKEN}" } } } }
            """);
        File.WriteAllText(Path.Combine(dir, "secrets.json"), """{ "STEWARD_EVERYTHING_TOKEN": "from-the-secrets-file" }""");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(dir, "secrets.json"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var login = await AgentCliRunner.RunProcessAsync(dir, NodePackages.Root!, "login", "--registry", registry);
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);

        using var changed = new SemaphoreSlim(0);
        await using var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway",
            Command = "dotnet",
            Arguments = [Steward, "gateway", "--server", "everything"],
            WorkingDirectory = NodePackages.Root,
            EnvironmentVariables = new Dictionary<string, string?>
            {
                ["STEWARD_CONFIG_DIR"] = dir,
                ["PATH"] = NodePackages.PathWith(),
                ["npm_config_offline"] = "true",
            },
        }), new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) =>
                {
                    changed.Release();
                    return ValueTask.CompletedTask;
                })],
            },
        }).WaitAsync(Guard);

        var echo = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "synced" }).AsTask().WaitAsync(Guard);
        Assert.Equal("Echo: synced", string.Concat(echo.Content.OfType<TextContentBlock>().Select(b => b.Text)));
        var env = await client.CallToolAsync("get-env", new Dictionary<string, object?>()).AsTask().WaitAsync(Guard);
        Assert.Contains("from-the-secrets-file", string.Concat(env.Content.OfType<TextContentBlock>().Select(b => b.Text)));

        // The administrator replaces the approved package; `steward sync` (another process) verifies and caches it: the upstream stops.
        Replace(registry, Registry("@example/other-server"));
        var sync = await AgentCliRunner.RunProcessAsync(dir, NodePackages.Root!, "sync");
        Assert.True(sync.ExitCode == 0, sync.Stdout + sync.Stderr);
        await UntilAsync(client, changed, tools => tools.Count == 0);

        // Approved again: the next sync starts it again.
        Replace(registry, Registry(NodePackages.ServerEverything));
        sync = await AgentCliRunner.RunProcessAsync(dir, NodePackages.Root!, "sync");
        Assert.True(sync.ExitCode == 0, sync.Stdout + sync.Stderr);
        await UntilAsync(client, changed, tools => tools.Any(t => t.Name == "echo"));
        echo = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "again" }).AsTask().WaitAsync(Guard);
        Assert.Equal("Echo: again", string.Concat(echo.Content.OfType<TextContentBlock>().Select(b => b.Text)));

        var log = File.ReadAllText(Path.Combine(dir, "steward.log"));
        Assert.DoesNotContain("from-the-secrets-file", log);
    }

    /// <summary>Each tools/list_changed is a moment to look again (the upstream may send its own first).</summary>
    private static async Task UntilAsync(McpClient client, SemaphoreSlim changed, Func<IList<McpClientTool>, bool> done)
    {
        var deadline = Stopwatch.StartNew();
        while (!done(await client.ListToolsAsync().AsTask().WaitAsync(Guard)))
        {
            Assert.True(await changed.WaitAsync(Guard - deadline.Elapsed), "no tools/list_changed after the sync");
        }
    }
}
