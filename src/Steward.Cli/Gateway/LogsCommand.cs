using System.CommandLine;
using System.Text;
using System.Text.Json;
using Steward.Agent;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward logs [--follow] [--lines N] [--json]</c>: the last lines of Steward's log file (the gateway's and the
/// agent's), and what is appended after; with <c>--json</c>, one JSON object per line (<see cref="LogEntry"/>).
/// </summary>
internal static class LogsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, Func<StewardPaths>? paths = null)
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing lines as they are appended, until Ctrl-C." };
        var lines = new Option<int>("--lines", "-n") { Description = "How many of the last lines to print first.", DefaultValueFactory = _ => 50 };
        lines.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 and var given)
            {
                result.AddError($"--lines {given}: give 0 or more lines, such as --lines 200 (0 with --follow prints only what is appended)");
            }
        });
        var json = MachineOutput.JsonOption("Print each line as a JSON object on a line of its own (time, level, category, eventId, message).");
        var command = new Command("logs", "Print Steward's log file (gateway and agent events; never argument, header or secret values).") { follow, lines, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = (paths ?? StewardPaths.FromEnvironment)().LogFile;
            return await RunAsync(file, parse.GetValue(lines), parse.GetValue(follow), stdout, stderr, cancellationToken, parse.GetValue(json)).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(string file, int count, bool follow, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken, bool json = false)
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

        var output = new Output(stdout, json);
        await using (stream.ConfigureAwait(false))
        {
            stream.Position = TailStart(stream, count);
            using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 16 * 1024, leaveOpen: true);
            await output.WriteAsync(await reader.ReadToEndAsync(CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
            if (!follow)
            {
                await output.EndAsync().ConfigureAwait(false);
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
                        await output.WriteAsync(appended).ConfigureAwait(false);
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

        await output.EndAsync().ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Text goes out as read; JSON one object per whole line, so a line read in two pieces (caught while it was being
    /// appended) is held until its end arrives, and a last line without a newline is written at the end.
    /// </summary>
    internal sealed class Output(TextWriter stdout, bool json)
    {
        private readonly StringBuilder pending = new();

        public async Task WriteAsync(string text)
        {
            if (!json)
            {
                await stdout.WriteAsync(text).ConfigureAwait(false);
                await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                return;
            }

            pending.Append(text);
            var whole = pending.ToString();
            var end = whole.LastIndexOf('\n');
            if (end < 0)
            {
                return;
            }

            pending.Clear().Append(whole, end + 1, whole.Length - end - 1);
            await LinesAsync(whole[..end]).ConfigureAwait(false);
        }

        public async Task EndAsync()
        {
            if (json && pending.Length > 0)
            {
                var rest = pending.ToString();
                pending.Clear();
                await LinesAsync(rest).ConfigureAwait(false);
            }
        }

        private async Task LinesAsync(string text)
        {
            foreach (var line in text.Split('\n'))
            {
                var entry = LogEntry.Parse(line.TrimEnd('\r'));
                await stdout.WriteLineAsync(JsonSerializer.Serialize(entry, CliJsonContext.Lines.LogEntry)).ConfigureAwait(false);
            }

            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
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
