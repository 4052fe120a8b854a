using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Hosting;

/// <summary>
/// A counter this instance raises once it has handled any request that may change state, after the change is
/// committed. What an instance remembers for a short time from the database (a token's policy bundle, an
/// organisation's registry revision) is tagged with the counter read before reading, and is stale once it moved: a change
/// made through this instance is in its very next answer, one made through another instance within the memory's lifetime.
/// </summary>
internal sealed class LocalChanges
{
    /// <summary>How long an instance may answer from what it read, when nothing changed through it meanwhile.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);

    private long _generation;
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>
    /// A change was committed: through this instance (the middleware, the console), or through another instance on the same
    /// PostgreSQL database (<c>Policy/ChangeListener</c>, woken by the NOTIFY of the change's transaction). Wakes every
    /// <see cref="NextAsync"/> waiter: the held policy channels.
    /// </summary>
    public void Changed()
    {
        Interlocked.Increment(ref _generation);
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Completes as soon as <see cref="Generation"/> is no longer <paramref name="seen"/> (at once when it already moved).</summary>
    public Task NextAsync(long seen)
    {
        // Read the waiter before the generation: a change between the two reads has either completed this waiter or moved
        // the generation, so none is missed.
        var next = Volatile.Read(ref _next);
        return Generation != seen ? Task.CompletedTask : next.Task;
    }

    /// <summary>
    /// Middleware: when any request that may change state (not GET, HEAD or OPTIONS) starts its answer and when it has been
    /// handled, <see cref="Changed"/>.
    /// The model endpoints (<c>/v1/…</c>) and the gateways' tool-call uploads change nothing remembered and are left out, so
    /// that traffic does not empty the memories.
    /// </summary>
    public static async Task AfterWrites(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var method = context.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) 
            || context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal) || context.Request.Path.StartsWithSegments("/api/v1/audit/tool-calls", StringComparison.Ordinal))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        // Raised before the answer starts (the handler has committed by then), so that a client that sends its next
        // request as soon as it reads this answer is already served from the database; and again at the end, for an
        // answer that never started.
        var changes = context.RequestServices.GetRequiredService<LocalChanges>();
        context.Response.OnStarting(() =>
        {
            changes.Changed();
            return Task.CompletedTask;
        });
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            changes.Changed();
        }
    }
}
