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

    /// <summary>
    /// A listen stream: the server bound to its request (so notifications go on that request's stream), its id, what it
    /// gets, and the resources it is subscribed to with the upstream serving each.
    /// </summary>
    private sealed record Listener(McpServer Server, RequestId Id, SubscriptionsListenNotifications Granted)
    {
        public List<(Upstream Upstream, string Uri)> Subscribed { get; } = [];
    }

    /// <summary>
    /// A host's <c>subscriptions/listen</c>: acknowledged with what is granted, then held open until the host cancels it
    /// or goes away, each notification of the gateway's it was granted sent on it, tagged with its id:
    /// <list type="bullet">
    /// <item><description>the tool, prompt and resource list changes it asks for;</description></item>
    /// <item><description>the updates of each resource it asks for that an upstream lists (or has a template for) and
    /// lets subscribe to: subscribed once for every subscriber of that resource (<c>resources/subscribe</c>, or the
    /// resource added to the gateway's own listen stream to a stateless upstream) and undone when the last one ends. A
    /// resource no upstream serves so is left out of what is granted.</description></item>
    /// </list>
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
        try
        {
            var subscribed = new List<string>();
            foreach (var uri in asked.ResourceSubscriptions?.Distinct(StringComparer.Ordinal) ?? [])
            {
                if (await SubscribeAsync(uri, cancellationToken).ConfigureAwait(false) is { } upstream)
                {
                    listener.Subscribed.Add((upstream, uri));
                    subscribed.Add(uri);
                }
            }

            listener.Granted.ResourceSubscriptions = subscribed.Count > 0 ? subscribed : null;
            listeners[listener] = 0;
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
            foreach (var (upstream, uri) in listener.Subscribed)
            {
                await UnsubscribeAsync(upstream, uri).ConfigureAwait(false);
            }
        }

        return new EmptyResult();
    }

    /// <summary>How many subscribers each resource of an upstream has (listen streams and host sessions), so an upstream is subscribed once and unsubscribed when the last one ends.</summary>
    private readonly Dictionary<(Upstream Upstream, string Uri), int> subscribers = [];

    private readonly SemaphoreSlim subscribing = new(1, 1);

    /// <summary>
    /// One more subscriber of <paramref name="uri"/>: the upstream serving it, subscribed to it on the first; null when no
    /// upstream serves it, the one that does cannot be subscribed to, or refused.
    /// </summary>
    private async Task<Upstream?> SubscribeAsync(string uri, CancellationToken cancellationToken)
    {
        var upstream = await RouteUriAsync(uri, cancellationToken).ConfigureAwait(false);
        if (upstream is null || upstream.Capabilities.Resources?.Subscribe != true || !await ServesAsync(upstream, uri, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        try
        {
            await AddSubscriberAsync(upstream, uri, always: false, cancellationToken).ConfigureAwait(false);
            return upstream;
        }
        catch (Exception e) when (e is McpException or IOException or InvalidOperationException)
        {
            GatewayLog.ForwardFailed(logger, RequestMethods.ResourcesSubscribe, e.Message);
            return null;
        }
    }

    /// <summary>Whether <paramref name="upstream"/> lists <paramref name="uri"/> or has a template it matches: a resource it serves, not one it would be asked about only as the last resort of routing.</summary>
    private async Task<bool> ServesAsync(Upstream upstream, string uri, CancellationToken cancellationToken)
    {
        foreach (var resource in await SafeListAsync(upstream, "resources", (u, ct) => u.ResourcesAsync(ct), cancellationToken).ConfigureAwait(false))
        {
            if (resource.Uri == uri)
            {
                return true;
            }
        }

        foreach (var template in await SafeListAsync(upstream, "resource templates", (u, ct) => u.TemplatesAsync(ct), cancellationToken).ConfigureAwait(false))
        {
            if (TemplateRegex(template.UriTemplate).IsMatch(uri))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A listen stream's subscription ends: the upstream is unsubscribed if it was the last.</summary>
    private async Task UnsubscribeAsync(Upstream upstream, string uri)
    {
        try
        {
            await RemoveSubscriberAsync(upstream, uri, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is McpException or IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException)
        {
            // The upstream has gone (a relaunch or a policy change ends its subscriptions with it), or refused.
            GatewayLog.ForwardFailed(logger, RequestMethods.ResourcesUnsubscribe, e.Message);
        }
    }

    /// <summary>Counts a subscriber of <paramref name="uri"/> at <paramref name="upstream"/>, subscribing upstream on the first (or <paramref name="always"/>: a host session's own request goes up each time).</summary>
    private async Task AddSubscriberAsync(Upstream upstream, string uri, bool always, CancellationToken cancellationToken)
    {
        await subscribing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var count = subscribers.GetValueOrDefault((upstream, uri));
            if (count == 0 || always)
            {
                await upstream.SubscribeAsync(uri, cancellationToken).ConfigureAwait(false);
            }

            subscribers[(upstream, uri)] = count + 1;
        }
        finally
        {
            subscribing.Release();
        }
    }

    /// <summary>Counts one subscriber of <paramref name="uri"/> fewer; the upstream is unsubscribed when it was the last, or none was counted (a host's unsubscribe of its own).</summary>
    private async Task RemoveSubscriberAsync(Upstream upstream, string uri, CancellationToken cancellationToken)
    {
        await subscribing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (subscribers.GetValueOrDefault((upstream, uri)) is > 1 and var count)
            {
                subscribers[(upstream, uri)] = count - 1;
                return;
            }

            subscribers.Remove((upstream, uri));
            await upstream.UnsubscribeAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            subscribing.Release();
        }
    }

    /// <summary>A resource's update to every listen stream subscribed to it through <paramref name="upstream"/>.</summary>
    private async ValueTask SendUpdateToListenersAsync(string upstream, JsonNode? parameters)
    {
        if (listeners.IsEmpty || parameters?["uri"] is not JsonValue value || !value.TryGetValue(out string? uri))
        {
            return;
        }

        foreach (var listener in listeners.Keys)
        {
            if (!listener.Subscribed.Exists(s => s.Upstream.Name == upstream && s.Uri == uri))
            {
                continue;
            }

            try
            {
                await SendOnListenerAsync(listener, NotificationMethods.ResourceUpdatedNotification, parameters.DeepClone().AsObject(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.ForwardFailed(logger, NotificationMethods.ResourceUpdatedNotification, e.Message);
            }
        }
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
