using System.CommandLine;
using System.Text;
using Steward.Agent;

namespace Steward.Cli.Gateway;

/// <summary><c>steward logs [--follow] [--lines N]</c>: the last lines of Steward's log file (the gateway's and the agent's), and what is appended after.</summary>
internal static class LogsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, Func<StewardPaths>? paths = null)
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing lines as they are appended, until Ctrl-C." };
        var lines = new Option<int>("--lines", "-n") { Description = "How many of the last lines to print first.", DefaultValueFactory = _ => 50 };
        var command = new Command("logs", "Print Steward's log file (gateway and agent events; never argument, header or secret values).") { follow, lines };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var count = parse.GetValue(lines);
            if (count < 0)
            {
                await stderr.WriteLineAsync("steward logs: --lines must be 0 or more").ConfigureAwait(false);
                return ExitCodes.Invalid;
            }

            var file = (paths ?? StewardPaths.FromEnvironment)().LogFile;
            return await RunAsync(file, count, parse.GetValue(follow), stdout, stderr, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(string file, int count, bool follow, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            if (!follow)
            {
                await stderr.WriteLineAsync($"steward logs: {file} does not exist yet (steward gateway writes it)").ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            stream = await WaitForAsync(file, cancellationToken).ConfigureAwait(false) ?? throw new OperationCanceledException(cancellationToken);
        }

        await using (stream.ConfigureAwait(false))
        {
            stream.Position = TailStart(stream, count);
            using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 16 * 1024, leaveOpen: true);
            await stdout.WriteAsync(await reader.ReadToEndAsync(CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (!follow)
            {
                return ExitCodes.Ok;
            }

            // Following: read what is appended; the file is only ever appended to (a shorter file means it was replaced: start again).
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var appended = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
                    if (appended.Length > 0)
                    {
                        await stdout.WriteAsync(appended).ConfigureAwait(false);
                        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    if (new FileInfo(file) is { Exists: true } info && info.Length < stream.Position)
                    {
                        stream.Position = 0;
                        reader.DiscardBufferedData();
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }

        return ExitCodes.Ok;
    }

    private static async Task<FileStream?> WaitForAsync(string file, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                return new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            }
        }

        return null;
    }

    /// <summary>Where the last <paramref name="count"/> lines start, reading backwards from the end in blocks.</summary>
    internal static long TailStart(FileStream stream, int count)
    {
        var length = stream.Length;
        if (count == 0)
        {
            return length;
        }

        var buffer = new byte[8192];
        var position = length;
        var newlines = 0;
        // A final newline ends the last line; it does not start another.
        var skipFinal = true;
        while (position > 0)
        {
            var size = (int)Math.Min(buffer.Length, position);
            position -= size;
            stream.Position = position;
            stream.ReadExactly(buffer, 0, size);
            for (var i = size - 1; i >= 0; i--)
            {
                if (buffer[i] != (byte)'\n')
                {
                    skipFinal = false;
                    continue;
                }

                if (skipFinal && position + i == length - 1)
                {
                    skipFinal = false;
                    continue;
                }

                if (++newlines == count)
                {
                    return position + i + 1;
                }
            }
        }

        return 0;
    }
}
