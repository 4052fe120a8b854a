using System.Collections.Immutable;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Core.Config;
using Steward.Core.Policy;
using Steward.Core.Registry;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// A gateway in this process, its host side connected to a real SDK client over in-memory pipes, its upstreams real
/// child processes (server-everything through npx, or through the uvx and docker shims).
/// </summary>
internal sealed class GatewayHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private Task? running;

    private GatewayHarness(string directory, Agent.Gateway.Gateway gateway)
    {
        Directory = directory;
        Gateway = gateway;
    }

    public string Directory { get; }

    public Agent.Gateway.Gateway Gateway { get; }

    public McpClient Client { get; private set; } = null!;

    public string AuditLog => Path.Combine(Directory, "audit.jsonl");

    public static async Task<GatewayHarness> StartAsync(McpConfig config, PolicyState policy, string? server = null, McpClientOptions? clientOptions = null,
        string? directory = null, AuditUploader? uploader = null, Agent.Sandbox.SandboxHost? sandboxHost = null, long? maxMessageBytes = null,
        Func<IClientTransport, IClientTransport>? hostTransport = null)
    {
        NodePackages.Require();
        directory ??= TempDirectory();
        var gateway = new Agent.Gateway.Gateway(new GatewayOptions
        {
            Config = McpConfigMerge.Merge([new ScopedConfig(ConfigScope.User, Path.Combine(directory, "mcp.json"), config)]),
            Server = server,
            AuditLogPath = Path.Combine(directory, "audit.jsonl"),
            WorkingDirectory = NodePackages.Root,
            StartTimeout = TimeSpan.FromSeconds(60),
            AuditUploader = uploader,
            SandboxHost = sandboxHost ?? new Agent.Sandbox.SandboxHost(),
            MaxMessageBytes = maxMessageBytes,
        }, NullLoggerFactory.Instance);
        var harness = new GatewayHarness(directory, gateway);
        var toServer = new Pipe();
        var toClient = new Pipe();
        var transport = new StreamServerTransport(toServer.Reader.AsStream(), toClient.Writer.AsStream(), "gateway", NullLoggerFactory.Instance);
        harness.running = gateway.RunAsync(transport, harness.stop.Token);
        IClientTransport host = new StreamClientTransport(toServer.Writer.AsStream(), toClient.Reader.AsStream(), NullLoggerFactory.Instance);
        harness.Client = await McpClient.CreateAsync(hostTransport?.Invoke(host) ?? host,
            clientOptions ?? new McpClientOptions(), NullLoggerFactory.Instance).WaitAsync(TimeSpan.FromSeconds(30));
        await gateway.ApplyPolicyAsync(policy).WaitAsync(TimeSpan.FromSeconds(90));
        return harness;
    }

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "steward-gw-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await stop.CancelAsync();
        await Gateway.DisposeAsync();
        if (running is not null)
        {
            await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(10)));
        }

        stop.Dispose();
    }
}

/// <summary>Registry entries, policies and mcp.json entries for the tests.</summary>
internal static class Fixtures
{
    public const string EverythingName = "everything";

    /// <summary>server-everything as the npm package it is, run by npx.</summary>
    public static ServerDetail EverythingNpm(string version = NodePackages.ServerEverythingVersion) => new()
    {
        Name = EverythingName,
        Description = "The MCP reference test server",
        Version = version,
        Packages =
        [
            new Package
            {
                RegistryType = RegistryTypes.Npm,
                Identifier = NodePackages.ServerEverything,
                Version = version,
                Transport = new Transport { Type = TransportTypes.Stdio },
            },
        ],
    };

    /// <summary>A PyPI package (run by the uvx shim) with this name and version.</summary>
    public static ServerDetail Pypi(string name, string identifier, string version, JsonElement? meta = null) => new()
    {
        Name = name,
        Description = "A PyPI server",
        Version = version,
        Meta = meta,
        Packages = [new Package { RegistryType = RegistryTypes.Pypi, Identifier = identifier, Version = version, Transport = new Transport { Type = TransportTypes.Stdio } }],
    };

    /// <summary>An OCI image (run by the docker shim).</summary>
    public static ServerDetail Oci(string name, string image, string version) => new()
    {
        Name = name,
        Description = "A container server",
        Version = version,
        Packages = [new Package { RegistryType = RegistryTypes.Oci, Identifier = image, Version = version, Transport = new Transport { Type = TransportTypes.Stdio } }],
    };

    public static PolicyState Policy(IEnumerable<ServerDetail> servers, IReadOnlyList<ToolRule>? rules = null, bool webTools = true, bool auditArguments = false) =>
        new PolicyState.Active(new PolicySnapshot
        {
            Source = "test",
            Revision = Guid.NewGuid().ToString("N")[..8],
            FetchedAt = DateTimeOffset.UtcNow,
            Registry = [.. servers.Select(s => new RegistryEntry(s, ""))],
            ToolRules = rules ?? [],
            WebToolsEnabled = webTools,
            AuditArguments = auditArguments,
        });

    /// <summary>The npx entry a user's mcp.json has for server-everything (offline: npm must use the installed copy).</summary>
    public static McpServerConfig EverythingConfig(string version = NodePackages.ServerEverythingVersion,
        ImmutableArray<string>? disabledTools = null, ImmutableArray<string>? autoApprove = null) => new()
    {
        Command = "npx",
        Args = ["-y", $"{NodePackages.ServerEverything}@{version}"],
        Env = [new("PATH", NodePackages.Bin + Path.PathSeparator + "${PATH}"), new("npm_config_offline", "true")],
        DisabledTools = disabledTools,
        AutoApprove = autoApprove,
    };

    public static McpConfig Config(params (string Name, McpServerConfig Server)[] servers) =>
        McpConfig.Empty with { Servers = [.. servers.Select(s => new NamedServerConfig(s.Name, s.Server))] };
}

/// <summary>
/// <c>uvx</c> and <c>docker</c> stand-ins on PATH: each records its pid and argv (one a line) to the file named by
/// <c>STEWARD_SHIM_LOG</c> (passed as the entry's environment) and then execs server-everything (or the script named by
/// <c>STEWARD_SHIM_SCRIPT</c>) with Node, so the
/// gateway talks to a real server launched by the pypi and oci launch plans.
/// </summary>
internal static class Shims
{
    private static readonly Lazy<string> Folder = new(Create);

    public static string Directory => Folder.Value;

    /// <summary>An mcp.json entry running <paramref name="command"/> (the shims are put on PATH first).</summary>
    public static McpServerConfig Entry(string command, IEnumerable<string> args, string log) => Directory is null ? throw new InvalidOperationException() : new()
    {
        Command = command,
        Args = [.. args],
        Env = [new("STEWARD_SHIM_LOG", log)],
    };

    /// <summary>The recorded pid and argv, or null when the shim never ran.</summary>
    public static (int Pid, string[] Argv)? Read(string log)
    {
        if (!File.Exists(log))
        {
            return null;
        }

        var lines = File.ReadAllLines(log);
        return (int.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture), lines[1..]);
    }

    private static string Create()
    {
        var folder = Path.Combine(Path.GetTempPath(), "steward-shims-" + Environment.ProcessId);
        System.IO.Directory.CreateDirectory(folder);
        foreach (var name in new[] { "uvx", "docker" })
        {
            var script = new StringBuilder()
                .Append("#!/bin/sh\n")
                .Append("log=\"${STEWARD_SHIM_LOG:?STEWARD_SHIM_LOG is not set}\"\n")
                .Append("{ echo \"$$\"; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; } > \"$log.tmp\" && mv \"$log.tmp\" \"$log\"\n")
                .Append("exec '").Append(NodePackages.Node22).Append("' \"${STEWARD_SHIM_SCRIPT:-").Append(NodePackages.ServerEverythingScript).Append("}\"\n")
                .ToString();
            var path = Path.Combine(folder, name);
            File.WriteAllText(path, script);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        // The gateway resolves the bare command on its PATH, as it would the real uvx and docker.
        Environment.SetEnvironmentVariable("PATH", folder + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"));
        return folder;
    }
}
