using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Agent.Sandbox;
using Steward.Agent.Tests.Gateway;
using Steward.Core.Config;
using Steward.Core.Registry;
using Steward.Core.Sandbox;

namespace Steward.Agent.Tests.Sandbox;

/// <summary>
/// The gateway launching real servers inside real bubblewrap (the probe server of tests/node and server-everything),
/// and OCI entries through the docker shim that records argv. The network allowlist through the proxy and its bridge
/// needs the steward executable inside the sandbox: <c>SandboxEndToEndTests</c> in the CLI tests.
/// </summary>
public sealed class SandboxGatewayTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [SandboxFact]
    public async Task A_sandboxed_server_cannot_read_the_planted_secret_write_outside_its_paths_or_connect_anywhere()
    {
        var (dir, home) = FakeHome();
        using var echo = EchoServer.Start();
        var profile = Profile("""
            {"mode": "on", "files": {"paths": [{"path": "~/project", "access": "read"}, {"path": "~/out", "access": "read-write"}]}, "network": {"mode": "none"}}
            """);
        var wide = Profile("""{"mode": "on", "files": {"paths": ["~"]}}""");
        var config = Fixtures.Config(("probe", Probe(dir, home, "probe-a")), ("wide", Probe(dir, home, "probe-b")));
        var policy = WithSandbox([Fixtures.Pypi("probe", "probe-a", "1.0.0"), Fixtures.Pypi("wide", "probe-b", "1.0.0")],
            new SandboxPolicy(null, ImmutableDictionary<string, SandboxProfile>.Empty.Add("probe", profile).Add("wide", wide)));
        await using var harness = await GatewayHarness.StartAsync(config, policy, directory: dir, sandboxHost: new SandboxHost { Home = home, ConfigDirectory = Path.Combine(dir, "config") });
        Assert.Equal(["probe", "wide"], harness.Gateway.Status.Running.ToArray());
        Assert.Equal(SandboxStatus.Enforced, harness.Gateway.Status.Sandboxes["probe"].State);
        Assert.Equal("bubblewrap", harness.Gateway.Status.Sandboxes["probe"].Enforcer);

        // Files: the planted key and the undeclared note are not there; the declared project is, read-only.
        Assert.Equal("refused: ENOENT", await CallAsync(harness.Client, "probe__read_file", new() { ["path"] = Path.Combine(home, ".ssh", "id_ed25519") }));
        Assert.Equal("refused: ENOENT", await CallAsync(harness.Client, "probe__read_file", new() { ["path"] = Path.Combine(home, "notes.txt") }));
        Assert.Equal("ok: the project", await CallAsync(harness.Client, "probe__read_file", new() { ["path"] = Path.Combine(home, "project", "README") }));
        Assert.Equal("refused: EROFS", await CallAsync(harness.Client, "probe__write_file", new() { ["path"] = Path.Combine(home, "project", "planted") }));
        Assert.False(File.Exists(Path.Combine(home, "project", "planted")));
        Assert.Equal("ok", await CallAsync(harness.Client, "probe__write_file", new() { ["path"] = Path.Combine(home, "out", "result"), ["text"] = "written" }));
        Assert.Equal("written", File.ReadAllText(Path.Combine(home, "out", "result")));

        // The system is read-only (the checkout the server runs from too), and Steward's configuration directory is hidden.
        var outside = Path.Combine(NodePackages.Root!, "sandbox-escape-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.Equal("refused: EROFS", await CallAsync(harness.Client, "probe__write_file", new() { ["path"] = outside }));
        Assert.False(File.Exists(outside));
        Assert.Equal("refused: ENOENT", await CallAsync(harness.Client, "probe__read_file", new() { ["path"] = Path.Combine(dir, "config", "token") }));

        // Network mode none: this machine's loopback is another namespace's, so the listening port is not there.
        Assert.StartsWith("ok: pong", await CallAsync(harness.Client, "probe__connect", new() { ["host"] = "127.0.0.1", ["port"] = 0 }, echo.Port, direct: true), StringComparison.Ordinal);
        Assert.StartsWith("refused:", await CallAsync(harness.Client, "probe__connect", new() { ["host"] = "127.0.0.1", ["port"] = echo.Port }), StringComparison.Ordinal);

        // Declaring the whole home directory still hides the credentials.
        Assert.Equal("ok: my notes", await CallAsync(harness.Client, "wide__read_file", new() { ["path"] = Path.Combine(home, "notes.txt") }));
        Assert.Equal("refused: ENOENT", await CallAsync(harness.Client, "wide__read_file", new() { ["path"] = Path.Combine(home, ".ssh", "id_ed25519") }));
        Assert.StartsWith("refused: E", await CallAsync(harness.Client, "wide__read_file", new() { ["path"] = Path.Combine(home, ".aws", "credentials") }), StringComparison.Ordinal);
        Assert.Equal("refused: EROFS", await CallAsync(harness.Client, "wide__write_file", new() { ["path"] = Path.Combine(home, "notes.txt") }));
        Assert.Equal("my notes", File.ReadAllText(Path.Combine(home, "notes.txt")));
    }

    [SandboxFact]
    public async Task Server_everything_works_unchanged_inside_the_sandbox()
    {
        var (dir, home) = FakeHome();
        var profile = Profile("""{"mode": "on", "network": {"mode": "none"}}""");
        var config = Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig()));
        var policy = WithSandbox([Fixtures.EverythingNpm()], new SandboxPolicy(profile, ImmutableDictionary<string, SandboxProfile>.Empty));
        await using var harness = await GatewayHarness.StartAsync(config, policy, server: Fixtures.EverythingName, directory: dir, sandboxHost: new SandboxHost { Home = home });
        var status = harness.Gateway.Status;
        Assert.True(status.Sandboxes.ContainsKey(Fixtures.EverythingName), string.Join("; ", status.Refused.Concat(status.Failed).Select(r => $"{r.Name} {r.ReasonCode}: {r.Message}")));
        Assert.Equal(SandboxStatus.Enforced, status.Sandboxes[Fixtures.EverythingName].State);
        var tools = await harness.Client.ListToolsAsync().AsTask().WaitAsync(Guard);
        Assert.Contains(tools, t => t.Name == "echo");
        Assert.Equal("Echo: sandboxed", await CallAsync(harness.Client, "echo", new() { ["message"] = "sandboxed" }));
    }

    [SandboxFact]
    public async Task Mode_on_without_bubblewrap_fails_closed_naming_the_package_and_prefer_starts_with_a_warning()
    {
        var (dir, home) = FakeHome();
        var missing = Path.Combine(dir, "no-such-bwrap");
        var config = Fixtures.Config(("strict", Probe(dir, home, "probe-a")), ("lenient", Probe(dir, home, "probe-b")));
        var policy = WithSandbox([Fixtures.Pypi("strict", "probe-a", "1.0.0"), Fixtures.Pypi("lenient", "probe-b", "1.0.0")],
            new SandboxPolicy(null, ImmutableDictionary<string, SandboxProfile>.Empty
                .Add("strict", Profile("""{"mode": "on"}"""))
                .Add("lenient", Profile("""{"mode": "prefer"}"""))));
        await using var harness = await GatewayHarness.StartAsync(config, policy, directory: dir, sandboxHost: new SandboxHost { Home = home, Bwrap = missing });
        var status = harness.Gateway.Status;
        Assert.Equal(["lenient"], status.Running.ToArray());
        var failed = Assert.Single(status.Failed);
        Assert.Equal("strict", failed.Name);
        Assert.Contains("mode on", failed.Message, StringComparison.Ordinal);
        Assert.Contains(missing, failed.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install bubblewrap", failed.Message, StringComparison.Ordinal);
        Assert.Equal(SandboxStatus.NotEnforced, status.Sandboxes["lenient"].State);
        Assert.Contains("mode prefer", status.Sandboxes["lenient"].Detail, StringComparison.Ordinal);
        // Unsandboxed indeed: the home directory is the real one.
        Assert.Equal("ok: my notes", await CallAsync(harness.Client, "lenient__read_file", new() { ["path"] = Path.Combine(home, "notes.txt") }));
    }

    [NodeFact]
    public async Task An_oci_entry_gets_its_sandbox_as_docker_flags_and_a_proxy_network_fails_closed()
    {
        var (dir, home) = FakeHome();
        var workspace = NodePackages.Root!;
        var log = Path.Combine(dir, "docker.argv");
        var config = Fixtures.Config(
            ("box", Shims.Entry("docker", ["run", "-i", "--rm", "example/everything:2.0.0"], log)),
            ("netbox", Shims.Entry("docker", ["run", "-i", "--rm", "example/other:1.0.0"], Path.Combine(dir, "other.argv"))));
        var policy = WithSandbox([Fixtures.Oci("box", "example/everything", "2.0.0"), Fixtures.Oci("netbox", "example/other", "1.0.0")],
            new SandboxPolicy(null, ImmutableDictionary<string, SandboxProfile>.Empty
                .Add("box", Profile("""{"mode": "on", "files": {"paths": ["${workspaceFolder}", {"path": "~/out", "access": "read-write"}]}, "process": {"uid": 1000}}"""))
                .Add("netbox", Profile("""{"mode": "on", "network": {"mode": "allowlist", "allow": ["api.example.com:443"]}}"""))));
        await using var harness = await GatewayHarness.StartAsync(config, policy, directory: dir, sandboxHost: new SandboxHost { Home = home });
        Assert.Equal(["box"], harness.Gateway.Status.Running.ToArray());
        Assert.Equal("docker flags", harness.Gateway.Status.Sandboxes["box"].Enforcer);
        var (_, argv) = Shims.Read(log)!.Value;
        Assert.Equal(
            ["run", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", "1000:1000",
             "--mount", $"type=bind,src={workspace},dst={workspace},readonly",
             "--mount", $"type=bind,src={Path.Combine(home, "out")},dst={Path.Combine(home, "out")}",
             "-i", "--rm", "example/everything:2.0.0"],
            argv);
        var failed = Assert.Single(harness.Gateway.Status.Failed);
        Assert.Equal("netbox", failed.Name);
        Assert.Contains("not available for OCI servers yet", failed.Message, StringComparison.Ordinal);
        Assert.Null(Shims.Read(Path.Combine(dir, "other.argv")));
    }

    internal static SandboxProfile Profile(string json)
    {
        var (profile, problems) = SandboxRules.Parse(json);
        Assert.True(profile is not null, string.Join("; ", problems));
        return profile;
    }

    internal static PolicyState WithSandbox(IEnumerable<ServerDetail> servers, SandboxPolicy sandbox)
    {
        var active = (PolicyState.Active)Fixtures.Policy(servers);
        return new PolicyState.Active(active.Snapshot with { Sandbox = sandbox });
    }

    /// <summary>A test directory with a fake home: a planted SSH key and cloud credentials, a note, a project, an output folder; a secret in the config directory.</summary>
    internal static (string Dir, string Home) FakeHome()
    {
        var dir = GatewayHarness.TempDirectory();
        var home = Path.Combine(dir, "home");
        Directory.CreateDirectory(Path.Combine(home, ".ssh"));
        File.WriteAllText(Path.Combine(home, ".ssh", "id_ed25519"), "PLANTED PRIVATE KEY");
        Directory.CreateDirectory(Path.Combine(home, ".aws"));
        File.WriteAllText(Path.Combine(home, ".aws", "credentials"), "PLANTED CLOUD KEY");
        File.WriteAllText(Path.Combine(home, "notes.txt"), "my notes");
        Directory.CreateDirectory(Path.Combine(home, "project"));
        File.WriteAllText(Path.Combine(home, "project", "README"), "the project");
        Directory.CreateDirectory(Path.Combine(home, "out"));
        Directory.CreateDirectory(Path.Combine(dir, "config"));
        File.WriteAllText(Path.Combine(dir, "config", "token"), "PLANTED STEWARD TOKEN");
        return (dir, home);
    }

    private static McpServerConfig Probe(string dir, string home, string identifier)
    {
        var entry = Shims.Entry("uvx", [identifier + "==1.0.0"], Path.Combine(dir, identifier + ".argv"));
        return entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", SandboxFactAttribute.ProbeScript), new("HOME", home)], Timeout = 30_000 };
    }

    private static async Task<string> CallAsync(McpClient client, string tool, Dictionary<string, object?> args, int? port = null, bool direct = false)
    {
        if (direct)
        {
            // The same echo server reached from this process, outside any sandbox: proof that it listens.
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, port!.Value);
            await using var stream = socket.GetStream();
            await stream.WriteAsync("ping\n"u8.ToArray());
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer);
            return "ok: " + System.Text.Encoding.UTF8.GetString(buffer, 0, read).Trim();
        }

        var result = await client.CallToolAsync(tool, args).AsTask().WaitAsync(Guard);
        return string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text));
    }
}

/// <summary>A loopback TCP server that answers each line with "pong &lt;port&gt;".</summary>
internal sealed class EchoServer : IDisposable
{
    private readonly TcpListener listener;

    private EchoServer(TcpListener listener)
    {
        this.listener = listener;
        _ = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    public static EchoServer Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new EchoServer(listener);
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

            _ = Task.Run(async () =>
            {
                using var owned = client;
                await using var stream = client.GetStream();
                var buffer = new byte[256];
                try
                {
                    while (await stream.ReadAsync(buffer) > 0)
                    {
                        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"pong {Port}\n"));
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
