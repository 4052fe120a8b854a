using System.Text;

namespace Steward.Agent.Files;

/// <summary>
/// The last lines of a log file, and with <c>follow</c> what is appended after (<c>steward logs</c>): the file is
/// opened so that the writer may keep appending, rotating or deleting it, and is only ever read.
/// </summary>
public static class LogTail
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Hands <paramref name="write"/> the text of the last <paramref name="count"/> lines of <paramref name="file"/>,
    /// then, when following, each piece appended until <paramref name="cancellationToken"/> is cancelled (a piece may
    /// end mid-line: see <see cref="LogLines"/>). Returns false, having read nothing, when the file does not exist and
    /// it is not followed; a followed file is waited for. Cancelled while waiting, it throws
    /// <see cref="OperationCanceledException"/>; cancelled while following, it returns.
    /// </summary>
    public static async Task<bool> ReadAsync(string file, int count, bool follow, Func<string, Task> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        FileStream stream;
        try
        {
            stream = Open(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            if (!follow)
            {
                return false;
            }

            stream = await WaitForAsync(file, cancellationToken).ConfigureAwait(false) ?? throw new OperationCanceledException(cancellationToken);
        }

        await using (stream.ConfigureAwait(false))
        {
            stream.Position = TailStart(stream, count);
            using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 16 * 1024, leaveOpen: true);
            await write(await reader.ReadToEndAsync(CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
            if (!follow)
            {
                return true;
            }

            // Following: read what is appended; the file is only ever appended to (a shorter file means it was replaced: start again).
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var appended = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
                    if (appended.Length > 0)
                    {
                        await write(appended).ConfigureAwait(false);
                        continue;
                    }

                    if (new FileInfo(file) is { Exists: true } info && info.Length < stream.Position)
                    {
                        stream.Position = 0;
                        reader.DiscardBufferedData();
                    }

                    await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }

        return true;
    }

    private static FileStream Open(string file) =>
        new(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    private static async Task<FileStream?> WaitForAsync(string file, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                return Open(file);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                try
                {
                    await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
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
    public static long TailStart(FileStream stream, int count)
    {
        ArgumentNullException.ThrowIfNull(stream);
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
