using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using Steward.Agent.Tests.Support;
using Steward.Cli.Tests.AgentCommands;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// One admission answer: the same configured servers, against the same policy from a real Steward server (web tools
/// turned off on the developer's account, entries published with the admin's and the publisher's web-tool marks, a
/// fixed environment variable, a PyPI server on a machine without uvx), through the four callers as a developer meets
/// them — <c>steward mcp list --json</c>, <c>steward scan --format json</c>, <c>steward mcp export-host</c> and a
/// running <c>steward gateway</c> (child processes, the gateway's upstream the real server-everything through npx) —
/// and they agree on every case.
/// </summary>
public sealed class AdmissionAgreementTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);
    private const string Schema = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

    /// <summary>Configured name → the reason it is refused, or null when admitted.</summary>
    private static readonly (string Name, string? Reason, string? MessagePart)[] Cases =
    [
        ("everything", null, null),
        ("io.example/web-search", "web_tools_disabled", "your account's profile"),
        ("io.example/publisher-web", "web_tools_disabled", "your account's profile"),
        ("io.example/py-tool", "runner_missing", "uvx is not installed: install uv (https://docs.astral.sh/uv/) or ask your administrator for another package of this server"),
        ("eval", "environment_fixed", "EVAL_MODE"),
        ("rogue", "not_in_registry", null),
    ];

    [Fact]
    public async Task List_scan_export_host_and_the_running_gateway_give_the_same_answer_for_every_server()
    {
        NodePackages.Require();
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow));
        using var admin = server.Client();
        await Publish(admin, "io.example/everything", "npm", "@modelcontextprotocol/server-everything", NodePackages.ServerEverythingVersion, "");
        await Publish(admin, "io.example/web-search", "npm", "@example/web-search", "1.0.0", ""","_meta":{"io.steward/web-tool":true}""");
        await Publish(admin, "io.example/publisher-web", "npm", "@example/publisher-web", "1.0.0",
            ""","_meta":{"io.modelcontextprotocol.registry/publisher-provided":{"io.steward/web-tool":true}}""");
        await Publish(admin, "io.example/py-tool", "pypi", "py-tool", "1.0.0", "");
        await Publish(admin, "io.example/eval", "npm", "@example/eval", "1.0.0", "", ""","environmentVariables":[{"name":"EVAL_MODE","value":"strict"}]""");
        // The admin's mark survives publishing (top-level _meta kept).
        var stored = JsonNode.Parse(await admin.GetStringAsync("o/demo/registry/v0.1/servers/io.example%2Fweb-search/versions/latest"))!;
        Assert.True((bool)stored["server"]!["_meta"]!["io.steward/web-tool"]!);

        var dir = Path.Combine(Path.GetTempPath(), "steward-agree-" + Guid.NewGuid().ToString("N")[..12]);
        var (config, home, workspace) = (Path.Combine(dir, "config"), Path.Combine(dir, "home"), Path.Combine(dir, "work"));
        Directory.CreateDirectory(config);
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(workspace);
        // This machine has npx and no uvx: a PATH without any directory holding uvx (none does here; a CI image might).
        var path = string.Join(Path.PathSeparator, (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Where(d => d.Length > 0 && !File.Exists(Path.Combine(d, "uvx"))));
        var environment = new Dictionary<string, string?> { ["PATH"] = path, ["HOME"] = home, ["STEWARD_TOKEN"] = null };

        var token = await server.DeveloperTokenAsync("platform");
        // Web tools off on the developer's account (its own profile), not the organisation's.
        await Send(admin, HttpMethod.Patch, "api/v1/orgs/demo/accounts/platform/profile", """{"webToolsEnabled": false}""", HttpStatusCode.Created);
        var login = await AgentCliRunner.RunProcessAsync(config, workspace, environment, "login", server.BaseUrl, "--token", token, "--allow-http");
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        File.WriteAllText(Path.Combine(config, "mcp.json"), $$"""
            { "mcpServers": {
              "everything": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything@{{NodePackages.ServerEverythingVersion}}"],
                              "env": { "PATH": "{{NodePackages.Bin.Replace("\\", "\\\\", StringComparison.Ordinal)}}{{Path.PathSeparator}}${PATH}", "npm_config_offline": "true" } },
              "io.example/web-search": { "type": "registry" },
              "io.example/publisher-web": { "type": "registry" },
              "io.example/py-tool": { "type": "registry" },
              "eval": { "command": "npx", "args": ["-y", "@example/eval@1.0.0"], "env": { "EVAL_MODE": "lax" } },
              "rogue": { "command": "npx", "args": ["-y", "@evil/miner"] }
            } }
            """);

        // 1. steward mcp list --json
        var list = await AgentCliRunner.RunProcessAsync(config, workspace, environment, "mcp", "list", "--json");
        var listed = JsonNode.Parse(list.Stdout)!["servers"]!.AsArray().ToDictionary(s => (string)s!["name"]!, s => s!);
        // 2. steward scan --format json (Steward's own file is one of the hosts it reads)
        var scan = await AgentCliRunner.RunProcessAsync(config, workspace, environment, "scan", "--format", "json", "--home", home, "--workspace", workspace);
        var scanned = JsonNode.Parse(scan.Stdout)!["servers"]!.AsArray().Where(s => (string)s!["host"]! == "steward").ToDictionary(s => (string)s!["name"]!, s => s!);
        // 3. steward mcp export-host
        var exportFile = Path.Combine(dir, "claude.json");
        var export = await AgentCliRunner.RunProcessAsync(config, workspace, environment, "mcp", "export-host", "--host", "claude", "--output", exportFile);
        Assert.True(export.ExitCode == 0, export.Stdout + export.Stderr);
        var exported = JsonNode.Parse(File.ReadAllText(exportFile))!["mcpServers"]!.AsObject().Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        // 4. the running gateway, as a host connects to it
        IList<ModelContextProtocol.Client.McpClientTool> tools;
        await using (var client = await McpClient.CreateAsync(GatewayTransport(config, workspace, environment)).WaitAsync(Guard))
        {
            // The gateway answers at once and starts its upstreams beside: wait until the admitted one lists its tools.
            using var deadline = new CancellationTokenSource(Guard);
            while ((tools = await client.ListToolsAsync(cancellationToken: deadline.Token)).Count == 0)
            {
                await Task.Delay(200, deadline.Token);
            }
        }

        // What the gateway refused, as the developer reads it (`steward logs`).
        var logs = (await AgentCliRunner.RunProcessAsync(config, workspace, environment, "logs", "-n", "1000")).Stdout;

        foreach (var (name, reason, part) in Cases)
        {
            var entry = listed[name];
            var scanEntry = scanned[name];
            if (reason is null)
            {
                Assert.Equal("allowed", (string)entry["decision"]!);
                Assert.Equal("admitted", (string)scanEntry["admission"]!);
                Assert.Contains(name, exported);
                Assert.DoesNotContain($"Not starting \"{name}\"", logs, StringComparison.Ordinal);
            }
            else
            {
                Assert.True((string)entry["decision"]! == "blocked" && (string?)entry["reason"] == reason, $"mcp list, {name}: {entry.ToJsonString()}");
                Assert.True((string)scanEntry["admission"]! == "not-admitted" && (string?)scanEntry["reason"] == reason, $"scan, {name}: {scanEntry.ToJsonString()}");
                Assert.DoesNotContain(name, exported);
                Assert.Contains($"not exported: {name} ({reason})", export.Stdout, StringComparison.Ordinal);
                Assert.Contains($"Not starting \"{name}\" ({reason})", logs, StringComparison.Ordinal);
                if (part is not null)
                {
                    Assert.Contains(part, (string)entry["message"]!, StringComparison.Ordinal);
                    Assert.Contains(part, (string)scanEntry["message"]!, StringComparison.Ordinal);
                    Assert.Contains(part, logs, StringComparison.Ordinal);
                }
            }
        }

        Assert.Contains(tools, t => t.Name.EndsWith("echo", StringComparison.Ordinal));
        Assert.DoesNotContain("lax", list.Stdout, StringComparison.Ordinal);
    }

    private static StdioClientTransport GatewayTransport(string config, string workspace, Dictionary<string, string?> environment) => new(new StdioClientTransportOptions
    {
        Name = "steward-gateway",
        Command = "dotnet",
        Arguments = [Path.Combine(AppContext.BaseDirectory, "steward.dll"), "gateway"],
        // As a host starts it in the project: here tests/node, whose node_modules npx runs server-everything from offline.
        WorkingDirectory = NodePackages.Root,
        ShutdownTimeout = TimeSpan.FromSeconds(30),
        EnvironmentVariables = new Dictionary<string, string?>(environment) { ["STEWARD_CONFIG_DIR"] = config },
    });

    private static Task Publish(HttpClient admin, string name, string type, string identifier, string version, string meta, string packageExtra = "") =>
        Send(admin, HttpMethod.Post, "api/v1/orgs/demo/registry/servers",
            $$$"""{"$schema":"{{{Schema}}}","name":"{{{name}}}","description":"A test server","version":"{{{version}}}","packages":[{"registryType":"{{{type}}}","registryBaseUrl":"{{{(type == "pypi" ? "https://pypi.org" : "https://registry.npmjs.org")}}}","identifier":"{{{identifier}}}","version":"{{{version}}}","transport":{"type":"stdio"}{{{packageExtra}}}}]{{{meta}}}}""",
            HttpStatusCode.Created);

    private static async Task Send(HttpClient client, HttpMethod method, string path, string json, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json")) };
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {body}");
    }
}
