using System.Diagnostics;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Tests.Support;
using Steward.Cli.Tests.AgentCommands;

namespace Steward.Cli.Tests.Gateway;

/// <summary><c>steward gateway</c> as a child process, logged in to the real Steward server (in-process): its tool calls reach the admin's audit.</summary>
public sealed class GatewayAuditUploadTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    [NodeFact]
    public async Task A_call_through_the_gateway_of_a_developer_logged_in_to_a_Steward_server_reaches_the_admins_audit()
    {
        NodePackages.Require();
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow));
        var token = await server.DeveloperTokenAsync("platform");
        var dir = Path.Combine(Path.GetTempPath(), "steward-gwaudit-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var login = await AgentCliRunner.RunProcessAsync(dir, NodePackages.Root!, "login", server.BaseUrl, "--token", token, "--allow-http");
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        File.WriteAllText(Path.Combine(dir, "mcp.json"), $$"""{ "mcpServers": { "everything": { "command": "npx", "args": ["-y", "{{spec}}"] } } }""");

        await using (var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "steward-gateway",
            Command = "dotnet",
            Arguments = [Path.Combine(AppContext.BaseDirectory, "steward.dll"), "gateway", "--server", "everything"],
            WorkingDirectory = NodePackages.Root,
            // Room for a graceful stop on a busy machine (the gateway's last send is bounded by 2 s of its own).
            ShutdownTimeout = TimeSpan.FromSeconds(30),
            EnvironmentVariables = new Dictionary<string, string?>
            {
                ["STEWARD_CONFIG_DIR"] = dir,
                ["STEWARD_TOKEN"] = null,
                ["PATH"] = NodePackages.PathWith(),
                ["npm_config_offline"] = "true",
            },
        })).WaitAsync(Guard))
        {
            var echo = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "through the gateway" }).AsTask().WaitAsync(Guard);
            Assert.Equal("Echo: through the gateway", string.Concat(echo.Content.OfType<TextContentBlock>().Select(b => b.Text)));
        }

        // The host closed the gateway before the flush interval: stopping, it sent what it had (or left it spooled for the next start).
        using var admin = server.Client();
        JsonArray listed = [];
        for (var i = 0; i < 200 && listed.Count == 0; i++)
        {
            listed = JsonNode.Parse(await admin.GetStringAsync("api/v1/orgs/demo/audit/tool-calls"))!["toolCalls"]!.AsArray();
            if (listed.Count == 0)
            {
                await Task.Delay(100);
            }
        }

        var call = Assert.Single(listed)!;
        Assert.Equal(("everything", "echo", "allow", "ok", "platform"),
            ((string)call["server"]!, (string)call["tool"]!, (string)call["decision"]!, (string)call["outcome"]!, (string)call["account"]!));
        Assert.Null(call["arguments"]);
        Assert.False(File.Exists(Path.Combine(dir, "audit-spool.jsonl")), "the spool is empty once the server has every call");
        Assert.Single(AuditFile.Final(Path.Combine(dir, "audit.jsonl")));
        Assert.DoesNotContain(token, File.ReadAllText(Path.Combine(dir, "steward.log")), StringComparison.Ordinal);
    }

    /// <summary>
    /// Hosts stop stdio servers with a signal, not by closing stdin: Claude Code sends SIGINT, Copilot SIGTERM (then
    /// SIGKILL). A call answered just before must still reach the admin: the gateway spools what it has, sends it within
    /// a short bound, and exits 0.
    /// </summary>
    [NodeTheory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_call_answered_just_before_the_host_stops_the_gateway_with_a_signal_reaches_the_admins_audit(string signal)
    {
        NodePackages.Require();
        await using var server = await StewardServerHost.StartAsync(new ManualTime(DateTimeOffset.UtcNow));
        var token = await server.DeveloperTokenAsync("platform");
        var dir = Path.Combine(Path.GetTempPath(), "steward-gwsignal-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var login = await AgentCliRunner.RunProcessAsync(dir, NodePackages.Root!, "login", server.BaseUrl, "--token", token, "--allow-http");
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        var spec = $"{NodePackages.ServerEverything}@{NodePackages.ServerEverythingVersion}";
        File.WriteAllText(Path.Combine(dir, "mcp.json"), $$"""{ "mcpServers": { "everything": { "command": "npx", "args": ["-y", "{{spec}}"] } } }""");

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = NodePackages.Root,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "steward.dll"), "gateway", "--server", "everything" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["STEWARD_CONFIG_DIR"] = dir;
        start.Environment.Remove("STEWARD_TOKEN");
        start.Environment["PATH"] = NodePackages.PathWith();
        start.Environment["npm_config_offline"] = "true";
        using var gateway = Process.Start(start)!;
        var stderr = gateway.StandardError.ReadToEndAsync();
        try
        {
            async Task<JsonNode> AnswerAsync(int id)
            {
                while (await gateway.StandardOutput.ReadLineAsync().WaitAsync(Guard) is { } line)
                {
                    if (JsonNode.Parse(line) is JsonObject message && message["id"] is { } got && (int)got == id)
                    {
                        return message;
                    }
                }

                throw new InvalidOperationException("the gateway closed its output: " + await stderr);
            }

            await gateway.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"signal-host","version":"1.0.0"}}}""");
            await gateway.StandardInput.FlushAsync();
            await AnswerAsync(1);
            await gateway.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            await gateway.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"last words"}}}""");
            await gateway.StandardInput.FlushAsync();
            var echo = await AnswerAsync(2);
            Assert.Equal("Echo: last words", (string)echo["result"]!["content"]![0]!["text"]!);

            // The host keeps stdin open and signals, as Claude Code and Copilot do.
            using (var kill = Process.Start("kill", ["-" + signal, gateway.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            await gateway.WaitForExitAsync().WaitAsync(Guard);
        }
        finally
        {
            if (!gateway.HasExited)
            {
                gateway.Kill(entireProcessTree: true);
            }
        }

        Assert.True(gateway.ExitCode == 0, $"exit {gateway.ExitCode}: {await stderr}");
        var call = Assert.Single(JsonNode.Parse(await server.Client().GetStringAsync("api/v1/orgs/demo/audit/tool-calls"))!["toolCalls"]!.AsArray())!;
        Assert.Equal(("everything", "echo", "allow", "ok"), ((string)call["server"]!, (string)call["tool"]!, (string)call["decision"]!, (string)call["outcome"]!));
        Assert.False(File.Exists(Path.Combine(dir, "audit-spool.jsonl")), "the spool is empty once the server has every call");
        Assert.Single(AuditFile.Final(Path.Combine(dir, "audit.jsonl")));
    }
}
