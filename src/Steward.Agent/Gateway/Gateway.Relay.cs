using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

// Logging is a current feature of the revisions the gateway speaks; MCP9005 flags its deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

// What goes from upstreams to hosts: notifications, progress of a call to its session, server-to-client requests to the calling session.
public sealed partial class Gateway
{
    private McpServer Host() => Volatile.Read(ref host) ?? throw new McpException("no MCP host is connected");

    /// <summary>
    /// Where a request from the upstream <paramref name="upstream"/> (sampling, elicitation, roots) goes: to the session
    /// of the most recent call in flight to that upstream, which is the call that caused it when there is one, on that
    /// call's stream; else to the most recent session.
    /// </summary>
    private McpServer HostFor(string upstream)
    {
        // The request's own server (bound to its POST stream on HTTP), so what the call causes travels with the call.
        return callers.TryGetValue(upstream, out var calling) && !calling.IsEmpty ? calling[^1] : Host();
    }

    private async ValueTask HostRootsChangedAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        foreach (var upstream in upstreams)
        {
            try
            {
                await upstream.Client.SendNotificationAsync(NotificationMethods.RootsListChangedNotification, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException)
            {
                GatewayLog.ForwardFailed(logger, NotificationMethods.RootsListChangedNotification, e.Message);
            }
        }
    }

    private async ValueTask UpstreamListChangedAsync(string name, string method, CancellationToken cancellationToken)
    {
        var upstream = upstreams.FirstOrDefault(u => u.Name == name);
        switch (method)
        {
            case NotificationMethods.ToolListChangedNotification:
                upstream?.InvalidateTools();
                break;
            case NotificationMethods.PromptListChangedNotification:
                upstream?.InvalidatePrompts();
                break;
            default:
                upstream?.InvalidateResources();
                break;
        }

        await SendToHostAsync(new JsonRpcNotification { Method = method }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// What the gateway takes from an upstream's messages in the order they arrived (<see cref="InterceptingTransport"/>),
    /// before the SDK's client sees them, and sends to the hosts there and then: the upstream is not read further until
    /// they have been written (<see cref="MessageWindow"/>), so notifications never queue up without bound in the gateway.
    /// <list type="bullet">
    /// <item><description>Progress of a forwarded call goes to the session that made it (on its request's stream), before
    /// the answer it precedes, with the host's own token: a token already in use by another call in flight is replaced on
    /// the way up (<see cref="SendToolCallAsync"/>), as two hosts may choose the same one.</description></item>
    /// <item><description>Logging messages and resource updates go to every session; in the aggregated shape a logging
    /// message's logger names the server (<c>server</c> or <c>server/logger</c>).</description></item>
    /// </list>
    /// Everything else (answers, requests, list changes) goes on to the SDK's client.
    /// </summary>
    private async ValueTask<bool> InterceptAsync(string upstream, JsonRpcMessage message)
    {
        switch (message)
        {
            case JsonRpcNotification { Method: NotificationMethods.ProgressNotification, Params: JsonObject body }
                when body["progressToken"] is JsonValue token && progressTokens.TryGetValue(token.ToJsonString(), out var owner):
                body["progressToken"] = owner.Token.DeepClone();
                try
                {
                    await owner.Session.SendMessageAsync(new JsonRpcNotification { Method = NotificationMethods.ProgressNotification, Params = body }).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException or McpException or OperationCanceledException)
                {
                    GatewayLog.ForwardFailed(logger, NotificationMethods.ProgressNotification, e.Message);
                }

                return true;
            case JsonRpcNotification { Method: NotificationMethods.LoggingMessageNotification } log:
                if (!PerServer && log.Params is JsonObject parameters)
                {
                    parameters["logger"] = parameters["logger"] is JsonValue existing && existing.TryGetValue(out string? text) && text.Length > 0 ? upstream + "/" + text : upstream;
                }

                await SendToHostAsync(new JsonRpcNotification { Method = log.Method, Params = log.Params }, CancellationToken.None).ConfigureAwait(false);
                return true;
            case JsonRpcNotification { Method: NotificationMethods.ResourceUpdatedNotification } updated:
                await SendToHostAsync(new JsonRpcNotification { Method = updated.Method, Params = updated.Params }, CancellationToken.None).ConfigureAwait(false);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Progress the gateway did not relay itself (a token it did not send up): to every session, as it came.</summary>
    private ValueTask ForwardAsync(JsonRpcNotification notification, CancellationToken cancellationToken) =>
        SendToHostAsync(new JsonRpcNotification { Method = notification.Method, Params = notification.Params?.DeepClone() }, cancellationToken);

    private async ValueTask SendToHostAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        if (!hostReady.Task.IsCompleted)
        {
            return;
        }

        foreach (var server in hosts)
        {
            try
            {
                await server.SendMessageAsync(notification, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.ForwardFailed(logger, notification.Method, e.Message);
            }
        }
    }

    private async Task NotifyListsChangedAsync(CancellationToken cancellationToken)
    {
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.ToolListChangedNotification }, cancellationToken).ConfigureAwait(false);
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.PromptListChangedNotification }, cancellationToken).ConfigureAwait(false);
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.ResourceListChangedNotification }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A warning-level MCP logging message from the <c>steward</c> logger: how the gateway tells the host why something is missing.</summary>
    private async Task NoticeToHostAsync(string text, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["level"] = "warning",
            ["logger"] = "steward",
            ["data"] = text,
        };
        await SendToHostAsync(new JsonRpcNotification { Method = NotificationMethods.LoggingMessageNotification, Params = body }, cancellationToken).ConfigureAwait(false);
    }
}
