using System.Collections.Immutable;
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
    /// Which host session answers a request from the upstream <paramref name="upstream"/> (sampling, elicitation, roots):
    /// the session whose call to that upstream is in flight, which is the call that caused it, on that call's stream.
    /// <list type="bullet">
    /// <item><description>Calls from two or more sessions in flight to that upstream: refused, since nothing in the
    /// protocol says which call the request belongs to, and one host's prompt must never reach another. A stateless
    /// host's call between rounds (its questions delivered, its host not back yet) does not count while another call is
    /// running: its tool waits on those answers.</description></item>
    /// <item><description>No call in flight (a server asking for roots after it started): the most recent session that
    /// offers what the request needs.</description></item>
    /// <item><description>The session does not offer what the request needs (<paramref name="offers"/>): refused with
    /// <c>-32601</c>, what a host without that capability answers. Upstreams shared by several sessions are offered the
    /// union of the sessions' capabilities (<see cref="offered"/>), so this is where a session's own are held to.</description></item>
    /// </list>
    /// </summary>
    private CallHost SessionFor(string upstream, string method, string needs, Func<ClientCapabilities?, bool> offers)
    {
        var all = callers.TryGetValue(upstream, out var list) ? list.DistinctBy(c => c.Owner).ToList() : [];
        // A stateless call between rounds is waiting on its host's answers: a new question is another call's, if there is one.
        var calling = all.Where(c => !c.BetweenRounds).ToList() is { Count: > 0 } active ? active : all;
        if (calling.Count > 1)
        {
            throw new McpProtocolException(
                $"Steward's gateway refused {method} from '{upstream}': calls from {calling.Count} host sessions are in flight to it, and it cannot tell which one this request belongs to",
                McpErrorCode.InvalidRequest);
        }

        var session = calling.Count == 1 ? calling[0] : new CallHost(hosts.LastOrDefault(s => offers(s.ClientCapabilities)) ?? Host());
        if (!offers(session.Capabilities))
        {
            throw new McpProtocolException(
                $"Steward's gateway refused {method} from '{upstream}': the host session that made the call does not offer {needs}",
                McpErrorCode.MethodNotFound);
        }

        return session;
    }

    private ValueTask<CreateMessageResult> SampleAsync(string upstream, CreateMessageRequestParams? request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request, "params");
        var context = request.IncludeContext is { } inclusion && inclusion != ContextInclusion.None;
        var tools = request.Tools is { Count: > 0 };
        var needs = tools ? "sampling with tools" : context ? "sampling with context" : "sampling";
        return SessionFor(upstream, RequestMethods.SamplingCreateMessage, needs, c =>
                c?.Sampling is { } sampling && (!context || sampling.Context is not null) && (!tools || sampling.Tools is not null))
            .AskAsync(RequestMethods.SamplingCreateMessage, request, static (s, r, ct) => s.SampleAsync(r, ct), cancellationToken);
    }

    private ValueTask<ElicitResult> ElicitAsync(string upstream, ElicitRequestParams? request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request, "params");
        var url = string.Equals(request.Mode, "url", StringComparison.Ordinal);
        // An empty elicitation capability means form mode (2025-11-25).
        return SessionFor(upstream, RequestMethods.ElicitationCreate, url ? "URL elicitation" : "form elicitation", c =>
                c?.Elicitation is { } elicitation && (url ? elicitation.Url is not null : elicitation.Form is not null || elicitation.Url is null))
            .AskAsync(RequestMethods.ElicitationCreate, request, static (s, r, ct) => s.ElicitAsync(r, ct), cancellationToken);
    }

    private ValueTask<ListRootsResult> RequestRootsAsync(string upstream, ListRootsRequestParams? request, CancellationToken cancellationToken) =>
        SessionFor(upstream, RequestMethods.RootsList, "roots", c => c?.Roots is not null)
            .AskAsync(RequestMethods.RootsList, request ?? new ListRootsRequestParams(), static (s, r, ct) => s.RequestRootsAsync(r, ct), cancellationToken);

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

        await SendListChangedAsync(method, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// What the gateway takes from an upstream's messages in the order they arrived (<see cref="InterceptingTransport"/>),
    /// before the SDK's client sees them, and sends to the hosts there and then: the upstream is not read further until
    /// they have been written (<see cref="MessageWindow"/>), so notifications never queue up without bound in the gateway.
    /// <list type="bullet">
    /// <item><description>Progress of a forwarded call goes to the session that made it (on its request's stream), before
    /// the answer it precedes, with the host's own token: a token already in use by another call in flight is replaced on
    /// the way up (<see cref="SendToolCallAsync"/>), as two hosts may choose the same one.</description></item>
    /// <item><description>Logging messages go to the sessions with a call in flight to that upstream, else to every
    /// session; resource updates go to every session, and to the listen streams subscribed to that resource. In the aggregated shape a logging message's logger names the
    /// server (<c>server</c> or <c>server/logger</c>).</description></item>
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
                    await owner.Session.Server.SendMessageAsync(new JsonRpcNotification { Method = NotificationMethods.ProgressNotification, Params = body }).ConfigureAwait(false);
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

                // While calls from host sessions are in flight to this upstream, its log messages are about them: they go
                // to those sessions only, so one host never reads what another host's call logged.
                // A stateless host's call gets them on its waiting request's stream when that request asked for their level.
                var inFlight = callers.TryGetValue(upstream, out var list) && !list.IsEmpty ? list : null;
                var calling = inFlight is null ? hosts : inFlight.Where(c => !c.Stateless).Select(c => c.Server).Distinct().ToImmutableArray();
                if (inFlight is not null && ReadLevel(log.Params?["level"]) is { } messageLevel)
                {
                    calling = calling.AddRange(inFlight.Where(c => c.LogLevel is { } asked && messageLevel >= asked).Select(c => c.Server).Distinct());
                }

                await SendToHostAsync(new JsonRpcNotification { Method = log.Method, Params = log.Params }, CancellationToken.None, calling).ConfigureAwait(false);
                return true;
            case JsonRpcNotification { Method: NotificationMethods.ResourceUpdatedNotification } updated:
                await SendUpdateToListenersAsync(upstream, updated.Params).ConfigureAwait(false);
                // An update from a stateless upstream's listen stream names that stream: not the host's.
                if (updated.Params?["_meta"] is JsonObject updateMeta)
                {
                    updateMeta.Remove(MetaKeys.SubscriptionId);
                }

                await SendToHostAsync(new JsonRpcNotification { Method = updated.Method, Params = updated.Params }, CancellationToken.None).ConfigureAwait(false);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Progress the gateway did not relay itself (a token it did not send up): to every session, as it came.</summary>
    private ValueTask ForwardAsync(JsonRpcNotification notification, CancellationToken cancellationToken) =>
        SendToHostAsync(new JsonRpcNotification { Method = notification.Method, Params = notification.Params?.DeepClone() }, cancellationToken);

    /// <summary>
    /// Sends <paramref name="notification"/> to <paramref name="sessions"/> (default: every host session), once a host is
    /// ready. A host of the stateless revision over stdio gets this untagged broadcast too, beside what its listen streams
    /// get tagged: the channel is its own, so nothing reaches another host, and a client that holds no listen stream (the
    /// C# SDK's, for one) still hears of a policy change.
    /// </summary>
    private async ValueTask SendToHostAsync(JsonRpcNotification notification, CancellationToken cancellationToken, ImmutableArray<McpServer> sessions = default)
    {
        if (!hostReady.Task.IsCompleted)
        {
            return;
        }

        foreach (var server in sessions.IsDefault ? hosts : sessions)
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
        await SendListChangedAsync(NotificationMethods.ToolListChangedNotification, cancellationToken).ConfigureAwait(false);
        await SendListChangedAsync(NotificationMethods.PromptListChangedNotification, cancellationToken).ConfigureAwait(false);
        await SendListChangedAsync(NotificationMethods.ResourceListChangedNotification, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A list change to the host sessions, and to the listen streams of stateless hosts granted it.</summary>
    private async Task SendListChangedAsync(string method, CancellationToken cancellationToken)
    {
        await SendToHostAsync(new JsonRpcNotification { Method = method }, cancellationToken).ConfigureAwait(false);
        await SendToListenersAsync(method, cancellationToken).ConfigureAwait(false);
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
