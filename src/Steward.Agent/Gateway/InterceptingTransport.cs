using System.Threading.Channels;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Agent.Gateway;

/// <summary>
/// An upstream's transport whose incoming messages pass, in the order they arrived, through <c>intercept</c> before
/// the SDK's client sees them: a message it takes (returns true for) is handled there and then, before any message after
/// it. The SDK dispatches incoming messages concurrently, so a progress notification handled by the client could reach
/// the host after the answer it precedes; taken here, it is sent to the host before the answer is even read. Each
/// message handled gives its place in the upstream's <see cref="MessageWindow"/> back (when it has one).
/// </summary>
internal sealed class InterceptingTransport(IClientTransport inner, Func<JsonRpcMessage, ValueTask<bool>> intercept, MessageWindow? window = null) : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) =>
        new Session(await inner.ConnectAsync(cancellationToken).ConfigureAwait(false), intercept, window);

    private sealed class Session : ITransport
    {
        private readonly ITransport inner;
        private readonly Channel<JsonRpcMessage> passed = Channel.CreateBounded<JsonRpcMessage>(new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true });
        private readonly Task pump;

        private readonly MessageWindow? window;

        public Session(ITransport inner, Func<JsonRpcMessage, ValueTask<bool>> intercept, MessageWindow? window)
        {
            this.inner = inner;
            this.window = window;
            pump = PumpAsync(intercept);
        }

        public string? SessionId => inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader => passed.Reader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default) => inner.SendMessageAsync(message, cancellationToken);

        private async Task PumpAsync(Func<JsonRpcMessage, ValueTask<bool>> intercept)
        {
            try
            {
                await foreach (var message in inner.MessageReader.ReadAllAsync().ConfigureAwait(false))
                {
                    if (!await intercept(message).ConfigureAwait(false))
                    {
                        await passed.Writer.WriteAsync(message).ConfigureAwait(false);
                    }

                    window?.Leave();
                }

                passed.Writer.TryComplete();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                passed.Writer.TryComplete(e);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            passed.Writer.TryComplete();
            await pump.ConfigureAwait(false);
        }
    }
}
