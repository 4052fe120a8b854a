using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Tests.Support;
using Steward.Cli.Tests.AgentCommands;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// The whole path of a sandbox: the admin sets a profile on a registry entry through the server's API (validated,
/// audited), the developer logs in, and <c>steward gateway</c> (a child process) launches the upstream inside real
/// bubblewrap, its only way out the filtering proxy through the in-sandbox bridge. The upstream is tests/node's probe
/// server, run by a <c>uvx</c> stand-in (the pypi launch plan) that execs Node; every address is a loopback one.
/// </summary>
public sealed class SandboxEndToEndTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);
    private const string Name = "io.example/sandbox-probe";

    [SandboxFact]
    public async Task An_admins_sandbox_confines_the_developers_server_to_its_paths_and_allowlist_through_the_running_gateway()
    {
        NodePackages.Require();
        using var allowed = Echo.Start();
        using var denied = Echo.Start();
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow));
        using var admin = server.Client();
        await SendAsync(admin, HttpMethod.Post, "api/v1/orgs/demo/registry/servers",
            $$$"""{"$schema":"https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json","name":"{{{Name}}}","description":"Tries what a sandbox refuses","version":"1.0.0","packages":[{"registryType":"pypi","registryBaseUrl":"https://pypi.org","identifier":"sandbox-probe","version":"1.0.0","transport":{"type":"stdio"}}]}""",
            HttpStatusCode.Created);

        // A bad profile is refused with the path of what is wrong, and changes nothing.
        var refused = await SendAsync(admin, HttpMethod.Put, $"api/v1/orgs/demo/sandbox/servers/{Name}",
            """{"mode": "on", "network": {"mode": "allowlist", "allow": ["*"]}}""", HttpStatusCode.UnprocessableEntity);
        Assert.Contains("network.allow[0]", refused, StringComparison.Ordinal);
        await SendAsync(admin, HttpMethod.Put, $"api/v1/orgs/demo/sandbox/servers/io.example/unknown", """{"mode": "on"}""", HttpStatusCode.NotFound);

        var profile = $$$"""{"mode": "on", "files": {"paths": ["~/project"]}, "network": {"mode": "allowlist", "allow": ["127.0.0.1:{{{allowed.Port}}}"]}}""";
        await SendAsync(admin, HttpMethod.Put, $"api/v1/orgs/demo/sandbox/servers/{Name}", profile, HttpStatusCode.Created);
        var listed = JsonNode.Parse(await admin.GetStringAsync("api/v1/orgs/demo/sandbox"))!;
        Assert.Equal("allowlist", (string)listed["servers"]![Name]!["network"]!["mode"]!);
        var audit = await admin.GetStringAsync("api/v1/orgs/demo/audit");
        Assert.Contains("sandbox.create", audit, StringComparison.Ordinal);
        Assert.Contains("sandbox:server/" + Name, audit, StringComparison.Ordinal);

        var dir = Path.Combine(Path.GetTempPath(), "steward-sbx-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        var (config, home, bin) = (Path.Combine(dir, "config"), Path.Combine(dir, "home"), Path.Combine(dir, "bin"));
        Directory.CreateDirectory(config);
        Directory.CreateDirectory(Path.Combine(home, ".ssh"));
        File.WriteAllText(Path.Combine(home, ".ssh", "id_ed25519"), "PLANTED PRIVATE KEY");
        Directory.CreateDirectory(Path.Combine(home, "project"));
        File.WriteAllText(Path.Combine(home, "project", "README"), "the project");
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(bin, "uvx"), $"#!/bin/sh\nexec '{NodePackages.Node22}' \"$STEWARD_SHIM_SCRIPT\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(bin, "uvx"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var token = await server.DeveloperTokenAsync("platform");
        var login = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!, "login", server.BaseUrl, "--token", token, "--allow-http");
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        File.WriteAllText(Path.Combine(config, "mcp.json"),
            $$"""{ "mcpServers": { "probe": { "command": "uvx", "args": ["sandbox-probe==1.0.0"], "env": { "STEWARD_SHIM_SCRIPT": "{{SandboxFactAttribute.ProbeScript}}" } } } }""");

        // uvx (the stand-in) is on this machine's PATH, as the gateway below sees it: otherwise status says runner_missing.
        var status = await AgentCliRunner.RunProcessAsync(config, NodePackages.Root!,
            new Dictionary<string, string?> { ["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH") }, "mcp", "status", "probe");
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains("sandbox: will be enforced by bubblewrap", status.Stdout, StringComparison.Ordinal);
        Assert.Contains($"only 127.0.0.1:{allowed.Port}", status.Stdout, StringComparison.Ordinal);

        await using (var client = await McpClient.CreateAsync(Gateway(config, home, bin, null)).WaitAsync(Guard))
        {
            Assert.Equal("refused: ENOENT", await CallAsync(client, "read_file", new() { ["path"] = Path.Combine(home, ".ssh", "id_ed25519") }));
            Assert.Equal("ok: the project", await CallAsync(client, "read_file", new() { ["path"] = Path.Combine(home, "project", "README") }));
            Assert.Equal("refused: EROFS", await CallAsync(client, "write_file", new() { ["path"] = Path.Combine(home, "project", "planted") }));
            Assert.Equal("refused: ENOENT", await CallAsync(client, "read_file", new() { ["path"] = Path.Combine(config, "token") }));

            // Network: the allowed port works through the proxy; the other is refused by it; neither is reachable directly.
            Assert.Equal($"ok: pong {allowed.Port}", await CallAsync(client, "connect", new() { ["host"] = "127.0.0.1", ["port"] = allowed.Port, ["proxy"] = true }));
            var viaProxy = await CallAsync(client, "connect", new() { ["host"] = "127.0.0.1", ["port"] = denied.Port, ["proxy"] = true });
            Assert.StartsWith("refused: proxy 403", viaProxy, StringComparison.Ordinal);
            Assert.Contains("not in this server's network allowlist", viaProxy, StringComparison.Ordinal);
            Assert.StartsWith("refused: ECONNREFUSED", await CallAsync(client, "connect", new() { ["host"] = "127.0.0.1", ["port"] = denied.Port }), StringComparison.Ordinal);
            Assert.StartsWith("refused: ECONNREFUSED", await CallAsync(client, "connect", new() { ["host"] = "127.0.0.1", ["port"] = allowed.Port }), StringComparison.Ordinal);
        }

        Assert.Equal(1, allowed.Connections);
        Assert.Equal(0, denied.Connections);
        var log = File.ReadAllText(Path.Combine(config, "steward.log"));
        Assert.Contains("runs sandboxed (bubblewrap)", log, StringComparison.Ordinal);
        Assert.Contains($"refused a connection to 127.0.0.1:{denied.Port}", log, StringComparison.Ordinal);

        // Without bubblewrap, mode on fails closed: the server is not started, and the log says what to install.
        await using (var client = await McpClient.CreateAsync(Gateway(config, home, bin, Path.Combine(dir, "no-bwrap"))).WaitAsync(Guard))
        {
            Assert.Empty(await client.ListToolsAsync().AsTask().WaitAsync(Guard));
        }

        Assert.Contains("apt-get install bubblewrap", File.ReadAllText(Path.Combine(config, "steward.log")), StringComparison.Ordinal);
    }

    private static StdioClientTransport Gateway(string config, string home, string bin, string? bwrap) => new(new StdioClientTransportOptions
    {
        Name = "steward-gateway",
        Command = "dotnet",
        Arguments = [Path.Combine(AppContext.BaseDirectory, "steward.dll"), "gateway", "--server", "probe"],
        WorkingDirectory = NodePackages.Root,
        ShutdownTimeout = TimeSpan.FromSeconds(30),
        EnvironmentVariables = new Dictionary<string, string?>
        {
            ["STEWARD_CONFIG_DIR"] = config,
            ["STEWARD_TOKEN"] = null,
            ["HOME"] = home,
            ["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
            ["STEWARD_BWRAP"] = bwrap,
        },
    });

    private static async Task<string> CallAsync(McpClient client, string tool, Dictionary<string, object?> args)
    {
        var result = await client.CallToolAsync(tool, args).AsTask().WaitAsync(Guard);
        return string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text));
    }

    private static async Task<string> SendAsync(HttpClient client, HttpMethod method, string path, string json, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json")) };
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode} {body}");
        return body;
    }

    /// <summary>A loopback TCP server answering each line with "pong &lt;port&gt;", counting the connections it accepted.</summary>
    private sealed class Echo : IDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private int connections;

        public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref connections);

        public static Echo Start()
        {
            var echo = new Echo();
            echo.listener.Start();
            _ = Task.Run(echo.AcceptAsync);
            return echo;
        }

        private async Task AcceptAsync()
        {
            while (true)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return;
                }

                Interlocked.Increment(ref connections);
                _ = Task.Run(async () =>
                {
                    using var owned = client;
                    await using var stream = client.GetStream();
                    var buffer = new byte[256];
                    try
                    {
                        while (await stream.ReadAsync(buffer) > 0)
                        {
                            await stream.WriteAsync(Encoding.UTF8.GetBytes($"pong {Port}\n"));
                        }
                    }
                    catch (IOException)
                    {
                    }
                });
            }
        }

        public void Dispose() => listener.Stop();
    }
}
