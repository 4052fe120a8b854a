using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Steward.Agent.Gateway;

/// <summary>
/// Keeps an upstream's JSON-RPC errors as the upstream wrote them. The SDK's client turns an upstream error into an
/// exception whose message is <c>"Request failed (remote): " + message</c> (code and data kept); the gateway's handlers
/// let it propagate, and the SDK's server sends that message on to the host. This outgoing filter removes the prefix
/// again, so a host sees the upstream's own message, as it would without Steward. Steward's own errors never start
/// with it, so exactly one prefix is removed, and only from errors.
/// </summary>
internal static class UpstreamErrors
{
    /// <summary>What the SDK's client puts before a remote error's message (ModelContextProtocol 2.3.1).</summary>
    public const string RemotePrefix = "Request failed (remote): ";

    public static McpMessageHandler Unwrap(McpMessageHandler next) => (context, cancellationToken) =>
    {
        if (context.JsonRpcMessage is JsonRpcError { Error: { } detail } error && detail.Message.StartsWith(RemotePrefix, StringComparison.Ordinal))
        {
            var upstream = new JsonRpcError
            {
                Id = error.Id,
                Error = new JsonRpcErrorDetail { Code = detail.Code, Message = detail.Message[RemotePrefix.Length..], Data = detail.Data },
                Context = error.Context,
            };
            return next(new MessageContext(context.Server, upstream) { Items = context.Items, User = context.User }, cancellationToken);
        }

        return next(context, cancellationToken);
    };
}
