using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Steward.Agent.Sandbox;

/// <summary>
/// Runs inside the sandbox, as the sandbox's first process (<c>steward sandbox-bridge</c>): listens on the sandbox's own
/// loopback (its network namespace has nothing else) and carries each connection to the gateway's
/// <see cref="SandboxProxy"/> over the unix socket bound into the sandbox, then runs the server with the same standard
/// input and output and exits with its exit code. The server's proxy variables point at this port, so its HTTP clients
/// reach the proxy; a direct connection finds no route out of the namespace.
/// </summary>
public static class SandboxBridge
{
    public const string CommandName = "sandbox-bridge";

    /// <summary>The argv that runs this bridge from the current executable (<c>steward</c>, or <c>dotnet steward.dll</c>); null when it cannot be told.</summary>
    public static IReadOnlyList<string>? SelfCommand(string? entryAssembly)
    {
        var process = Environment.ProcessPath;
        if (process is null)
        {
            return null;
        }

        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
        {
            return entryAssembly is null ? null : [process, entryAssembly, CommandName];
        }

        return [process, CommandName];
    }

    public static async Task<int> RunAsync(int port, string socketPath, IReadOnlyList<string> argv, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(error);
        if (argv.Count == 0)
        {
            await error.WriteLineAsync("steward sandbox-bridge: no command after --").ConfigureAwait(false);
            return 2;
        }

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            listener.Listen(64);
        }
        catch (SocketException e)
        {
            await error.WriteLineAsync($"steward sandbox-bridge: cannot listen on 127.0.0.1:{port}: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var accepting = AcceptAsync(listener, socketPath, stop.Token);
        var start = new ProcessStartInfo(argv[0]) { UseShellExecute = false };
        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        Process? child;
        try
        {
            child = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            await error.WriteLineAsync($"steward sandbox-bridge: cannot start {argv[0]}: {e.Message}").ConfigureAwait(false);
            return 127;
        }

        if (child is null)
        {
            return 127;
        }

        using (child)
        {
            await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            listener.Dispose();
            try
            {
                await accepting.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            return child.ExitCode;
        }
    }

    private static async Task AcceptAsync(Socket listener, string socketPath, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using var inner = client;
                using var proxy = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await proxy.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    return;
                }

                await using var a = new NetworkStream(inner, ownsSocket: false);
                await using var b = new NetworkStream(proxy, ownsSocket: false);
                await SandboxProxy.PipeAsync(a, b, inner, proxy, cancellationToken).ConfigureAwait(false);
            }, CancellationToken.None);
        }
    }
}
