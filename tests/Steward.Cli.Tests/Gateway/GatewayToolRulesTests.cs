using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Tests.Support;
using Steward.Cli.Tests.AgentCommands;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// Tool rules along their whole path: the administrator sets a deny and an ask rule through the admin API of a real
/// Steward server; a RUNNING <c>steward gateway</c> process (logged in, no local policy file, a real server-everything
/// upstream from npx) receives them through the change channel — the profile's sync interval is a day, so only the
/// channel explains it —, stops listing the denied tool, refuses a call to it with the rule's reason, and asks before
/// the other. <c>steward policy explain tool</c> names the rule; a local <c>--policy</c> file adds its own rules (deny
/// wins) without replacing the server's policy.
/// </summary>
public sealed class GatewayToolRulesTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);
    private const string Entry = "io.github.modelcontextprotocol/server-everything";
    private readonly string _dir = Directory.CreateTempSubdirectory("steward-gwrules-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Steward => Path.Combine(AppContext.BaseDirectory, "steward.dll");

    private static async Task SendAsync(HttpClient client, HttpMethod method, string path, string json)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private async Task<string> LoggedInAsync(StewardServerHost server, string account)
    {
        var config = Path.Combine(_dir, account);
        Directory.CreateDirectory(config);
        var login = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, "login", server.BaseUrl, "--token", await server.DeveloperTokenAsync(account), "--allow-http");
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        File.WriteAllText(Path.Combine(config, "mcp.json"), $$"""{ "mcpServers": { "everything": { "command": "npx", "args": ["-y", "{{spec}}"] } } }""");
        return config;
    }

    private static async Task<McpClient> GatewayAsync(string config, SemaphoreSlim changed, params string[] extra) =>
        await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway",
            Command = "dotnet",
            Arguments = [Steward, "gateway", "--server", "everything", .. extra],
            WorkingDirectory = NodePackages.Root,
            ShutdownTimeout = TimeSpan.FromSeconds(30),
            EnvironmentVariables = new Dictionary<string, string?>
            {
                ["STEWARD_CONFIG_DIR"] = config,
                ["STEWARD_TOKEN"] = null,
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

    private static async Task UntilAsync(McpClient client, SemaphoreSlim changed, Func<IList<McpClientTool>, bool> done)
    {
        var elapsed = Stopwatch.StartNew();
        while (!done(await client.ListToolsAsync().AsTask().WaitAsync(Guard)))
        {
            Assert.True(await changed.WaitAsync(Guard - elapsed.Elapsed), "no tools/list_changed came within the guard");
        }
    }

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text));

    [NodeFact]
    public async Task Rules_the_admin_sets_reach_a_running_gateway_through_the_change_channel_which_hides_and_refuses_the_denied_tool_with_the_reason()
    {
        NodePackages.Require();
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System);
        await server.PutProfileAsync("""{"syncIntervalSeconds":86400}""");
        var config = await LoggedInAsync(server, "platform");
        using var changed = new SemaphoreSlim(0);
        await using var client = await GatewayAsync(config, changed);
        var before = (await client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name).ToList();
        Assert.Contains("get-env", before);
        Assert.Equal("Echo: before", Text(await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "before" }).AsTask().WaitAsync(Guard)));

        using (var admin = server.Client())
        {
            await SendAsync(admin, HttpMethod.Patch, "api/v1/orgs/demo/profile", $$"""
                {"toolRules":[
                  {"pattern":"{{Entry}}/get-env","effect":"deny","reason":"environment variables may hold secrets (ticket SEC-12)"},
                  {"pattern":"{{Entry}}/echo","effect":"ask"}
                ]}
                """);
        }

        await UntilAsync(client, changed, tools => !tools.Any(t => t.Name == "get-env"));
        var after = (await client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name).ToList();
        Assert.Contains("echo", after);
        Assert.Contains("get-sum", after);

        var denied = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("get-env").AsTask().WaitAsync(Guard));
        Assert.Contains("denied by your organisation's policy", denied.Message, StringComparison.Ordinal);
        Assert.Contains("environment variables may hold secrets (ticket SEC-12)", denied.Message, StringComparison.Ordinal);

        // This host cannot elicit: the ask rule refuses with what to do instead of running the tool.
        var asked = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "after" }).AsTask().WaitAsync(Guard);
        Assert.True(asked.IsError);
        Assert.Contains("requires your approval", Text(asked), StringComparison.Ordinal);

        var log = File.ReadAllText(Path.Combine(config, "steward.log"));
        Assert.Contains("announced a policy change", log, StringComparison.Ordinal);
        var audit = File.ReadAllLines(Path.Combine(config, "audit.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(audit, l => l.GetProperty("tool").GetString() == "get-env" && l.GetProperty("decision").GetString() == "deny"
                                     && l.GetProperty("because").GetString() == $"rule {Entry}/get-env");

        var explained = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, "policy", "explain", "tool", "everything/get-env", "--json");
        Assert.Equal(1, explained.ExitCode);
        using var explanation = JsonDocument.Parse(explained.Stdout);
        Assert.Equal("deny", explanation.RootElement.GetProperty("verdict").GetString());
        Assert.Equal("rule", explanation.RootElement.GetProperty("decidedBy").GetString());
        Assert.Equal(Entry, explanation.RootElement.GetProperty("registryName").GetString());
        Assert.Equal("environment variables may hold secrets (ticket SEC-12)", explanation.RootElement.GetProperty("rule").GetProperty("reason").GetString());
        Assert.Equal("profile", explanation.RootElement.GetProperty("rule").GetProperty("origin").GetString());

        var allowed = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, "policy", "explain", "tool", "everything/get-sum");
        Assert.True(allowed.ExitCode == 0, allowed.Stdout + allowed.Stderr);
        Assert.Contains("allowed", allowed.Stdout, StringComparison.Ordinal);
        Assert.Contains("no rule matches it", allowed.Stdout, StringComparison.Ordinal);
    }

    [NodeFact]
    public async Task A_local_policy_file_on_a_logged_in_machine_adds_its_rules_to_the_servers_and_cannot_allow_what_the_profile_denies()
    {
        NodePackages.Require();
        await using var server = await StewardServerHost.StartAsync(TimeProvider.System);
        await server.PutProfileAsync($$"""{"syncIntervalSeconds":86400,"toolRules":[{"pattern":"{{Entry}}/get-env","effect":"deny","reason":"no secrets"}]}""");
        var config = await LoggedInAsync(server, "platform");
        // The file allows everything and denies get-sum; its (empty) registry must not replace the server's allowlist.
        var policy = Path.Combine(config, "local-policy.json");
        File.WriteAllText(policy, """{"registry":{"servers":[]},"toolRules":[{"pattern":"*","effect":"allow"},{"pattern":"everything/get-sum","effect":"deny","reason":"local review"}]}""");

        using var changed = new SemaphoreSlim(0);
        await using var client = await GatewayAsync(config, changed, "--policy", policy);
        var tools = (await client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name).ToList();
        Assert.Contains("echo", tools);
        Assert.DoesNotContain("get-env", tools);
        Assert.DoesNotContain("get-sum", tools);
        var local = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("get-sum", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }).AsTask().WaitAsync(Guard));
        Assert.Contains("denied by the local policy file", local.Message, StringComparison.Ordinal);
        Assert.Contains("local review", local.Message, StringComparison.Ordinal);

        var explained = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, "policy", "explain", "tool", "everything/get-sum", "--policy", policy, "--json");
        Assert.Equal(1, explained.ExitCode);
        using var explanation = JsonDocument.Parse(explained.Stdout);
        Assert.Equal("local-file", explanation.RootElement.GetProperty("rule").GetProperty("origin").GetString());
        Assert.Equal(3, explanation.RootElement.GetProperty("rules").GetArrayLength());
    }
}
