using System.CommandLine;
using ModelContextProtocol.Server;
using Steward.Agent;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Core.Config;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward gateway</c>: the MCP server a host launches over stdio. Serves every admitted server of the user's and
/// workspace's <c>mcp.json</c> (or one, with <c>--server</c>), enforcing the policy. Logs go to stderr and the log
/// file; stdout carries only the protocol.
/// </summary>
internal static class GatewayCommand
{
    /// <summary>
    /// Where the policy comes from when <c>--policy</c> is not given: the synced, verified policy. Null until the sync
    /// is wired, in which case the gateway fails closed.
    /// </summary>
    public static Func<StewardPaths, CancellationToken, Task<PolicyState>>? PolicySource { get; set; }

    public static Command Create(TextWriter stderr)
    {
        var server = new Option<string?>("--server")
        {
            Description = "Serve exactly this configured server, its tool, prompt and resource names unchanged (one host entry per server).",
        };
        var policy = new Option<string?>("--policy")
        {
            Description = "Read the policy from this local file instead of the synced one (air-gapped machines); re-applied when the file changes.",
        };
        var command = new Command("gateway", "Run the MCP gateway over stdio: every admitted MCP server behind one (tools named <server>__<tool>), or one with --server.")
        {
            server, policy,
        };
        command.SetAction(async (parse, cancellationToken) =>
            await RunAsync(parse.GetValue(server), parse.GetValue(policy), stderr, cancellationToken).ConfigureAwait(false));
        return command;
    }

    private static async Task<int> RunAsync(string? serverName, string? policyPath, TextWriter stderr, CancellationToken cancellationToken)
    {
        var paths = StewardPaths.FromEnvironment();
        var files = new List<ScopedConfig>();
        foreach (var (scope, path) in new[] { (ConfigScope.User, paths.UserMcpConfig), (ConfigScope.Workspace, StewardPaths.FindWorkspaceMcpConfig(Environment.CurrentDirectory)) })
        {
            if (path is null || !File.Exists(path))
            {
                continue;
            }

            var read = McpConfigReader.Read(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false));
            if (!read.IsValid || read.Config is null)
            {
                await stderr.WriteLineAsync($"steward gateway: {path} is invalid: " +
                                            string.Join("; ", read.Problems.Select(p => p.ToString()).DefaultIfEmpty(read.Failure?.ToString() ?? "unreadable"))).ConfigureAwait(false);
                return ExitCodes.Invalid;
            }

            files.Add(new ScopedConfig(scope, path, read.Config));
        }

        using var logging = new GatewayLogging(stderr, paths.LogFile);
        var gateway = new Agent.Gateway.Gateway(new GatewayOptions
        {
            Config = McpConfigMerge.Merge(files),
            Server = serverName,
            AuditLogPath = paths.AuditLog,
        }, logging);
        await using (gateway.ConfigureAwait(false))
        {
            Task<PolicyState> Load(CancellationToken ct) => policyPath is not null
                ? Task.FromResult(PolicyFile.Load(policyPath))
                : PolicySource?.Invoke(paths, ct) ?? Task.FromResult<PolicyState>(new PolicyState.Disabled(
                    "no policy is available on this machine.", "Run steward login, then steward sync."));

            // Re-applies run one after another, each reading the file when its turn comes (write it by rename to change it atomically).
            var gate = new Lock();
            var applying = ApplyAsync(gateway, await Load(cancellationToken).ConfigureAwait(false), stderr, cancellationToken);
            using var watcher = policyPath is null ? null : Watch(policyPath, () =>
            {
                lock (gate)
                {
                    applying = applying.ContinueWith(
                        async _ => await ApplyAsync(gateway, PolicyFile.Load(policyPath), stderr, cancellationToken).ConfigureAwait(false),
                        CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
                }
            });
            var transport = new StdioServerTransport("steward-gateway", logging);
            await using (transport.ConfigureAwait(false))
            {
                try
                {
                    await gateway.RunAsync(transport, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // SIGTERM or Ctrl-C: stop the upstreams below and exit.
                }
            }
        }

        return ExitCodes.Ok;
    }

    private static async Task ApplyAsync(Agent.Gateway.Gateway gateway, PolicyState state, TextWriter stderr, CancellationToken cancellationToken)
    {
        try
        {
            await gateway.ApplyPolicyAsync(state, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await stderr.WriteLineAsync("steward gateway: applying the policy failed: " + e.Message).ConfigureAwait(false);
        }
    }

    private static FileSystemWatcher Watch(string path, Action changed)
    {
        var full = Path.GetFullPath(path);
        var watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size,
        };
        watcher.Changed += (_, _) => changed();
        watcher.Created += (_, _) => changed();
        watcher.Renamed += (_, _) => changed();
        watcher.EnableRaisingEvents = true;
        return watcher;
    }
}
