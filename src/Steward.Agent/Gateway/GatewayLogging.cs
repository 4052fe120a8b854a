using Microsoft.Extensions.Logging;

namespace Steward.Agent.Gateway;

/// <summary>
/// A minimal logger factory for the gateway and the agent: one line per event to stderr (stdout is the MCP protocol)
/// and to the log file (created 0600), control characters escaped and long texts cut (<see cref="OneLine"/>). The SDK's own categories log at warning and above only, so protocol payloads
/// are never written.
/// </summary>
public sealed class GatewayLogging : ILoggerFactory
{
    /// <summary>How long a line waits for another steward process to finish its line before it is written anyway.</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(1);

    private readonly TextWriter? stderr;
    private readonly FileStream? file;
    private readonly Files.FileLock.Kept? held;
    private readonly LogLevel minimum;
    private readonly Lock gate = new();

    public GatewayLogging(TextWriter? stderr, string? logFile, LogLevel minimum = LogLevel.Information)
    {
        this.stderr = stderr;
        this.minimum = minimum;
        if (logFile is not null)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logFile))!);
                var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = 0 };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                file = new FileStream(logFile, options);
                held = new Files.FileLock.Kept(logFile + ".lock");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr?.WriteLine($"steward: cannot write the log file {logFile}: {e.Message}");
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName,
        categoryName.StartsWith("ModelContextProtocol", StringComparison.Ordinal) ? LogLevel.Warning : minimum);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
        lock (gate)
        {
            file?.Dispose();
            held?.Dispose();
        }
    }

    /// <summary>
    /// One line to stderr and to the log file. Hosts start several gateways at once (one per server), all appending to
    /// one file: each line is written whole, in one write at the file's current end, under the lock every steward
    /// process shares for this file (<see cref="Files.FileLock"/>), so lines of different processes never overwrite or
    /// interleave. A lock not had within a second does not hold the gateway up: the line is then written without it.
    /// </summary>
    private void Write(string line)
    {
        lock (gate)
        {
            try
            {
                stderr?.WriteLine(line);
                if (file is not null)
                {
                    var bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
                    var locked = TryLock();
                    try
                    {
                        file.Seek(0, SeekOrigin.End);
                        file.Write(bytes);
                    }
                    finally
                    {
                        if (locked)
                        {
                            held!.Release();
                        }
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // Logging never takes the gateway down.
            }
        }
    }

    /// <summary>Takes the log's lock, or writes without it when it cannot be had: logging never takes the gateway down.</summary>
    private bool TryLock()
    {
        try
        {
            held!.Take(LockWait);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private sealed class Logger(GatewayLogging owner, string category, LogLevel minimum) : ILogger
    {
        private readonly string shortCategory = category[(category.LastIndexOf('.') + 1)..];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var level = logLevel switch
            {
                LogLevel.Trace => "trce",
                LogLevel.Debug => "dbug",
                LogLevel.Information => "info",
                LogLevel.Warning => "warn",
                LogLevel.Error => "fail",
                _ => "crit",
            };
            var text = formatter(state, exception);
            if (exception is not null)
            {
                text += " (" + exception.GetType().Name + ": " + exception.Message + ")";
            }

            owner.Write($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {level} {shortCategory}[{eventId.Id}] {OneLine(text)}");
        }
    }

    /// <summary>Longest event text written; the rest is counted, not written (a host's 100 kB method name stays out of the log).</summary>
    internal const int MaxText = 4096;

    /// <summary>
    /// One event, one line: line breaks and other control characters (which a host controls, for example in a method
    /// name the SDK logs, and which would forge log lines) are escaped, and the text is cut at <see cref="MaxText"/>.
    /// </summary>
    internal static string OneLine(string text)
    {
        var cut = text.Length > MaxText;
        var kept = cut ? text.AsSpan(0, char.IsHighSurrogate(text[MaxText - 1]) ? MaxText - 1 : MaxText) : text.AsSpan();
        if (!cut && !kept.ContainsAnyInRange('\u0000', '\u001f') && !kept.ContainsAnyInRange('\u007f', '\u009f') && !kept.ContainsAny('\u2028', '\u2029'))
        {
            return text;
        }

        var line = new System.Text.StringBuilder(kept.Length + 32);
        foreach (var c in kept)
        {
            _ = c switch
            {
                '\n' => line.Append("\\n"),
                '\r' => line.Append("\\r"),
                '\t' => line.Append('\t'),
                _ when char.IsControl(c) || c is '\u2028' or '\u2029' => line.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => line.Append(c),
            };
        }

        if (cut)
        {
            line.Append(System.Globalization.CultureInfo.InvariantCulture, $"… ({text.Length - kept.Length} more characters)");
        }

        return line.ToString();
    }
}
