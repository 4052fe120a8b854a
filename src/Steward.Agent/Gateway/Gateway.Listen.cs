using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Steward.Agent.Gateway;

// subscriptions/listen for hosts of the stateless revision: the streams the gateway's list changes go to.
public sealed partial class Gateway
{
    /// <summary>At most this many <c>subscriptions/listen</c> streams are open at once; another is refused until one ends.</summary>
    internal const int MaxListeners = 256;

    /// <summary>The open <c>subscriptions/listen</c> streams of 2026-07-28 hosts, each with what it was granted.</summary>
    private readonly ConcurrentDictionary<Listener, byte> listeners = new();

    /// <summary>A listen stream: the server bound to its request (so notifications go on that request's stream), its id, what it gets.</summary>
    private sealed record Listener(McpServer Server, RequestId Id, SubscriptionsListenNotifications Granted);

    /// <summary>
    /// A host's <c>subscriptions/listen</c>: acknowledged with what is granted (the tool, prompt and resource list changes
    /// it asks for; not resource subscriptions, which the gateway does not relay on this path), then held open, each list
    /// change of the gateway sent on it tagged with its id, until the host cancels it or goes away.
    /// </summary>
    private async ValueTask<EmptyResult> ListenAsync(RequestContext<SubscriptionsListenRequestParams> request, CancellationToken cancellationToken)
    {
        var asked = request.Params?.Notifications ?? new SubscriptionsListenNotifications();
        if (listeners.Count >= MaxListeners)
        {
            throw new McpProtocolException($"{MaxListeners} subscriptions/listen streams are open, the gateway's limit: close one before opening another", McpErrorCode.InvalidRequest);
        }

        var listener = new Listener(request.Server, request.JsonRpcRequest.Id, new SubscriptionsListenNotifications
        {
            ToolsListChanged = asked.ToolsListChanged == true ? true : null,
            PromptsListChanged = asked.PromptsListChanged == true ? true : null,
            ResourcesListChanged = asked.ResourcesListChanged == true ? true : null,
        });
        listeners[listener] = 0;
        try
        {
            var granted = new JsonObject
            {
                ["notifications"] = System.Text.Json.JsonSerializer.SerializeToNode(listener.Granted,
                    McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(SubscriptionsListenNotifications))),
            };
            await SendOnListenerAsync(listener, NotificationMethods.SubscriptionsAcknowledgedNotification, granted, cancellationToken).ConfigureAwait(false);
            var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (cancellationToken.Register(() => ended.TrySetResult()).ConfigureAwait(false))
            {
                await ended.Task.ConfigureAwait(false);
            }
        }
        finally
        {
            listeners.TryRemove(listener, out _);
        }

        return new EmptyResult();
    }

    /// <summary>A list change to every listen stream granted it.</summary>
    private async ValueTask SendToListenersAsync(string method, CancellationToken cancellationToken)
    {
        foreach (var listener in listeners.Keys)
        {
            var granted = method switch
            {
                NotificationMethods.ToolListChangedNotification => listener.Granted.ToolsListChanged,
                NotificationMethods.PromptListChangedNotification => listener.Granted.PromptsListChanged,
                NotificationMethods.ResourceListChangedNotification => listener.Granted.ResourcesListChanged,
                _ => null,
            };
            if (granted != true)
            {
                continue;
            }

            try
            {
                await SendOnListenerAsync(listener, method, null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.ForwardFailed(logger, method, e.Message);
            }
        }
    }

    /// <summary>Sends on the listen request's own stream, its id in <c>_meta</c> so that a host sharing one channel (stdio) can tell the streams apart.</summary>
    private static Task SendOnListenerAsync(Listener listener, string method, JsonObject? parameters, CancellationToken cancellationToken)
    {
        parameters ??= [];
        parameters["_meta"] = new JsonObject
        {
            [MetaKeys.SubscriptionId] = listener.Id.Id switch
            {
                string text => JsonValue.Create(text),
                long number => JsonValue.Create(number),
                _ => null,
            },
        };
        return listener.Server.SendMessageAsync(new JsonRpcNotification { Method = method, Params = parameters }, cancellationToken);
    }
}
