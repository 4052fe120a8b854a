using Steward.Agent.Files;
using Steward.Agent.Tests.Gateway;

namespace Steward.Agent.Tests.Files;

/// <summary>
/// <see cref="FileLock.Kept"/>, the audit log's lock file kept open between lines, excludes and is excluded by the
/// lock every other writer takes (<see cref="FileLock.Acquire"/>, a new open of the file), and is free after each release.
/// </summary>
public sealed class FileLockTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(100);

    [Fact]
    public void A_kept_lock_excludes_other_opens_while_taken_and_not_after_release()
    {
        var lockPath = Path.Combine(GatewayHarness.TempDirectory(), "audit.jsonl.lock");
        using var kept = new FileLock.Kept(lockPath);
        for (var round = 0; round < 3; round++)
        {
            // The first round opens the file; the later ones flock the descriptor kept open.
            kept.Take(Short);
            var refused = Assert.Throws<IOException>(() => FileLock.Acquire(lockPath, Short));
            Assert.Contains(lockPath, refused.Message, StringComparison.Ordinal);
            kept.Release();

            using (FileLock.Acquire(lockPath, Short))
            {
            }
        }
    }

    [Fact]
    public async Task A_kept_lock_waits_for_another_holder_and_names_the_file_when_it_is_not_released()
    {
        var lockPath = Path.Combine(GatewayHarness.TempDirectory(), "audit.jsonl.lock");
        using var kept = new FileLock.Kept(lockPath);
        kept.Take(Short);
        kept.Release();

        var other = FileLock.Acquire(lockPath, Short);
        var refused = Assert.Throws<IOException>(() => kept.Take(Short));
        Assert.Contains(lockPath, refused.Message, StringComparison.Ordinal);

        // Released by the other holder while this one waits: taken.
        var release = Task.Run(async () =>
        {
            await Task.Delay(50);
            other.Dispose();
        });
        kept.Take(TimeSpan.FromSeconds(10));
        Assert.Throws<IOException>(() => FileLock.Acquire(lockPath, Short));
        kept.Release();
        await release;
    }
}
