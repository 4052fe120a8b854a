using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace Steward.Agent.Gateway;

/// <summary>
/// The transport of one POST of a stateless revision (2026-07-28): it carries that one message to the gateway's MCP
/// server and writes what the server sends about it to the HTTP response, ending with the answer.
/// </summary>
/// <remarks>
/// An answer with nothing before it is written as <c>application/json</c>, with the HTTP status the revision gives its
/// error (<see cref="StatelessHttp.StatusFor"/>), which is known because nothing was written before it. Notifications
/// about the request (progress, logging) turn the response into an event stream, when the host accepts one; the answer
/// is its last event. Requests from server to client are not part of the revision and are refused.
/// </remarks>
internal sealed class OneRequestTransport : ITransport
{
    private readonly Channel<JsonRpcMessage> incoming = Channel.CreateBounded<JsonRpcMessage>(1);
    private readonly HttpResponse response;
    private readonly bool eventStream;
    // Not disposed: a late notification may still be waiting for it, and it holds no wait handle.
    private readonly SemaphoreSlim writing = new(1, 1);
    private readonly TaskCompletionSource answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool streaming;

    public OneRequestTransport(JsonRpcMessage message, HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        response = context.Response;
        eventStream = context.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);
        incoming.Writer.TryWrite(message);
    }

    public string? SessionId => null;

    public ChannelReader<JsonRpcMessage> MessageReader => incoming.Reader;

    /// <summary>Completes when the answer has been written.</summary>
    public Task Answered => answered.Task;

    public async Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message is JsonRpcRequest request)
        {
            throw new InvalidOperationException($"revision 2026-07-28 has no requests from server to client ({request.Method})");
        }

        await writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (answered.Task.IsCompleted)
            {
                return;
            }

            var final = message is JsonRpcResponse or JsonRpcError;
            var text = JsonSerializer.Serialize(message, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)));
            if (final && !streaming)
            {
                response.StatusCode = StatelessHttp.StatusFor(message) ?? StatusCodes.Status200OK;
                response.ContentType = "application/json";
                await response.WriteAsync(text, cancellationToken).ConfigureAwait(false);
            }
            else if (streaming || eventStream)
            {
                if (!streaming)
                {
                    streaming = true;
                    response.StatusCode = StatusCodes.Status200OK;
                    response.ContentType = "text/event-stream";
                    response.Headers.CacheControl = "no-cache,no-store";
                    response.Headers.ContentEncoding = "identity";
                }

                await response.WriteAsync("event: message\ndata: " + text + "\n\n", cancellationToken).ConfigureAwait(false);
                await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            if (final)
            {
                answered.TrySetResult();
            }
        }
        finally
        {
            writing.Release();
        }
    }

    public ValueTask DisposeAsync()
    {
        incoming.Writer.TryComplete();
        answered.TrySetCanceled();
        return default;
    }
}
