using Steward.Agent.Files;

namespace Steward.Agent.Tests.Files;

/// <summary>
/// <see cref="FileWatch"/> against the real file system. The negative cases write with pauses so that a watcher that
/// did wake on them would be woken once per write (inotify merges only events that wait unread).
/// </summary>
public sealed class FileWatchTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string directory = Directory.CreateTempSubdirectory("steward-watch-").FullName;
    private readonly SemaphoreSlim signals = new(0);
    private int count;

    private string Watched => Path.Combine(directory, "mcp.json");

    private void Changed()
    {
        Interlocked.Increment(ref count);
        signals.Release();
    }

    private void Replace(string text)
    {
        var temporary = Watched + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, Watched, overwrite: true);
    }

    private async Task SignalledAsync() => Assert.True(await signals.WaitAsync(Wait), "the watch did not call back");

    private static void Pause() => Thread.Sleep(20);

    [Fact]
    public async Task A_write_in_place_a_replacement_by_rename_and_a_write_to_the_new_file_each_call_back()
    {
        File.WriteAllText(Watched, "{}");
        using var watch = FileWatch.Start(Watched, Changed)!;

        await File.AppendAllTextAsync(Watched, " ");
        await SignalledAsync();

        Replace("{ }");
        await SignalledAsync();

        // The write watch moved to the new inode.
        while (signals.CurrentCount > 0)
        {
            await signals.WaitAsync();
        }

        await File.AppendAllTextAsync(Watched, " ");
        await SignalledAsync();
    }

    [Fact]
    public async Task Creating_and_deleting_the_file_call_back()
    {
        using var watch = FileWatch.Start(Watched, Changed, writes: false)!;
        Replace("{}");
        await SignalledAsync();
        File.Delete(Watched);
        await SignalledAsync();
    }

    [Fact]
    public async Task Writes_to_other_files_of_the_directory_do_not_call_back()
    {
        File.WriteAllText(Watched, "{}");
        var audit = Path.Combine(directory, "audit.jsonl");
        using var watch = FileWatch.Start(Watched, Changed)!;
        using (var log = new FileStream(audit, FileMode.Append))
        {
            for (var i = 0; i < 25; i++)
            {
                log.Write("{\"line\":1}\n"u8);
                log.Flush();
                Pause();
            }
        }

        File.AppendAllText(Path.Combine(directory, "steward.log"), "a line\n");
        File.Delete(Watched);
        await SignalledAsync();
        // The delete itself is one name event, and the inode's link count change may be one more.
        Assert.InRange(Volatile.Read(ref count), 1, 2);
    }

    [Fact]
    public async Task Without_writes_only_names_call_back()
    {
        File.WriteAllText(Watched, "{}");
        using var watch = FileWatch.Start(Watched, Changed, writes: false)!;
        for (var i = 0; i < 25; i++)
        {
            File.AppendAllText(Watched, " ");
            Pause();
        }

        Replace("{}");
        await SignalledAsync();
        Assert.Equal(1, Volatile.Read(ref count));
    }

    [Fact]
    public void A_missing_directory_gives_no_watch()
    {
        Assert.Null(FileWatch.Start(Path.Combine(directory, "absent", "mcp.json"), Changed));
    }

    [Fact]
    public async Task A_disposed_watch_leaves_a_new_watch_of_the_same_file_working()
    {
        File.WriteAllText(Watched, "{}");
        FileWatch.Start(Watched, Changed)!.Dispose();
        using var again = FileWatch.Start(Watched, Changed)!;
        File.AppendAllText(Watched, " ");
        await SignalledAsync();
    }

    public void Dispose()
    {
        signals.Dispose();
        Directory.Delete(directory, recursive: true);
    }
}
