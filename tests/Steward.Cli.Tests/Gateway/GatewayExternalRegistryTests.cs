using System.Diagnostics;
using System.Net;
using System.Text;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Tests.Support;
using Steward.Cli.Tests.AgentCommands;
using Steward.Tests.Tls;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// A registry at an https URL on 127.0.0.1 whose certificate a test CA signed (trusted only where the test names it:
/// <c>STEWARD_OUTBOUND_CA_FILE</c>, <c>ServeOptions.OutboundCaFile</c>), followed by a running <c>steward gateway</c>:
/// through a Steward server whose profile's registry is external, and as a <c>steward login --registry</c> source.
/// </summary>
public sealed class GatewayExternalRegistryTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);
    private readonly string _dir = Directory.CreateTempSubdirectory("steward-gwext-").FullName;
    private readonly TestCa _ca;

    public GatewayExternalRegistryTests() => _ca = TestCa.Create(Path.Combine(_dir, "ca"));

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Steward => Path.Combine(AppContext.BaseDirectory, "steward.dll");

    /// <summary>A Kiro registry file approving one npm package at the pinned server-everything version.</summary>
    private static string Kiro(string identifier) => $$"""
        { "servers": [ { "server": {
            "name": "everything", "description": "The MCP reference test server", "version": "{{NodePackages.ServerEverythingVersion}}",
            "packages": [ { "registryType": "npm", "identifier": "{{identifier}}", "version": "{{NodePackages.ServerEverythingVersion}}", "transport": { "type": "stdio" } } ]
        } } ] }
        """;

    private static async Task<McpClient> GatewayAsync(string config, SemaphoreSlim changed, Dictionary<string, string?> environment)
    {
        environment["STEWARD_CONFIG_DIR"] = config;
        environment["STEWARD_TOKEN"] = null;
        environment["PATH"] = NodePackages.PathWith();
        environment["npm_config_offline"] = "true";
        return await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway",
            Command = "dotnet",
            Arguments = [Steward, "gateway", "--server", "everything"],
            WorkingDirectory = NodePackages.Root,
            ShutdownTimeout = TimeSpan.FromSeconds(30),
            EnvironmentVariables = environment,
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
    }

    private static async Task<string> EchoAsync(McpClient client, string message)
    {
        var echo = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = message }).AsTask().WaitAsync(Guard);
        return string.Concat(echo.Content.OfType<TextContentBlock>().Select(b => b.Text));
    }

    private static void WriteMcpJson(string config)
    {
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        File.WriteAllText(Path.Combine(config, "mcp.json"), $$"""{ "mcpServers": { "everything": { "command": "npx", "args": ["-y", "{{spec}}"] } } }""");
    }

    private static async Task SendAsync(HttpClient client, HttpMethod method, string path, string? json, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {body}");
    }

    [NodeFact]
    public async Task A_developer_of_a_profile_with_an_external_registry_gets_its_servers_admitted_through_a_running_gateway()
    {
        NodePackages.Require();
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro(NodePackages.ServerEverything);
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow), configure: o => o with { OutboundCaFile = _ca.CaFile });
        using (var admin = server.Client())
        {
            await SendAsync(admin, HttpMethod.Put, "api/v1/orgs/demo/profile", $$"""{"registryMode":"external","registryUrl":"{{registry.Url}}"}""", HttpStatusCode.OK);
            await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/profile/registry-sync", null, HttpStatusCode.OK);
        }

        var token = await server.DeveloperTokenAsync("platform");
        var config = Path.Combine(_dir, "developer");
        Directory.CreateDirectory(config);
        var login = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, "login", server.BaseUrl, "--token", token, "--allow-http");
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        Assert.Contains("1 approved server", login.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("no server is admitted", login.Stdout, StringComparison.Ordinal);
        WriteMcpJson(config);

        using var changed = new SemaphoreSlim(0);
        await using var client = await GatewayAsync(config, changed, []);
        Assert.Equal("Echo: external", await EchoAsync(client, "external"));

        // The external registry stops approving the package; the admin refreshes; the developer's next sync stops it.
        registry.Document = Kiro("@example/other-server");
        using (var admin = server.Client())
        {
            await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/profile/registry-sync", null, HttpStatusCode.OK);
        }

        var sync = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, new Dictionary<string, string?> { ["STEWARD_TOKEN"] = null }, "sync");
        Assert.True(sync.ExitCode == 0, sync.Stdout + sync.Stderr);
        await UntilAsync(client, changed, tools => tools.Count == 0);
    }

    [NodeFact]
    public async Task A_running_gateway_picks_up_an_edit_of_a_login_registry_source_on_its_interval_asking_with_If_None_Match()
    {
        NodePackages.Require();
        await using var registry = await HttpsRegistry.StartAsync(_ca.Server);
        registry.Document = Kiro(NodePackages.ServerEverything);
        var config = Path.Combine(_dir, "developer");
        Directory.CreateDirectory(config);
        var trust = new Dictionary<string, string?> { [Core.Net.OutboundTrust.Variable] = _ca.CaFile };

        // Without the CA named, the certificate is refused and nothing is changed.
        var refused = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, "login", "--registry", registry.Url, "--interval", "5s");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("not accepted", refused.Stdout + refused.Stderr, StringComparison.Ordinal);
        var tooShort = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, trust, "login", "--registry", registry.Url, "--interval", "1s");
        Assert.NotEqual(0, tooShort.ExitCode);
        Assert.Contains("--interval 1s", tooShort.Stdout + tooShort.Stderr, StringComparison.Ordinal);

        var login = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, trust, "login", "--registry", registry.Url, "--interval", "5s");
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        Assert.Contains("fetches it again every 5s", login.Stdout, StringComparison.Ordinal);
        WriteMcpJson(config);
        using var changed = new SemaphoreSlim(0);
        await using var client = await GatewayAsync(config, changed, new Dictionary<string, string?>(trust));
        Assert.Equal("Echo: file", await EchoAsync(client, "file"));

        // Unchanged: the gateway asks again with the ETag and is answered 304.
        var deadline = Stopwatch.StartNew();
        while (!registry.Requests.ToArray().Any(r => r.IfNoneMatch is not null && r.Status == 304))
        {
            Assert.True(deadline.Elapsed < Guard, "the gateway did not fetch the registry again with If-None-Match");
            await Task.Delay(200);
        }

        // The file is edited upstream: with no `steward sync`, the running gateway stops the server on its next fetch.
        registry.Document = Kiro("@example/other-server");
        await UntilAsync(client, changed, tools => tools.Count == 0);
        Assert.Contains(registry.Requests.ToArray(), r => r.IfNoneMatch is not null && r.Status == 200);
    }

    /// <summary>Each tools/list_changed is a moment to look again (the upstream may send its own first).</summary>
    private static async Task UntilAsync(McpClient client, SemaphoreSlim changed, Func<IList<McpClientTool>, bool> done)
    {
        var deadline = Stopwatch.StartNew();
        while (!done(await client.ListToolsAsync().AsTask().WaitAsync(Guard)))
        {
            Assert.True(await changed.WaitAsync(Guard - deadline.Elapsed), "no tools/list_changed after the change");
        }
    }
}
