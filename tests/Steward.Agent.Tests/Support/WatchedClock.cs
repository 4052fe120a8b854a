using Microsoft.Extensions.Time.Testing;

namespace Steward.Agent.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> (the time moves only when the test moves it) that tells the test each time the code
/// under test looks at it or sets a timer on it. Code that reads its clock after each step, before it decides how long to
/// wait (the audit uploader's worker does), is waited for exactly: <see cref="Until"/> checks its condition again at each
/// look, and neither sleeps nor polls.
/// </summary>
internal sealed class WatchedClock() : FakeTimeProvider(DateTimeOffset.UtcNow)
{
    /// <summary>How long, in real time, <see cref="Until"/> waits before it fails the test.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly Lock gate = new();
    private TaskCompletionSource looked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int armed;

    /// <summary>How many timers are set to fire (set, not fired yet, not stopped).</summary>
    public int Armed
    {
        get
        {
            lock (gate)
            {
                return armed;
            }
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        var now = base.GetUtcNow();
        Looked();
        return now;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new WatchedTimer(this, callback, state);
        timer.Set(dueTime, period);
        timer.Inner = base.CreateTimer(timer.Fire, null, dueTime, period);
        Looked();
        return timer;
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, checking it again each time the clock is looked at or a timer is
    /// set on it; fails the test when it does not hold within 30 s. With <paramref name="advance"/>, whenever a timer is
    /// set the clock is moved on by that much (make it longer than any wait of the code under test), so what waits for a
    /// time happens as soon as it waits.
    /// </summary>
    public async Task Until(Func<bool> condition, string what, TimeSpan? advance = null)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (true)
        {
            Task next;
            lock (gate)
            {
                next = looked.Task;
            }

            // Checked after taking the next look's task: a change made after this check is followed by a look.
            if (condition())
            {
                return;
            }

            if (advance is { } by && Armed > 0)
            {
                Advance(by);
                continue;
            }

            try
            {
                await next.WaitAsync(guard.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.True(condition(), "timed out waiting until " + what);
                return;
            }
        }
    }

    private void Looked()
    {
        TaskCompletionSource done;
        lock (gate)
        {
            done = looked;
            looked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        done.TrySetResult();
    }

    /// <summary>A timer of the fake clock, counted in <see cref="Armed"/> while it is set to fire.</summary>
    private sealed class WatchedTimer(WatchedClock clock, TimerCallback callback, object? state) : ITimer
    {
        private bool set;
        private bool periodic;

        public ITimer? Inner { get; set; }

        public void Set(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock.gate)
            {
                clock.armed -= set ? 1 : 0;
                set = dueTime != Timeout.InfiniteTimeSpan;
                periodic = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
                clock.armed += set ? 1 : 0;
            }
        }

        public void Fire(object? ignored)
        {
            lock (clock.gate)
            {
                if (set && !periodic)
                {
                    set = false;
                    clock.armed--;
                }
            }

            callback(state);
            clock.Looked();
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Set(dueTime, period);
            return Inner!.Change(dueTime, period);
        }

        public void Dispose()
        {
            Set(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Inner?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
