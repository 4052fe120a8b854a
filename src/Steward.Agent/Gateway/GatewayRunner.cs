using Microsoft.Extensions.Logging;
using Steward.Agent.Audit;
using Steward.Agent.Servers;
using Steward.Agent.Sources;
using Steward.Agent.Sync;

namespace Steward.Agent.Gateway;

/// <summary><c>steward gateway</c>'s options, parsed and checked.</summary>
/// <param name="Server">Serve exactly this configured server (<c>--server</c>), or null for every admitted one.</param>
/// <param name="PolicyPath">The local policy file (<c>--policy</c>), or null.</param>
/// <param name="HttpPort">Serve streamable HTTP on 127.0.0.1 at this port (<c>--http</c>; 0: any free port), or null for stdio.</param>
public sealed record GatewayRun(string? Server, string? PolicyPath, int? HttpPort, GatewayHttpHost.Limits Limits);

/// <summary>
/// <c>steward gateway</c> wired: the merged <c>mcp.json</c>, the log, the policy followed (the Steward server's or
/// the source's sync, else the <c>--policy</c> file), the audit upload, the sandbox, the <c>mcp.json</c> feed, and the
/// gateway served over stdio or HTTP until <c>cancellationToken</c> is cancelled. This is every gateway start's path:
/// nothing here is done that the run does not need.
/// </summary>
public static class GatewayRunner
{
    /// <summary>Runs the gateway until it stops; null then, else why it could not start (nothing was started).</summary>
    /// <param name="stderr">Where the log goes besides the log file, and the bearer token generated for an HTTP run.</param>
    public static async Task<string?> RunAsync(GatewayRun run, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(stderr);
        var paths = StewardPaths.FromEnvironment();
        var workingDirectory = Environment.CurrentDirectory;
        var loaded = McpConfigFiles.Fingerprint(paths, workingDirectory);
        var (merged, error) = McpConfigFiles.LoadMerged(paths, workingDirectory);
        if (merged is null)
        {
            return error;
        }

        using var logging = new GatewayLogging(stderr, paths.LogFile);
        var logger = logging.CreateLogger("Steward.Gateway");

        // Logged in to a Steward server, the server's signed policy is followed even with --policy: the file then only adds
        // its tool rules (a file the developer controls never widens what the administrator admits). Tool calls go to the
        // server whenever it is the policy source.
        var loggedIn = SourceStore.Load(paths).Source is { Kind: SourceKind.StewardServer };
        var followSync = run.PolicyPath is null || loggedIn;
        var uploader = followSync && AuditUploader.OptionsForSource(paths) is { } upload ? new AuditUploader(upload, logging.CreateLogger("Steward.AuditUpload")) : null;
#pragma warning disable CA2007 // Run by steward gateway, with no synchronisation context; ConfigureAwait has no form for a null disposable.
        await using var uploading = uploader;
#pragma warning restore CA2007
        var gateway = new Gateway(new GatewayOptions
        {
            Config = merged,
            Server = run.Server,
            ManySessions = run.HttpPort is not null,
            AuditLogPath = paths.AuditLog,
            PinsPath = paths.PinsFile,
            Lookup = SecretStore.LaunchLookup(paths, Environment.GetEnvironmentVariable, message => GatewayRunnerLog.SecretsUnreadable(logger, message)),
            AuditUploader = uploader,
            SandboxHost = new Sandbox.SandboxHost
            {
                Bridge = Sandbox.SandboxBridge.SelfCommand(System.Reflection.Assembly.GetEntryAssembly()?.Location),
                ConfigDirectory = paths.ConfigDirectory,
            },
        }, logging);
        await using (gateway.ConfigureAwait(false))
        {
            using var sync = followSync ? new PolicySync(paths, logger: logging.CreateLogger("Steward.Sync")) : null;
            var feed = sync is not null ? PolicyFeed.FollowSync(gateway, sync, paths, logger, run.PolicyPath) : PolicyFeed.FollowFile(gateway, run.PolicyPath!, logger);
            var following = ConfigFeed.Follow(gateway, paths, workingDirectory, loaded, logging.CreateLogger("Steward.Config"));
            await using (feed.ConfigureAwait(false))
            await using (following.ConfigureAwait(false))
            {
                if (run.HttpPort is { } port)
                {
                    var token = Environment.GetEnvironmentVariable(GatewayHttpHost.TokenVariable) is { Length: > 0 } given ? given : null;
                    if (token is null)
                    {
                        token = GatewayHttpHost.NewToken();
                        await stderr.WriteLineAsync($"steward gateway: bearer token for this run (set {GatewayHttpHost.TokenVariable} to choose it): {token}").ConfigureAwait(false);
                    }

                    await GatewayHttpHost.RunAsync(gateway, port, token, run.Limits, stderr, logging, cancellationToken).ConfigureAwait(false);
                    return null;
                }

                var transport = GatewayStdio.CreateTransport("steward-gateway", logging);
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
        }

        return null;
    }
}

internal static partial class GatewayRunnerLog
{
    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "The secrets file cannot be read: {Message}")]
    public static partial void SecretsUnreadable(ILogger logger, string message);
}
