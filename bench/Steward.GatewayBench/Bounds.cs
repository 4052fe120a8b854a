using System.Diagnostics;
using System.Globalization;
using ModelContextProtocol;
using ModelContextProtocol.Client;

#pragma warning disable MCP9005 // logging is a current feature of the 2025-11-25 revision the gateway speaks

/// <summary>
/// The gateway's peak memory (VmHWM of the gateway process) when a local server answers with 50 MiB, and when it sends
/// 200,000 log notifications in one call: against tests/node/flood-server.mjs (through a uvx shim), with the message limit
/// at its default (16 MiB) and raised to 64 MiB, and for a baseline build side by side.
/// Usage: Steward.GatewayBench bounds &lt;repo root&gt; &lt;steward&gt; [baseline steward]
/// </summary>
internal static class Bounds
{
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static async Task RunAsync(string root, string steward, string? baseline)
    {
        var work = Path.Combine(Path.GetTempPath(), "steward-bounds-" + Environment.ProcessId);
        var shims = Path.Combine(work, "bin");
        Directory.CreateDirectory(shims);
        var node = Path.Combine(root, "tests/node/node_modules/.bin/node");
        var script = Path.Combine(root, "tests/node/flood-server.mjs");
        File.WriteAllText(Path.Combine(shims, "uvx"), $"#!/bin/sh\nexec '{node}' '{script}'\n");
        File.SetUnixFileMode(Path.Combine(shims, "uvx"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(work, "mcp.json"), """{ "mcpServers": { "flood": { "command": "uvx", "args": ["flood-server==1.0.0"] } } }""");
        var policy = Path.Combine(work, "policy.json");
        File.WriteAllText(policy, """
            { "registry": { "servers": [ { "server": { "name": "flood", "description": "bench", "version": "1.0.0",
              "packages": [ { "registryType": "pypi", "identifier": "flood-server", "version": "1.0.0", "transport": { "type": "stdio" } } ] } } ] } }
            """);

        var builds = new List<(string Name, string Path)> { ("this build", steward) };
        if (baseline is not null)
        {
            builds.Insert(0, ("baseline", baseline));
        }

        Console.WriteLine($"{"case",-44} {"build",-12} {"limit",-8} {"outcome",-28} peak RSS of the gateway");
        foreach (var (caseName, tool, arguments) in new (string, string, Dictionary<string, object?>)[]
                 {
                     ("idle (tools listed, one echo)", "echo", new() { ["message"] = "m" }),
                     ("one 50 MiB answer", "big", new() { ["kib"] = 50 * 1024 }),
                     ("200,000 log notifications in one call", "flood", new() { ["count"] = 200_000 }),
                 })
        {
            foreach (var (buildName, build) in builds)
            {
                foreach (var limit in buildName == "baseline" ? new string?[] { null } : [null, "64"])
                {
                    var environment = new Dictionary<string, string?>
                    {
                        ["PATH"] = shims + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
                        ["STEWARD_CONFIG_DIR"] = work,
                        ["STEWARD_GATEWAY_MAX_MESSAGE_MIB"] = limit,
                    };
                    var (command, args) = build.EndsWith(".dll", StringComparison.Ordinal)
                        ? ("dotnet", new[] { build, "gateway", "--server", "flood", "--policy", policy })
                        : (build, new[] { "gateway", "--server", "flood", "--policy", policy });
                    var logs = 0;
                    await using var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
                    {
                        Command = command,
                        Arguments = args,
                        WorkingDirectory = work,
                        EnvironmentVariables = environment,
                    }), new McpClientOptions
                    {
                        Handlers = new McpClientHandlers
                        {
                            NotificationHandlers = [new(ModelContextProtocol.Protocol.NotificationMethods.LoggingMessageNotification, (_, _) => { Interlocked.Increment(ref logs); return ValueTask.CompletedTask; })],
                        },
                    });
                    await client.ListToolsAsync();
                    await client.SetLoggingLevelAsync(ModelContextProtocol.Protocol.LoggingLevel.Info);
                    string outcome;
                    try
                    {
                        var result = await client.CallToolAsync(tool, arguments);
                        outcome = tool == "big"
                            ? $"passed, {result.Content.OfType<ModelContextProtocol.Protocol.TextContentBlock>().Sum(b => b.Text.Length) / (1024 * 1024)} MiB"
                            : tool == "flood" ? $"{Volatile.Read(ref logs)} logs by the result" : "ok";
                    }
                    catch (McpException e)
                    {
                        outcome = "refused: " + e.Message[..Math.Min(e.Message.Length, 18)] + "…";
                    }

                    var pid = Pid(policy);
                    var hwm = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))["VmHWM:".Length..].Trim();
                    Console.WriteLine($"{caseName,-44} {buildName,-12} {(limit ?? "default"),-8} {outcome,-28} {hwm}");
                }
            }
        }

        foreach (var (buildName, build) in builds)
        {
            await StalledHostAsync(buildName, build, work, shims, policy);
        }
    }

    /// <summary>
    /// The host that stops reading: a raw stdio host (no SDK) initializes, calls <c>flood</c> for 200,000 log
    /// notifications and reads nothing more, for 20 s; then the gateway's peak memory.
    /// </summary>
    private static async Task StalledHostAsync(string buildName, string build, string work, string shims, string policy)
    {
        var (command, args) = build.EndsWith(".dll", StringComparison.Ordinal)
            ? ("dotnet", new[] { build, "gateway", "--server", "flood", "--policy", policy })
            : (build, new[] { "gateway", "--server", "flood", "--policy", policy });
        var start = new ProcessStartInfo(command) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = work };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["PATH"] = shims + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        start.Environment["STEWARD_CONFIG_DIR"] = work;
        using var gateway = Process.Start(start)!;
        _ = gateway.StandardError.ReadToEndAsync();
        var input = gateway.StandardInput;
        await input.WriteLineAsync("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"stalled","version":"1"}}}""");
        await input.FlushAsync();
        // The answer to initialize, then nothing more is read.
        _ = await gateway.StandardOutput.ReadLineAsync();
        await input.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
        await input.WriteLineAsync("""{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"info"}}""");
        await input.WriteLineAsync("""{"jsonrpc":"2.0","id":3,"method":"tools/list"}""");
        await input.WriteLineAsync("""{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"flood","arguments":{"count":200000}}}""");
        await input.FlushAsync();
        await Task.Delay(TimeSpan.FromSeconds(20));
        var hwm = File.ReadAllLines($"/proc/{gateway.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))["VmHWM:".Length..].Trim();
        Console.WriteLine($"{"200,000 logs, the host stops reading (20 s)",-44} {buildName,-12} {"default",-8} {"-",-28} {hwm}");
        gateway.Kill(entireProcessTree: true);
        await gateway.WaitForExitAsync();
    }

    private static int Pid(string policy)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid))
            {
                try
                {
                    var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                    if (cmdline.Contains("gateway\0--server\0flood\0--policy\0" + policy, StringComparison.Ordinal) &&
                        File.ReadAllText(Path.Combine(dir, "status")).Contains($"PPid:\t{Environment.ProcessId}\n", StringComparison.Ordinal))
                    {
                        return pid;
                    }
                }
                catch (IOException)
                {
                }
            }
        }

        throw new InvalidOperationException("the gateway process was not found");
    }
}
