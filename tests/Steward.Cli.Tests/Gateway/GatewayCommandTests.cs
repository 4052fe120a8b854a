using System.Diagnostics;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// <c>steward gateway</c> as the child process of real MCP clients (the C# SDK client and the MCP Inspector in
/// <c>--cli</c> mode on Node 22), fronting server-everything started through real npx (offline, from tests/node).
/// </summary>
public sealed class GatewayCommandTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    private static string Steward => Path.Combine(AppContext.BaseDirectory, "steward.dll");

    /// <summary>A config directory with an mcp.json running server-everything through npx, and a policy file approving it.</summary>
    internal static (string ConfigDir, string Policy) Setup(string toolRules = "[]")
    {
        NodePackages.Require();
        var dir = Path.Combine(Path.GetTempPath(), "steward-gwcli-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        File.WriteAllText(Path.Combine(dir, "mcp.json"), $$"""
            { "mcpServers": { "everything": { "command": "npx", "args": ["-y", "{{spec}}"] } } }
            """);
        var policy = Path.Combine(dir, "policy.json");
        File.WriteAllText(policy, $$"""
            {
              "registry": { "servers": [ { "server": {
                "name": "everything", "description": "The MCP reference test server", "version": "{{NodePackages.ServerEverythingVersion}}",
                "packages": [ { "registryType": "npm", "identifier": "{{NodePackages.ServerEverything}}", "version": "{{NodePackages.ServerEverythingVersion}}", "transport": { "type": "stdio" } } ]
              } } ] },
              "toolRules": {{toolRules}}
            }
            """);
        return (dir, policy);
    }

    private static Dictionary<string, string?> Environment(string configDir) => new()
    {
        ["STEWARD_CONFIG_DIR"] = configDir,
        ["PATH"] = NodePackages.PathWith(),
        ["npm_config_offline"] = "true",
    };

    private static async Task<McpClient> ConnectAsync(string configDir, params string[] args) =>
        await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway",
            Command = "dotnet",
            Arguments = [Steward, "gateway", .. args],
            WorkingDirectory = NodePackages.Root,
            EnvironmentVariables = Environment(configDir),
        })).WaitAsync(Guard);

    [NodeFact]
    public async Task The_sdk_client_launches_the_aggregated_gateway_and_calls_a_prefixed_tool()
    {
        var (dir, policy) = Setup("""[ { "pattern": "everything/get-env", "effect": "deny" } ]""");
        await using var client = await ConnectAsync(dir, "--policy", policy);

        var names = (await client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.Contains("everything__echo", names);
        Assert.DoesNotContain("everything__get-env", names);
        var result = await client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "through steward" });
        Assert.Equal("Echo: through steward", string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text)));
        Assert.Equal("steward-gateway", client.ServerInfo?.Name);

        var audit = JsonDocument.Parse(AuditFile.Final(Path.Combine(dir, "audit.jsonl")).Single()).RootElement;
        Assert.Equal("echo", audit.GetProperty("tool").GetString());
        Assert.Contains("\"everything\" is up", File.ReadAllText(Path.Combine(dir, "steward.log")));
    }

    [NodeFact]
    public async Task The_per_server_gateway_keeps_names_unchanged_and_follows_the_policy_file()
    {
        var (dir, policy) = Setup();
        using var changed = new SemaphoreSlim(0);
        await using var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway",
            Command = "dotnet",
            Arguments = [Steward, "gateway", "--server", "everything", "--policy", policy],
            WorkingDirectory = NodePackages.Root,
            EnvironmentVariables = Environment(dir),
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

        Assert.Contains("echo", (await client.ListToolsAsync()).Select(t => t.Name));
        var sum = await client.CallToolAsync("get-sum", new Dictionary<string, object?> { ["a"] = 20, ["b"] = 22 });
        Assert.Contains("42", string.Concat(sum.Content.OfType<TextContentBlock>().Select(b => b.Text)));

        // The administrator replaces the approved package with another: what runs is no longer approved, so it stops.
        var emptied = File.ReadAllText(policy).Replace($"\"identifier\": \"{NodePackages.ServerEverything}\"", "\"identifier\": \"@example/other-server\"", StringComparison.Ordinal);
        Assert.NotEqual(File.ReadAllText(policy), emptied);
        var next = policy + ".next";
        File.WriteAllText(next, emptied);
        File.Move(next, policy, overwrite: true);
        // Each tools/list_changed is a moment to look again (the upstream may send its own first).
        var deadline = Stopwatch.StartNew();
        while ((await client.ListToolsAsync()).Count > 0)
        {
            Assert.True(await changed.WaitAsync(Guard - deadline.Elapsed), "no tools/list_changed after the policy file changed");
        }
    }

    /// <summary>
    /// The seed's first incident step is "disable the server in your configuration": a running gateway follows the
    /// developer's mcp.json — <c>steward mcp disable</c>, <c>remove</c>, a hand edit — stopping, starting or relaunching
    /// exactly the servers concerned, with no host restart; an invalid edit changes nothing.
    /// </summary>
    [NodeFact]
    public async Task A_running_gateway_follows_mcp_json_edits_and_touches_only_the_servers_concerned()
    {
        var (dir, policy) = Setup();
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        string Entry(string name) => $$""" "{{name}}": { "command": "npx", "args": ["-y", "{{spec}}"] } """;
        var mcpJson = Path.Combine(dir, "mcp.json");
        File.WriteAllText(mcpJson, $$"""{ "mcpServers": { {{Entry("alpha")}}, {{Entry("beta")}} } }""");
        using var changed = new SemaphoreSlim(0);
        await using var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway",
            Command = "dotnet",
            Arguments = [Steward, "gateway", "--policy", policy],
            WorkingDirectory = NodePackages.Root,
            EnvironmentVariables = Environment(dir),
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

        async Task<List<string>> ToolsAsync() => [.. (await client.ListToolsAsync()).Select(t => t.Name)];
        async Task UntilAsync(Func<List<string>, bool> done, string what)
        {
            var waited = Stopwatch.StartNew();
            while (!done(await ToolsAsync()))
            {
                Assert.True(waited.Elapsed < Guard, what);
                await changed.WaitAsync(TimeSpan.FromMilliseconds(500));
            }
        }

        var first = await ToolsAsync();
        Assert.Contains("alpha__echo", first);
        Assert.Contains("beta__echo", first);

        // `steward mcp disable beta`, run while the gateway runs: beta stops, alpha keeps running untouched.
        var disabled = await AgentCommands.AgentCliRunner.RunProcessAsync(dir, NodePackages.Root!, "mcp", "disable", "beta");
        Assert.True(disabled.ExitCode == 0, disabled.Stdout + disabled.Stderr);
        await UntilAsync(t => !t.Any(n => n.StartsWith("beta__", StringComparison.Ordinal)), "beta still listed after `steward mcp disable beta`");
        var echo = await client.CallToolAsync("alpha__echo", new Dictionary<string, object?> { ["message"] = "still here" });
        Assert.Equal("Echo: still here", string.Concat(echo.Content.OfType<TextContentBlock>().Select(b => b.Text)));

        // A hand edit (in place, as an editor saves) adds gamma: it starts, and alpha is not relaunched.
        File.WriteAllText(mcpJson, File.ReadAllText(mcpJson).Replace("\"mcpServers\": {", "\"mcpServers\": { " + Entry("gamma") + ",", StringComparison.Ordinal));
        await UntilAsync(t => t.Contains("gamma__echo"), "gamma not listed after it was added to mcp.json");

        // A half-saved file is refused with its problem in the log, and every server keeps running.
        var good = File.ReadAllText(mcpJson);
        File.WriteAllText(mcpJson, good[..(good.Length / 2)]);
        var log = Path.Combine(dir, "steward.log");
        var seen = Stopwatch.StartNew();
        while (!File.ReadAllText(log).Contains("keep running as configured before", StringComparison.Ordinal))
        {
            Assert.True(seen.Elapsed < Guard, "no warning for the invalid mcp.json");
            await Task.Delay(200);
        }

        Assert.Contains("gamma__echo", await ToolsAsync());
        File.WriteAllText(mcpJson, good);

        // `steward mcp remove gamma`: gone.
        var removed = await AgentCommands.AgentCliRunner.RunProcessAsync(dir, NodePackages.Root!, "mcp", "remove", "gamma");
        Assert.True(removed.ExitCode == 0, removed.Stdout + removed.Stderr);
        await UntilAsync(t => !t.Contains("gamma__echo") && t.Contains("alpha__echo"), "gamma still listed after `steward mcp remove gamma`");

        var text = File.ReadAllText(log);
        Assert.Equal(1, CountOf(text, "Starting \"alpha\""));
        Assert.Equal(1, CountOf(text, "Starting \"gamma\""));
    }

    private static int CountOf(string text, string what)
    {
        var count = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    [NodeFact]
    public async Task The_mcp_inspector_cli_on_node_22_lists_and_calls_tools_through_the_gateway()
    {
        var (dir, policy) = Setup();
        var listed = await InspectorAsync(dir, policy, "--method", "tools/list");
        Assert.Equal(0, listed.ExitCode);
        var names = JsonDocument.Parse(listed.Stdout[listed.Stdout.IndexOf('{', StringComparison.Ordinal)..]).RootElement.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();
        Assert.Contains("everything__echo", names);
        Assert.Contains("everything__get-sum", names);

        var called = await InspectorAsync(dir, policy, "--method", "tools/call", "--tool-name", "everything__echo", "--tool-arg", "message=inspected");
        Assert.Equal(0, called.ExitCode);
        Assert.Contains("Echo: inspected", called.Stdout);

        var read = await InspectorAsync(dir, policy, "--method", "resources/read", "--uri", "demo://resource/dynamic/text/7");
        Assert.Contains("Resource 7", read.Stdout);

        var prompt = await InspectorAsync(dir, policy, "--method", "prompts/get", "--prompt-name", "everything__args-prompt", "--prompt-args", "city=Ghent");
        Assert.Contains("Ghent", prompt.Stdout);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> InspectorAsync(string configDir, string policy, params string[] method)
    {
        var start = new ProcessStartInfo(NodePackages.Node22)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = NodePackages.Root,
        };
        start.Environment["PATH"] = NodePackages.PathWith();
        foreach (var arg in new[] { NodePackages.InspectorScript, "--cli", "-e", "STEWARD_CONFIG_DIR=" + configDir, "-e", "npm_config_offline=true",
                     "-e", "PATH=" + NodePackages.PathWith(), "dotnet", Steward, "gateway", "--policy", policy }.Concat(method))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Guard);
        return (process.ExitCode, await stdout, await stderr);
    }
}
