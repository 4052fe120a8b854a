using System.CommandLine;
using System.Runtime.InteropServices;
using Steward.Agent.Gateway;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward gateway</c>: the MCP server a host launches over stdio. Serves every admitted server of the user's and
/// workspace's <c>mcp.json</c> (or one, with <c>--server</c>), enforcing the policy. Logs go to stderr and the log
/// file; stdout carries only the protocol. The command checks its options and stops on a signal;
/// <see cref="GatewayRunner"/> wires and runs the gateway.
/// </summary>
internal static class GatewayCommand
{
    public static Command Create(TextWriter stderr)
    {
        var server = new Option<string?>("--server")
        {
            Description = "Serve exactly this configured server, its tool, prompt and resource names unchanged (one host entry per server).",
        };
        var policy = new Option<string?>("--policy")
        {
            Description = "Read the policy from this local file (air-gapped machines); re-applied when the file changes. On a machine logged in to a Steward server, only the file's toolRules are used, added to the profile's (deny wins).",
        };
        var http = new Option<int?>("--http")
        {
            Description = "Serve MCP streamable HTTP at http://127.0.0.1:<port>/mcp instead of stdio (0: any free port), with a bearer token: STEWARD_GATEWAY_TOKEN, or one generated and printed to stderr.",
        };
        var idle = new Option<int>("--session-idle")
        {
            Description = "With --http: end a session idle this many seconds (no request in flight, no open stream).",
            DefaultValueFactory = _ => GatewayHttpHost.DefaultIdleSeconds,
        };
        var maxSessions = new Option<int>("--max-sessions")
        {
            Description = "With --http: the most sessions open at once; a new one then ends the longest idle, or is refused with 503.",
            DefaultValueFactory = _ => GatewayHttpHost.DefaultMaxSessions,
        };
        var command = new Command("gateway", "Run the MCP gateway over stdio: every admitted MCP server behind one (tools named <server>__<tool>), or one with --server.")
        {
            server, policy, http, idle, maxSessions,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            // Hosts stop a stdio server with a signal, not by closing stdin (Claude Code: SIGINT; Copilot: SIGTERM, then
            // SIGKILL). The gateway takes both for itself (Cli leaves them to it) so that it stops in order: upstreams
            // stopped, every audited call spooled and sent within a short bound, then exit 0.
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stopping.Cancel();
            }

            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            return await RunAsync(parse.GetValue(server), parse.GetValue(policy), parse.GetValue(http),
                new GatewayHttpHost.Limits(TimeSpan.FromSeconds(parse.GetValue(idle)), parse.GetValue(maxSessions)), stderr, stopping.Token).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(string? serverName, string? policyPath, int? httpPort, GatewayHttpHost.Limits limits, TextWriter stderr,
        CancellationToken cancellationToken)
    {
        if (httpPort is < 0 or > 65535)
        {
            await stderr.WriteLineAsync($"steward gateway: --http {httpPort}: not a TCP port (0-65535)").ConfigureAwait(false);
            return ExitCodes.Invalid;
        }

        if (limits.Idle <= TimeSpan.Zero || limits.MaxSessions < 1)
        {
            await stderr.WriteLineAsync(limits.Idle <= TimeSpan.Zero
                ? $"steward gateway: --session-idle {limits.Idle.TotalSeconds}: give a number of seconds of at least 1"
                : $"steward gateway: --max-sessions {limits.MaxSessions}: give at least 1").ConfigureAwait(false);
            return ExitCodes.Invalid;
        }

        if (await GatewayRunner.RunAsync(new GatewayRun(serverName, policyPath, httpPort, limits), stderr, cancellationToken).ConfigureAwait(false) is { } error)
        {
            await stderr.WriteLineAsync($"steward gateway: {error}").ConfigureAwait(false);
            return ExitCodes.Invalid;
        }

        return ExitCodes.Ok;
    }
}
