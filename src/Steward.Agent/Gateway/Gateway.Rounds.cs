using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

// Logging is a current feature of the revisions the gateway speaks; MCP9005 flags its deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

// Who a call's questions go to: a host session (a request to it), or a stateless host's rounds (input_required).
public sealed partial class Gateway
{
    /// <summary>How long a stateless host's call waits for the host's next round (between rounds) before it is cancelled upstream.</summary>
    private static readonly TimeSpan RoundWait = TimeSpan.FromMinutes(2);

    /// <summary>How long a round waits, after the first question of the upstream, for more before it is answered.</summary>
    private static readonly TimeSpan RoundGather = TimeSpan.FromMilliseconds(50);

    /// <summary>Calls of stateless hosts waiting on input, by the <c>requestState</c> the host was given.</summary>
    private readonly ConcurrentDictionary<string, InputRounds> rounds = new(StringComparer.Ordinal);

    /// <summary>At most this many stateless calls are running or waiting for their next round; a new one past it is refused.</summary>
    internal const int MaxCalls = 256;

    /// <summary>The stateless calls by the id of the request of theirs now waiting, so that the host's <c>notifications/cancelled</c> cancels the call.</summary>
    private readonly ConcurrentDictionary<string, InputRounds> waitingRounds = new(StringComparer.Ordinal);

    /// <summary>A host's <c>notifications/cancelled</c> for the request a stateless call now waits on: the call ends, upstream too.</summary>
    private void CancelRound(JsonRpcNotification notification)
    {
        if (notification.Params is JsonObject parameters && parameters["requestId"] is JsonValue id && waitingRounds.TryRemove(id.ToJsonString(), out var call))
        {
            call.Lifetime.Cancel();
        }
    }

    /// <summary>
    /// The host side of one call: what an upstream asks during it (sampling, elicitation, roots) and what an "ask" rule
    /// asks are sent to it. A host session gets a request. A host of the stateless revision (2026-07-28), which takes no
    /// requests, is answered <c>input_required</c> with the questions and asked to retry with its answers
    /// (<see cref="InputRounds"/>).
    /// </summary>
    private sealed class CallHost
    {
        private readonly McpServer? session;
        private readonly InputRounds? rounds;

        public CallHost(McpServer session) => this.session = session;

        public CallHost(InputRounds rounds) => this.rounds = rounds;

        /// <summary>Who the host is, so that two calls of one host are known as one: the session's id, or the call's own.</summary>
        public string Owner => rounds?.Id ?? "session:" + session!.SessionId;

        /// <summary>Where notifications about the call go: the session, or the request of the round now waiting.</summary>
        public McpServer Server => rounds?.Current ?? session!;

        public ClientCapabilities? Capabilities => rounds?.Capabilities ?? session!.ClientCapabilities;

        /// <summary>A host of the stateless revision: it is sent nothing but its answers and what its requests ask for (the log level in their <c>_meta</c>).</summary>
        public bool Stateless => rounds is not null;

        /// <summary>For a stateless host, the least level of log messages its waiting request asks for; null: none.</summary>
        public LoggingLevel? LogLevel => rounds is { HostWaiting: true } ? rounds.LogLevel : null;

        /// <summary>
        /// A stateless call between rounds: its questions went to the host, which has not come back with its answers yet.
        /// Its tool waits on those answers, so a new question from the upstream is not its own. A call with no question
        /// open (a task at work, whose host polls rather than waits) is not between rounds: a question may be its own.
        /// </summary>
        public bool BetweenRounds => rounds is { HostWaiting: false, HasOpenQuestions: true };

        public async ValueTask<TResult> AskAsync<TParams, TResult>(string method, TParams parameters,
            Func<McpServer, TParams, CancellationToken, ValueTask<TResult>> direct, CancellationToken cancellationToken)
        {
            if (rounds is null)
            {
                return await direct(session!, parameters, cancellationToken).ConfigureAwait(false);
            }

            var options = McpJsonUtilities.DefaultOptions;
            var answer = await rounds.AskAsync(method, JsonSerializer.SerializeToNode(parameters, options.GetTypeInfo(typeof(TParams))), cancellationToken)
                .ConfigureAwait(false);
            return (TResult?)answer.Deserialize(options.GetTypeInfo(typeof(TResult)))
                   ?? throw new McpProtocolException($"the host's answer to {method} is empty", McpErrorCode.InvalidParams);
        }
    }

    /// <summary>
    /// A stateless host's call across its rounds. The gate runs once, in the background (<see cref="Completion"/>); each
    /// question it asks of the host waits here under a key. A round answers the host with the questions not yet answered
    /// (<c>input_required</c>, with <see cref="State"/> as <c>requestState</c>), or with the call's result once it is
    /// there. The host's retry brings <c>inputResponses</c> by key; a question left unanswered is asked again.
    /// </summary>
    /// <summary>The log level a stateless request asks for in its <c>_meta</c>, or null (none asked, or not a level).</summary>
    private static LoggingLevel? RequestedLogLevel(JsonObject parameters) => ReadLevel(parameters["_meta"]?[MetaKeys.LogLevel]);

    /// <summary>A logging level written as the protocol writes it (<c>"info"</c>…), read by the SDK's own mapping; null for anything else.</summary>
    internal static LoggingLevel? ReadLevel(JsonNode? node)
    {
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return value.Deserialize((System.Text.Json.Serialization.Metadata.JsonTypeInfo<LoggingLevel>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(LoggingLevel)));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed class InputRounds(ClientCapabilities? capabilities, McpServer current)
    {
        private readonly object gate = new();
        private readonly Dictionary<string, (string Method, JsonNode? Params, TaskCompletionSource<JsonNode> Answer)> open = new(StringComparer.Ordinal);
        private TaskCompletionSource asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int next;

        private static long counted;

        /// <summary>The call's own id, the same across its rounds: unique in this gateway, which is all it is used for (a retry shows only <see cref="State"/>).</summary>
        public string Id { get; } = "call-" + Interlocked.Increment(ref counted).ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>
        /// The <c>requestState</c> of the round now waiting (empty until the call's first <c>input_required</c> round: a
        /// call answered at once never needs one). Unguessable, as it is all a retry shows of the call it continues, and
        /// new each round, so that a retry of an earlier round is refused rather than answered twice.
        /// </summary>
        public string State { get; set; } = "";

        public static string NewState() => "steward-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

        public ClientCapabilities? Capabilities { get; } = capabilities;

        public McpServer Current { get; set; } = current;

        /// <summary>The log level the request now waiting asks for (<c>_meta</c> <c>io.modelcontextprotocol/logLevel</c>), null for none.</summary>
        public LoggingLevel? LogLevel { get; set; }

        private int hostWaiting = 1;

        /// <summary>True while a request of the host waits on this call (from its start, as the first request waits from the start).</summary>
        public bool HostWaiting => Volatile.Read(ref hostWaiting) > 0;

        public void HostCame() => Interlocked.Increment(ref hostWaiting);

        public void HostLeft() => Interlocked.Decrement(ref hostWaiting);

        /// <summary>Cancelled when the call's rounds end (<see cref="Forget"/>), which stops the timer that would end them.</summary>
        public CancellationTokenSource Forgotten { get; } = new();

        /// <summary>Cancelled when the host stops retrying (<see cref="RoundWait"/>) or the call is done.</summary>
        public CancellationTokenSource Lifetime { get; } = new();

        /// <summary>The call's result (as the host gets it), or its failure.</summary>
        public Task<JsonNode?> Completion { get; set; } = Task.FromResult<JsonNode?>(null);

        /// <summary>The method and what it named (a tool, a prompt, a resource's uri): a retry must ask for the same.</summary>
        public required string Subject { get; init; }

        public async Task<JsonNode> AskAsync(string method, JsonNode? parameters, CancellationToken cancellationToken)
        {
            var answer = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (gate)
            {
                open["q" + ++next] = (method, parameters, answer);
                asked.TrySetResult();
                Changed = Time.GetUtcNow();
            }

            using (cancellationToken.Register(() => answer.TrySetCanceled(cancellationToken)))
            {
                return await answer.Task.ConfigureAwait(false);
            }
        }

        /// <summary>Gives the questions their answers from a retry's <c>inputResponses</c>; what is not a question asked is passed over.</summary>
        public void Answer(JsonObject? responses)
        {
            lock (gate)
            {
                foreach (var (key, value) in responses ?? [])
                {
                    if (value is not null && open.Remove(key, out var question))
                    {
                        question.Answer.TrySetResult(value.DeepClone());
                    }
                }

                if (open.Count == 0)
                {
                    asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                Changed = Time.GetUtcNow();
            }
        }

        /// <summary>Whether a question asked of the host waits for its answer.</summary>
        public bool HasOpenQuestions
        {
            get
            {
                lock (gate)
                {
                    return open.Count > 0;
                }
            }
        }

        /// <summary>The questions not answered yet, by key, as <c>inputRequests</c> write them; null when there are none.</summary>
        public JsonObject? OpenRequests()
        {
            lock (gate)
            {
                if (open.Count == 0)
                {
                    return null;
                }

                var requests = new JsonObject();
                foreach (var (key, question) in open)
                {
                    requests[key] = new JsonObject { ["method"] = question.Method, ["params"] = question.Params?.DeepClone() };
                }

                return requests;
            }
        }

        /// <summary>Where time is read (the tasks' timestamps).</summary>
        public TimeProvider Time { get; init; } = TimeProvider.System;

        /// <summary>When a question was last asked or answered, or the call ended (a task's <c>lastUpdatedAt</c>).</summary>
        public DateTimeOffset Changed { get; set; }

        /// <summary>
        /// Waits for the call's result or its next questions: the result (complete), or the open questions as an
        /// <c>input_required</c> result.
        /// </summary>
        public async Task<JsonNode?> RoundAsync(CancellationToken cancellationToken)
        {
            Task waiting;
            lock (gate)
            {
                waiting = asked.Task;
            }

            if (await Task.WhenAny(Completion, waiting).WaitAsync(cancellationToken).ConfigureAwait(false) == waiting && !Completion.IsCompleted)
            {
                // More questions may follow at once (a tool asking for two things): gathered into the same round.
                await Task.WhenAny(Completion, Task.Delay(RoundGather, cancellationToken)).ConfigureAwait(false);
            }

            if (Completion.IsCompleted)
            {
                return await Completion.ConfigureAwait(false);
            }

            return new JsonObject { ["resultType"] = "input_required", ["inputRequests"] = OpenRequests() ?? [] };
        }
    }

    /// <summary>
    /// Ends a stateless call's rounds: its result was delivered, or no one came for it. Its entry goes, and so does the
    /// timer that would have ended it later (a busy host would otherwise leave one alive per call for a round's wait).
    /// </summary>
    private void Forget(InputRounds call)
    {
        lock (call)
        {
            if (call.Forgotten.IsCancellationRequested)
            {
                return;
            }

            call.Forgotten.Cancel();
            Interlocked.Decrement(ref statelessCalls);
            rounds.TryRemove(new KeyValuePair<string, InputRounds>(call.State, call));
        }
    }

    /// <summary>Stateless calls running or waiting for their next round (the <see cref="MaxCalls"/> bound): counted from their start until <see cref="Forget"/>.</summary>
    private int statelessCalls;

    /// <summary>The work of a stateless call, with what its end does: the result waits for the host's next retry (the call may end while the host answers a question), for a round's wait at most.</summary>
    private async Task<JsonNode?> RunStatelessAsync(InputRounds call, Func<CallHost, CancellationToken, Task<JsonNode?>> work)
    {
        try
        {
            return await work(new CallHost(call), call.Lifetime.Token).ConfigureAwait(false);
        }
        finally
        {
            call.Changed = time.GetUtcNow();
            // Its lifetime is not disposed: a retry racing the end may still use it.
            _ = Task.Delay(RoundWait, call.Forgotten.Token).ContinueWith(_ => Forget(call), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// A stateless host's prompts/get or resources/read, run as a call with rounds (<see cref="CallStatelessAsync"/>): an
    /// upstream that asks something while it builds the prompt or reads the resource has its question reach this host
    /// as <c>input_required</c>, as a tool's would. The request's envelope (<see cref="EnvelopeKeys"/>) does not go on.
    /// </summary>
    private Task StatelessRequestAsync(MessageContext context, JsonRpcRequest request, CancellationToken cancellationToken)
    {
        var (field, what) = request.Method == RequestMethods.PromptsGet ? ("name", "the prompt's name") : ("uri", "the resource's uri");
        if (request.Params is not JsonObject parameters || parameters[field] is not JsonValue value || !value.TryGetValue(out string? name))
        {
            throw new McpProtocolException($"{request.Method} needs params with {what} as a string", McpErrorCode.InvalidParams);
        }

        var options = McpJsonUtilities.DefaultOptions;
        return CallStatelessAsync(context, request, parameters, name, async (host, ct) =>
        {
            var sent = parameters.DeepClone().AsObject();
            WithoutEnvelope(sent);
            sent.Remove("requestState");
            sent.Remove("inputResponses");
            JsonNode? result;
            try
            {
                result = request.Method == RequestMethods.PromptsGet
                    ? JsonSerializer.SerializeToNode(await GetPromptAsync(host, sent.Deserialize<GetPromptRequestParams>(options), ct).ConfigureAwait(false), options)
                    : JsonSerializer.SerializeToNode(Cacheable(await ReadResourceAsync(host, sent.Deserialize<ReadResourceRequestParams>(options), stateless: true, ct).ConfigureAwait(false)), options);
            }
            catch (JsonException e)
            {
                throw new McpProtocolException($"{request.Method}: the params are not what it takes: {e.Message}", McpErrorCode.InvalidParams);
            }

            return result;
        }, cancellationToken);
    }

    /// <summary>
    /// A read as a 2026-07-28 host reads it: with the caching hints that revision requires. The upstream's own are kept;
    /// one of a session revision gives none, and then the answer is immediately stale (<c>ttlMs</c> 0) and for this host
    /// only (<c>cacheScope</c> private), since what the gateway serves depends on the policy of the user it runs for.
    /// </summary>
    private static ReadResourceResult Cacheable(ReadResourceResult read)
    {
        read.TimeToLive ??= TimeSpan.Zero;
        read.CacheScope ??= CacheScope.Private;
        return read;
    }

    /// <summary>
    /// A request of a stateless host that an upstream may ask questions during (tools/call, prompts/get, resources/read):
    /// a new one starts <paramref name="work"/> in the background and answers with its first round; a retry
    /// (<c>requestState</c>) answers the questions of its call and answers with the next round.
    /// </summary>
    /// <param name="name">What the request names (the tool, the prompt, the resource's uri): a retry must name the same.</param>
    /// <param name="mayBeTask">A tools/call, which becomes a task when its host declared the tasks extension and it outlasts a moment (<see cref="RoundOrTaskAsync"/>).</param>
    private async Task CallStatelessAsync(MessageContext context, JsonRpcRequest request, JsonObject parameters, string name,
        Func<CallHost, CancellationToken, Task<JsonNode?>> work, CancellationToken cancellationToken, bool mayBeTask = false)
    {
        InputRounds call;
        var asTask = false;
        var subject = request.Method + " " + name;
        if (parameters["requestState"] is JsonValue state && state.TryGetValue(out string? token))
        {
            if (!rounds.TryGetValue(token, out var found) || found.Subject != subject)
            {
                throw new McpProtocolException(
                    $"{request.Method}: params.requestState is not one the gateway gave for '{name}', or its call has ended (a call waits {RoundWait.TotalMinutes:0} minutes for its next round); send the request again without it",
                    McpErrorCode.InvalidParams);
            }

            call = found;
            call.HostCame();
            call.Current = context.Server;
            call.LogLevel = RequestedLogLevel(parameters);
            call.Answer(parameters["inputResponses"] as JsonObject);
        }
        else
        {
            if (Interlocked.Increment(ref statelessCalls) > MaxCalls)
            {
                Interlocked.Decrement(ref statelessCalls);
                throw new McpProtocolException(
                    $"{request.Method}: {MaxCalls} requests of stateless hosts are running or waiting for their next round, the gateway's limit; answer or cancel one, or try again once one ends (a request waits {RoundWait.TotalMinutes:0} minutes for its next round)",
                    McpErrorCode.InvalidRequest);
            }

            call = new InputRounds(context.Server.ClientCapabilities, context.Server) { Subject = subject, LogLevel = RequestedLogLevel(parameters), Time = time };
            call.Changed = time.GetUtcNow();
            asTask = mayBeTask && DeclaresTasks(context.Server.ClientCapabilities) && hostTasks.Count < MaxCalls;
            // Started here, not on another thread: it runs to its first wait (the upstream's answer) and goes on from
            // there as the host's own requests do, without a hop to the thread pool first.
            call.Completion = RunStatelessAsync(call, work);
        }

        JsonNode? answer;
        try
        {
            // The host cancelling the request it waits on (or going away) cancels the call, upstream too.
            using var cancelling = cancellationToken.Register(static c => ((InputRounds)c!).Lifetime.Cancel(), call);
            var waiting = JsonSerializer.SerializeToNode(request.Id, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(RequestId)))!.ToJsonString();
            waitingRounds[waiting] = call;
            // No deadline while the host waits on the call (a long tool is bounded by the entry's timeout): only between rounds.
            call.Lifetime.CancelAfter(Timeout.InfiniteTimeSpan);
            try
            {
                answer = asTask ? await RoundOrTaskAsync(call, cancellationToken).ConfigureAwait(false) : await call.RoundAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                waitingRounds.TryRemove(new KeyValuePair<string, InputRounds>(waiting, call));
                call.HostLeft();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new McpProtocolException($"Steward: the {request.Method} of '{name}' ended: it waited too long for its next round", McpErrorCode.InternalError);
        }

        if (call.Completion.IsCompleted || answer is JsonObject { } created && created["resultType"]?.GetValue<string>() == "task")
        {
            // Its result was delivered, or it became a task: its rounds (and their requestState) end here.
            Forget(call);
        }
        else if (answer is JsonObject { } body && body["resultType"]?.GetValue<string>() == "input_required")
        {
            lock (call)
            {
                // A new state each round; a call forgotten meanwhile (no one came for its result) is not put back.
                var previous = call.State;
                call.State = InputRounds.NewState();
                rounds.TryRemove(new KeyValuePair<string, InputRounds>(previous, call));
                if (!call.Forgotten.IsCancellationRequested)
                {
                    rounds[call.State] = call;
                }
            }

            body["requestState"] = call.State;
            call.Lifetime.CancelAfter(RoundWait);
        }

        await context.Server.SendMessageAsync(new JsonRpcResponse { Id = request.Id, Result = Stamped(context, answer) }, cancellationToken).ConfigureAwait(false);
    }
}
