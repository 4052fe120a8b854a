using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Steward.Agent.Audit;
using Steward.Core.Audit;
using Steward.Core.Policy;

namespace Steward.Agent.Gateway;

// The tool-call gate: what tools/list shows and how a tools/call is decided, checked against pins, asked, sent and audited.
public sealed partial class Gateway
{
    private ToolDecision Decide(Upstream upstream, string tool) => decisions.Decide(upstream, tool);

    private static string PolicyOf(ToolDecision decision) =>
        decision.Rule?.Origin == ToolRuleOrigin.LocalFile ? "the local policy file" : "your organisation's policy";

    /// <summary>The administrator's reason for the rule that decided, as a clause (": …"), or nothing.</summary>
    private static string ReasonOf(ToolDecision decision) => decision.Rule?.Reason is { } reason ? ": " + reason.TrimEnd('.') : "";

    /// <summary>
    /// The decisions of one policy, computed once per (upstream, tool) and kept until the next policy replaces the table:
    /// <c>tools/list</c> fills it, and a call finds its decision there without matching the rules again.
    /// </summary>
    private sealed class DecisionTable(ToolDecisions rules)
    {
        private readonly ConcurrentDictionary<(Upstream, string), ToolDecision> decided = new();

        public static DecisionTable None { get; } = new(ToolDecisions.None);

        public ToolDecision Decide(Upstream upstream, string tool) =>
            decided.TryGetValue((upstream, tool), out var known)
                ? known
                : decided.GetOrAdd((upstream, tool), rules.Decide(upstream.Name, upstream.Spec.RegistryName, tool, upstream.Spec.Config.DisabledTools, upstream.Spec.Config.AutoApprove));
    }

    private async ValueTask<ListToolsResult> ListToolsAsync(CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<Tool>();
        foreach (var upstream in upstreams)
        {
            foreach (var tool in await SafeListAsync(upstream, "tools", PinnedToolsAsync, cancellationToken).ConfigureAwait(false))
            {
                if (!Decide(upstream, tool.Name).IsListed)
                {
                    continue;
                }

                result.Add(PerServer ? tool : new Tool
                {
                    Name = Exposed(upstream, tool.Name),
                    Title = tool.Title,
                    Description = tool.Description,
                    InputSchema = tool.InputSchema,
                    OutputSchema = tool.OutputSchema,
                    Annotations = tool.Annotations,
                    Icons = tool.Icons,
                    Meta = tool.Meta,
                });
            }
        }

        return new ListToolsResult { Tools = result };
    }

    /// <summary>
    /// The tool-call gate, the one path of every <c>tools/call</c> a host sends: route the exposed name → check that the
    /// server lists the tool → check its pin → decide by the rules → ask the developer when a rule says so → write the
    /// decision to the audit log → send → complete the audit with the outcome. A refusal is audited and answered here.
    /// </summary>
    /// <remarks>
    /// A call is sent only after its decision is in the audit log (a line with the outcome <c>sent</c>); when that line
    /// cannot be written the call is not sent and the host is told why. The outcome follows in a second line. If that
    /// line cannot be written, the host still gets the tool's answer, because the tool did run, and the failure is
    /// logged. The host's <c>params</c> go upstream as they arrived (in the aggregated shape only <c>name</c> becomes the
    /// server's own tool name), and the upstream's <c>result</c> comes back as it arrived, with no typed round trip. The
    /// SDK still owns both sessions. It handles the request's cancellation: a host's <c>notifications/cancelled</c> cancels
    /// <paramref name="cancellationToken"/>, and <see cref="SendToolCallAsync"/> tells the upstream. It also turns an
    /// <see cref="McpProtocolException"/> thrown here into the JSON-RPC error the host gets.
    /// </remarks>
    private async Task CallToolAsync(MessageContext context, JsonRpcRequest request, CancellationToken cancellationToken)
    {
        if (request.Params is not JsonObject parameters || !parameters.TryGetPropertyValue("name", out var nameNode) || nameNode is not JsonValue nameValue ||
            !nameValue.TryGetValue(out string? name))
        {
            throw new McpProtocolException("tools/call needs params with the tool's name as a string", McpErrorCode.InvalidParams);
        }

        if (IsStateless(context))
        {
            await CallStatelessAsync(context, request, parameters, name, (host, ct) => GateAsync(host, parameters, name, ct), cancellationToken, mayBeTask: true)
                .ConfigureAwait(false);
            return;
        }

        var result = await GateAsync(new CallHost(context.Server), parameters, name, cancellationToken).ConfigureAwait(false);
        await context.Server.SendMessageAsync(new JsonRpcResponse { Id = request.Id, Result = result }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The gate itself (see <see cref="CallToolAsync"/>): the result the host gets, or the error it gets, thrown.</summary>
    private async Task<JsonNode?> GateAsync(CallHost host, JsonObject parameters, string name, CancellationToken cancellationToken)
    {
        if (!applyGate.Wait(0))
        {
            await applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        applyGate.Release();

        if (Status.Notice is { } notice)
        {
            throw new McpProtocolException($"Steward: {notice}", McpErrorCode.InvalidRequest);
        }

        if (Route(name) is not var (upstream, tool))
        {
            throw new McpProtocolException($"Unknown tool: '{name}'", McpErrorCode.InvalidParams);
        }

        var call = new GatedCall(upstream, tool, Stopwatch.GetTimestamp(), ArgumentsOf(parameters));
        var tools = await upstream.ToolsAsync(cancellationToken).ConfigureAwait(false);
        if (!Listed(tools, tool))
        {
            // Listed = callable, both ways: a tool the server never listed is not governed by anything the admin saw.
            Refused(call, "unlisted", "the server does not list this tool");
            // Answered as SDK servers answer an unknown tool (a result with isError), so a host sees what the server itself would say.
            return Answer(Refusal($"MCP error -32602: Unknown tool: '{name}' (\"{upstream.Name}\" does not list a tool \"{tool}\")"));
        }

        if ((await PinCheckAsync(upstream, tools, cancellationToken).ConfigureAwait(false)).TryGetValue(tool, out var mismatch))
        {
            Refused(call, "pin_mismatch", mismatch.Message);
            throw new McpProtocolException($"Steward: {mismatch.Message}.", McpErrorCode.InvalidParams);
        }

        var decision = Decide(upstream, tool);
        var decided = "allow";
        switch (decision.Verdict)
        {
            case ToolVerdict.Deny:
                Refused(call, "deny", decision.Because);
                throw new McpProtocolException(
                    $"Steward: the tool \"{tool}\" of \"{upstream.Name}\" is denied by {PolicyOf(decision)} ({decision.Because}){ReasonOf(decision)}.", McpErrorCode.InvalidParams);
            case ToolVerdict.Disabled:
                Refused(call, "disabled", decision.Because);
                throw new McpProtocolException(
                    $"Steward: the tool \"{tool}\" of \"{upstream.Name}\" is disabled in your MCP configuration (disabledTools).", McpErrorCode.InvalidParams);
            case ToolVerdict.Ask:
                if (await AskAsync(host, call, decision, cancellationToken).ConfigureAwait(false) is var (refusal, answer))
                {
                    Refused(call, refusal, decision.Because);
                    return Answer(answer);
                }

                decided = "ask-approved";
                break;
        }

        // Before anything is sent: a call the audit log cannot record does not run.
        if (Audit(call, decided, decision.Because, "sent") is { } failure)
        {
            throw new McpProtocolException("Steward could not write its audit log, so the call was not sent: " + failure, McpErrorCode.InternalError);
        }

        if (!PerServer)
        {
            parameters["name"] = tool;
        }

        WithoutEnvelope(parameters);
        // Tasks are the gateway's own (Gateway.Tasks.cs): an upstream sees an ordinary call, never a task hint it may refuse.
        parameters.Remove("task");

        JsonNode? result;
        try
        {
            result = await SendToolCallAsync(host, upstream, parameters, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not McpProtocolException)
        {
            // As the SDK answers a typed handler's failure: a tool result with isError, not a JSON-RPC error.
            Audit(call, decided, decision.Because, "failed");
            return Answer(Refusal($"An error occurred invoking '{name}'" + (e is McpException ? ": " + e.Message : ".")));
        }
        catch (Exception e) when (e is OperationCanceledException or McpProtocolException)
        {
            var (outcome, error) = Failure(call, e, cancellationToken);
            Audit(call, decided, decision.Because, outcome);
            if (error == e)
            {
                throw;
            }

            throw error;
        }

        var isError = result is JsonObject body && body.TryGetPropertyValue("isError", out var flag) && flag is JsonValue value && value.TryGetValue(out bool failed) && failed;
        Audit(call, decided, decision.Because, isError ? "error" : "ok");
        return result;
    }

    /// <summary>
    /// A result as a host of <paramref name="context"/>'s revision reads it: a stateless revision's results say they are
    /// complete (<c>resultType</c>), which an upstream of an older revision never writes.
    /// </summary>
    private static JsonNode? Stamped(MessageContext context, JsonNode? result)
    {
        if (result is JsonObject body && IsStateless(context) && !body.ContainsKey("resultType"))
        {
            body["resultType"] = "complete";
        }

        return result;
    }

    /// <summary>A call the gate is deciding: where it goes, when it arrived, its arguments for the audit (only when the policy records them).</summary>
    private readonly record struct GatedCall(Upstream Upstream, string Tool, long Started, IDictionary<string, JsonElement>? Arguments);

    /// <summary>
    /// Asks the developer, through the host's elicitation, to approve a call a rule says to ask about. Null when approved;
    /// otherwise the decision to audit (<c>ask-unavailable</c>, <c>ask-declined</c>) and the host's answer.
    /// </summary>
    private static async Task<(string Decision, CallToolResult Answer)?> AskAsync(CallHost host, GatedCall call, ToolDecision decision,
        CancellationToken cancellationToken)
    {
        var (upstream, tool) = (call.Upstream, call.Tool);
        if (host.Capabilities?.Elicitation is null)
        {
            return ("ask-unavailable", Refusal($"Steward: your organisation's policy requires your approval before \"{tool}\" of \"{upstream.Name}\" runs " +
                                               $"({decision.Because}), and this MCP host cannot ask for it (it does not support elicitation). " +
                                               $"Use a host that supports elicitation, or add \"{tool}\" to the server's autoApprove list in your mcp.json."));
        }

        var answer = await host.AskAsync(RequestMethods.ElicitationCreate, new ElicitRequestParams
        {
            Message = $"Allow the tool \"{tool}\" of the MCP server \"{upstream.Name}\" to run? Your organisation's policy asks you to approve it{ReasonOf(decision)}.",
            RequestedSchema = new ElicitRequestParams.RequestSchema
            {
                Properties = new Dictionary<string, ElicitRequestParams.PrimitiveSchemaDefinition>
                {
                    [ApprovalField] = new ElicitRequestParams.BooleanSchema
                    {
                        Title = "Allow this call",
                        Description = $"{upstream.Name}/{tool}",
                        Default = false,
                    },
                },
                Required = [ApprovalField],
            },
        }, static (session, request, ct) => session.ElicitAsync(request, ct), cancellationToken).ConfigureAwait(false);
        return answer.IsAccepted && answer.Content is { } content && content.TryGetValue(ApprovalField, out var approve) && approve.ValueKind == JsonValueKind.True
            ? null
            : ("ask-declined", Refusal($"Steward: the call to \"{tool}\" of \"{upstream.Name}\" was not approved, so it did not run."));
    }

    /// <summary>
    /// The keys of a stateless request's <c>_meta</c> that describe the host to the gateway (its revision, capabilities,
    /// name, log level): the upstream has a session of its own with the gateway, so they do not go on. Everything else of
    /// <c>_meta</c> (progress token, trace context, a host's own keys) does.
    /// </summary>
    private static readonly string[] EnvelopeKeys =
    [
        "io.modelcontextprotocol/protocolVersion", "io.modelcontextprotocol/clientCapabilities", "io.modelcontextprotocol/clientInfo",
        "io.modelcontextprotocol/logLevel",
    ];

    private static void WithoutEnvelope(JsonObject parameters)
    {
        if (parameters["_meta"] is JsonObject meta)
        {
            foreach (var key in EnvelopeKeys)
            {
                meta.Remove(key);
            }
        }
    }

    private static JsonNode? Answer(CallToolResult answer) => JsonSerializer.SerializeToNode(answer, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult)));

    /// <summary>
    /// Sends a tools/call upstream and returns its result as the upstream wrote it. The entry's <c>timeout</c> applies.
    /// When the host cancels (or the timeout passes) the upstream is sent <c>notifications/cancelled</c> for the request
    /// here, with the request id the gateway chose: the SDK's own cancellation notice can be lost when the request's
    /// wait is cancelled first (it unregisters the notice as the wait ends).
    /// </summary>
    private Task<JsonObject> SendToolCallAsync(CallHost caller, Upstream upstream, JsonObject parameters, CancellationToken cancellationToken) =>
        InFlightAsync(caller, upstream, parameters["_meta"] as JsonObject, ct => SendToolCallCoreAsync(upstream, parameters, ct), cancellationToken);

    /// <summary>
    /// A host's request to <paramref name="upstream"/> while it is in flight (a tool call, a prompt, a resource read):
    /// what the upstream asks during it (sampling, elicitation, roots) goes to <paramref name="caller"/>
    /// (<see cref="SessionFor"/>), and so does its progress, under the host's own token.
    /// </summary>
    /// <remarks>
    /// The host's token goes up in <paramref name="meta"/> as it is, unless a request in flight already uses it (another
    /// session chose the same): then a token of the gateway's own goes up in its place.
    /// </remarks>
    private async Task<T> InFlightAsync<T>(CallHost caller, Upstream upstream, JsonObject? meta, Func<CancellationToken, Task<T>> send,
        CancellationToken cancellationToken)
    {
        callers.AddOrUpdate(upstream.Name, static (_, c) => [c], static (_, list, c) => list.Add(c), caller);
        string? relayed = null;
        if (meta?["progressToken"] is JsonValue token)
        {
            relayed = token.ToJsonString();
            if (!progressTokens.TryAdd(relayed, (caller, token.DeepClone())))
            {
                var own = "steward-" + Interlocked.Increment(ref relayedTokens).ToString(CultureInfo.InvariantCulture);
                relayed = JsonValue.Create(own).ToJsonString();
                progressTokens[relayed] = (caller, token.DeepClone());
                meta["progressToken"] = own;
            }
        }

        try
        {
            return await send(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            callers.AddOrUpdate(upstream.Name, static (_, _) => [], static (_, list, c) => list.Remove(c), caller);
            if (relayed is not null)
            {
                progressTokens.TryRemove(relayed, out _);
            }
        }
    }

    private async Task<JsonObject> SendToolCallCoreAsync(Upstream upstream, JsonObject parameters, CancellationToken cancellationToken)
    {
        // Ids from a range the SDK's own counter (1, 2, ...) never reaches; below 2^53, so exact in JavaScript too.
        var id = new RequestId(ForwardedIdBase + Interlocked.Increment(ref forwardedCalls));
        var sending = upstream.Client.SendRequestAsync(new JsonRpcRequest { Id = id, Method = RequestMethods.ToolsCall, Params = parameters }, CancellationToken.None);
        using var timeout = upstream.CallTimeout is { } limit ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
        timeout?.CancelAfter(upstream.CallTimeout!.Value);
        var token = timeout?.Token ?? cancellationToken;
        JsonRpcResponse response;
        try
        {
            response = token.CanBeCanceled ? await sending.WaitAsync(token).ConfigureAwait(false) : await sending.ConfigureAwait(false);
        }
        catch (McpProtocolException e) when (upstream.TakeOversized(id) is { } size)
        {
            throw new MessageTooLargeException(e.Message, size);
        }
        catch (McpProtocolException e) when (upstream.Spec.Remote is not null && e.Message.Contains(BoundedLineStream.MessagePrefix, StringComparison.Ordinal))
        {
            // A remote's answer replaced on its way in (ResponseLimitHandler, shared by every remote): known by its words.
            throw new MessageTooLargeException(e.Message, 0);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            _ = sending.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            try
            {
                await upstream.Client.SendNotificationAsync(NotificationMethods.CancelledNotification,
                    new CancelledNotificationParams { RequestId = id, Reason = cancellationToken.IsCancellationRequested ? "cancelled by the client" : "timed out" },
                    cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is McpException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                GatewayLog.ForwardFailed(logger, NotificationMethods.CancelledNotification, e.Message);
            }

            throw;
        }

        return response.Result as JsonObject ?? throw new McpException("the server's answer to tools/call is not a JSON object");
    }

    /// <summary>The outcome to audit for a sent call that failed, and the exception the host's answer is made from.</summary>
    private static (string Outcome, Exception Answer) Failure(GatedCall call, Exception e, CancellationToken cancellationToken) => e switch
    {
        MessageTooLargeException => ("too_large", e),
        OperationCanceledException when cancellationToken.IsCancellationRequested => ("cancelled", e),
        OperationCanceledException => ("timeout",
            new McpProtocolException($"Steward: \"{call.Tool}\" of \"{call.Upstream.Name}\" did not answer within the configured timeout.", McpErrorCode.InternalError)),
        _ => ("failed", e),
    };

    /// <summary>The call's arguments for the audit line, only when the policy asks for them.</summary>
    private IDictionary<string, JsonElement>? ArgumentsOf(JsonObject parameters) =>
        auditArguments && parameters["arguments"] is JsonObject arguments
            ? arguments.Deserialize((JsonTypeInfo<IDictionary<string, JsonElement>>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, JsonElement>)))
            : null;

    private static bool Listed(IReadOnlyList<Tool> tools, string tool)
    {
        foreach (var listed in tools)
        {
            if (string.Equals(listed.Name, tool, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The upstream's tools without those its pins block.</summary>
    private async ValueTask<IReadOnlyList<Tool>> PinnedToolsAsync(Upstream upstream, CancellationToken cancellationToken)
    {
        var tools = await upstream.ToolsAsync(cancellationToken).ConfigureAwait(false);
        var blocked = await PinCheckAsync(upstream, tools, cancellationToken).ConfigureAwait(false);
        return blocked.Count == 0 ? tools : [.. tools.Where(t => !blocked.ContainsKey(t.Name))];
    }

    /// <summary>
    /// Checks a tools listing against the pins (once per listing); the first time a mismatch is seen it is audited
    /// (decision <c>pin_mismatch</c>) and the host is told by a logging message.
    /// </summary>
    private async ValueTask<IReadOnlyDictionary<string, PinMismatch>> PinCheckAsync(Upstream upstream, IReadOnlyList<Tool> tools, CancellationToken cancellationToken)
    {
        if (upstream.PinCheck is { } known && ReferenceEquals(known.Tools, tools))
        {
            return known.Blocked;
        }

        ImmutableArray<PinMismatch> mismatches;
        try
        {
            mismatches = pins.Check(upstream.Spec, tools);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // Without readable pins nothing can be approved: every tool is blocked.
            GatewayLog.AuditFailed(logger, e.Message);
            mismatches = [.. tools.Select(t => new PinMismatch(t.Name, "", $"Steward cannot read its tool pins ({e.Message}), so the tool \"{t.Name}\" of \"{upstream.Name}\" is blocked"))];
        }

        var blocked = mismatches.GroupBy(m => m.Tool, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        upstream.PinCheck = (tools, blocked);
        foreach (var mismatch in mismatches)
        {
            bool first;
            lock (upstream.ReportedMismatches)
            {
                first = upstream.ReportedMismatches.Add(mismatch.Tool + "\u001f" + mismatch.Hash);
            }

            if (!first)
            {
                continue;
            }

            GatewayLog.ToolCall(logger, upstream.Name, mismatch.Tool, "pin_mismatch", mismatch.Message, "blocked", 0);
            try
            {
                audit.Append(new ToolCallEvent(DateTimeOffset.UtcNow, upstream.Name, mismatch.Tool, "pin_mismatch", mismatch.Message, 0, "blocked", null));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                GatewayLog.AuditFailed(logger, e.Message);
            }

            await NoticeToHostAsync($"Steward blocked a tool: {mismatch.Message}.", cancellationToken).ConfigureAwait(false);
        }

        return blocked;
    }

    private static CallToolResult Refusal(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };

    /// <summary>A refused call's audit line. The call is refused either way; when the line cannot be written, the host is told that too.</summary>
    private void Refused(in GatedCall call, string decision, string because)
    {
        if (Audit(call, decision, because, "refused") is { } failure)
        {
            throw new McpProtocolException($"Steward refused the call ({because}) and could not write its audit log: {failure}", McpErrorCode.InternalError);
        }
    }

    /// <summary>
    /// Writes one audit line for <paramref name="call"/>; null when written, else why not (logged). Lines with the
    /// outcome <c>sent</c> stay in the local log; the Steward server is sent each call's final line.
    /// </summary>
    private string? Audit(in GatedCall call, string decision, string because, string outcome)
    {
        var elapsed = Stopwatch.GetElapsedTime(call.Started).TotalMilliseconds;
        if (outcome != "sent")
        {
            GatewayLog.ToolCall(logger, call.Upstream.Name, call.Tool, decision, because, outcome, elapsed);
        }

        try
        {
            // Arguments are here only when the policy records them; secret-named values are redacted first.
            audit.Append(new ToolCallEvent(DateTimeOffset.UtcNow, call.Upstream.Name, call.Tool, decision, because, elapsed, outcome, ArgumentRedaction.Redact(call.Arguments)),
                upload: outcome != "sent");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            GatewayLog.AuditFailed(logger, e.Message);
            return e.Message;
        }
    }
}
