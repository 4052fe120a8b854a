namespace Steward.Agent.Gateway;

/// <summary>
/// Flow control for one local upstream: at most <c>size</c> of its messages are between its stdout and the
/// gateway having handled them. Its stdout (<see cref="BoundedLineStream"/>) enters the window for each JSON line it
/// passes on and waits while the window is full; the upstream's transport (<see cref="InterceptingTransport"/>) leaves
/// it once a message has been handled, which for a notification to the hosts means written to them. So an upstream
/// that sends faster than the hosts read is slowed to their pace, and waits on its own stdout, instead of the gateway
/// queueing its messages without bound.
/// </summary>
/// <remarks>
/// A line the SDK's reader cannot parse is dropped by it and never handled, so its place would stay taken: a wait
/// that lasts <see cref="Patience"/> goes on without one, so such lines slow an upstream down but never stop it.
/// </remarks>
internal sealed class MessageWindow(int size)
{
    /// <summary>The default: a burst this long passes at full speed; past it, the upstream goes at the hosts' pace.</summary>
    public const int DefaultSize = 256;

    /// <summary>How long a line waits for a place before it is passed on without one.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim free = new(size);

    /// <summary>Takes a place for a message, waiting while the window is full (at most <see cref="Patience"/>).</summary>
    public async ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        if (!free.Wait(0))
        {
            await free.WaitAsync(Patience, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Gives a handled message's place back.</summary>
    public void Leave()
    {
        // Never above the size: a place given back after a wait that went on without one (see Patience) is not added.
        if (free.CurrentCount < size)
        {
            free.Release();
        }
    }
}
