using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Agent.Gateway;

/// <summary>
/// A local upstream over stdio: the process started with its argv (never a shell), its stdout read through a
/// <see cref="BoundedLineStream"/> so that no message past the gateway's limit is held in memory, its stderr to the
/// log line by line; with a <see cref="MessageWindow"/>, at most its size of messages are read ahead of being handled. Stopping closes its stdin, waits <see cref="ShutdownTimeout"/> for it to exit, then ends its whole
/// process tree, as the SDK's stdio transport does.
/// </summary>
internal sealed class UpstreamProcess(
    string name,
    string command,
    IReadOnlyList<string> args,
    IReadOnlyDictionary<string, string?> environment,
    string? workingDirectory,
    long messageLimit,
    Action<string> stderrLine,
    Action<string?, long> onOversized,
    ILoggerFactory loggerFactory,
    MessageWindow? window = null) : IClientTransport
{
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(2);

    public string Name => name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        foreach (var (key, value) in environment)
        {
            if (value is not null)
            {
                start.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                stderrLine(line);
            }
        };
        try
        {
            if (!await LauncherThread.StartAsync(process).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"could not start {command}");
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new InvalidOperationException($"could not start {command}: {e.Message}", e);
        }

        process.BeginErrorReadLine();
        var output = new BoundedLineStream(process.StandardOutput.BaseStream, messageLimit, name, onOversized, window);
        var inner = await new StreamClientTransport(process.StandardInput.BaseStream, output, loggerFactory).ConnectAsync(cancellationToken).ConfigureAwait(false);
        return new Session(inner, process);
    }

    /// <summary>The SDK's stream session, and the process it talks to, stopped together.</summary>
    private sealed class Session(ITransport inner, Process process) : ITransport
    {
        public string? SessionId => inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader => inner.MessageReader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default) => inner.SendMessageAsync(message, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            try
            {
                process.StandardInput.Close();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
            {
            }

            try
            {
                using var wait = new CancellationTokenSource(ShutdownTimeout);
                await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                }
            }
            finally
            {
                process.Dispose();
            }
        }
    }
}
