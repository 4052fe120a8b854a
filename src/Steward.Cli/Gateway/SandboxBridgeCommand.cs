using System.Globalization;
using Steward.Agent.Sandbox;

namespace Steward.Cli;

/// <summary>
/// <c>steward sandbox-bridge --port N --socket PATH -- command args…</c>: not for people (hidden from help). The gateway
/// runs it as the first process inside a server's sandbox (see <see cref="SandboxBridge"/>).
/// </summary>
internal static class SandboxBridgeCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter stderr)
    {
        var separator = Array.IndexOf(args, "--");
        if (separator < 0 || args[..separator] is not ["--port", var portText, "--socket", var socket] ||
            !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            await stderr.WriteLineAsync("steward sandbox-bridge: usage: steward sandbox-bridge --port N --socket PATH -- command [args…] (run by the gateway inside a sandbox)").ConfigureAwait(false);
            return ExitCodes.Unreadable;
        }

        return await SandboxBridge.RunAsync(port, socket, args[(separator + 1)..], stderr, CancellationToken.None).ConfigureAwait(false);
    }
}
