using Microsoft.Extensions.Logging;
using Steward.Agent.Files;
using Steward.Agent.Servers;

namespace Steward.Agent.Gateway;

/// <summary>
/// Keeps a running <see cref="Gateway"/> on the developer's configuration: when the user's or the workspace's
/// <c>mcp.json</c> changes (<c>steward mcp add</c>, <c>remove</c>, <c>disable</c>, <c>enable</c>, an editor), the merged
/// configuration is read again and applied, so the servers concerned stop, start or relaunch within seconds and the
/// rest keep running. The files' directories are watched; a poll every <see cref="PollInterval"/> also catches what a
/// watcher misses (a workspace file created later, a directory made after the start, a network file system).
/// </summary>
/// <remarks>
/// An invalid file (a half-saved edit) is logged once with its problems and changes nothing: the servers keep running
/// as configured before, until the file is valid again.
/// </remarks>
public sealed partial class ConfigFeed : IAsyncDisposable
{
    /// <summary>How often the files are looked at when no watcher reported a change.</summary>
    public static TimeSpan PollInterval { get; } = TimeSpan.FromSeconds(2);

    /// <summary>How long after a reported change the files are read: an editor's save is often several writes.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(150);

    private readonly Gateway gateway;
    private readonly StewardPaths paths;
    private readonly string workingDirectory;
    private readonly ILogger logger;
    private readonly SemaphoreSlim changed = new(0);
    private readonly CancellationTokenSource stop = new();
    private readonly List<FileWatch> watchers = [];
    private readonly Task worker;
    private string fingerprint;
    private long applied;

    private ConfigFeed(Gateway gateway, StewardPaths paths, string workingDirectory, string loaded, ILogger logger)
    {
        this.gateway = gateway;
        this.paths = paths;
        this.workingDirectory = workingDirectory;
        this.logger = logger;
        fingerprint = loaded;
        Watch(paths.UserMcpConfig);
        if (StewardPaths.FindWorkspaceMcpConfig(workingDirectory) is { } workspace)
        {
            Watch(workspace);
        }

        worker = Task.Run(WorkAsync);
    }

    /// <summary>How many changed configurations were applied (for tests and diagnostics).</summary>
    public long Applied => Interlocked.Read(ref applied);

    /// <summary>
    /// Follows the files the gateway was started with: <paramref name="loaded"/> is their
    /// <see cref="McpConfigFiles.Fingerprint"/> taken just before the caller read them, so a change made in between is
    /// applied too.
    /// </summary>
    public static ConfigFeed Follow(Gateway gateway, StewardPaths paths, string workingDirectory, string loaded, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(workingDirectory);
        ArgumentNullException.ThrowIfNull(loaded);
        ArgumentNullException.ThrowIfNull(logger);
        return new ConfigFeed(gateway, paths, workingDirectory, loaded, logger);
    }

    private void Watch(string file)
    {
        try
        {
            // Steward writes mcp.json by rename; editors write in place: names and writes are both watched, for this
            // file only (the directory's other files, such as audit.jsonl, are written on every tool call).
            if (FileWatch.Start(file, Signal) is { } watcher)
            {
                watchers.Add(watcher);
            }
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            // Out of inotify watches, or a file system without notifications: the poll still sees every change.
            LogWatchUnavailable(logger, Path.GetDirectoryName(file)!, e.Message);
        }
    }

    private void Signal()
    {
        if (changed.CurrentCount == 0)
        {
            changed.Release();
        }
    }

    private async Task WorkAsync()
    {
        var token = stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                if (await changed.WaitAsync(PollInterval, token).ConfigureAwait(false))
                {
                    await Task.Delay(Settle, token).ConfigureAwait(false);
                    while (changed.CurrentCount > 0)
                    {
                        await changed.WaitAsync(token).ConfigureAwait(false);
                    }
                }

                var now = McpConfigFiles.Fingerprint(paths, workingDirectory);
                if (now == fingerprint)
                {
                    continue;
                }

                fingerprint = now;
                var (merged, error) = McpConfigFiles.LoadMerged(paths, workingDirectory);
                if (merged is null)
                {
                    LogInvalid(logger, error ?? "unreadable");
                    continue;
                }

                LogChanged(logger);
                try
                {
                    await gateway.ApplyConfigAsync(merged, token).ConfigureAwait(false);
                    Interlocked.Increment(ref applied);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    LogApplyFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var watcher in watchers)
        {
            watcher.Dispose();
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await worker.ConfigureAwait(false);
        stop.Dispose();
        changed.Dispose();
    }

    [LoggerMessage(EventId = 50, Level = LogLevel.Information, Message = "The MCP configuration (mcp.json) changed; applying it")]
    private static partial void LogChanged(ILogger logger);

    [LoggerMessage(EventId = 51, Level = LogLevel.Warning, Message = "The MCP configuration changed but {Error}; the servers keep running as configured before until it is fixed")]
    private static partial void LogInvalid(ILogger logger, string error);

    [LoggerMessage(EventId = 52, Level = LogLevel.Error, Message = "Applying the changed MCP configuration failed: {Message}")]
    private static partial void LogApplyFailed(ILogger logger, string message);

    [LoggerMessage(EventId = 53, Level = LogLevel.Warning, Message = "Changes to {Directory}/mcp.json cannot be watched ({Message}); they are picked up by polling")]
    private static partial void LogWatchUnavailable(ILogger logger, string directory, string message);
}
