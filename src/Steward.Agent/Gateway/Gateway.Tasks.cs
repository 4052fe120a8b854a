using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Steward.Agent.Gateway;

// Tasks for hosts of the stateless revision (the tasks extension, SEP-2663): a tools/call that outlasts a moment, or asks
// something, becomes a task the host polls (tasks/get), answers (tasks/update) and may cancel (tasks/cancel).
public sealed partial class Gateway
{
    /// <summary>The tasks extension's identifier, under <c>capabilities.extensions</c> on both sides.</summary>
    public const string TasksExtension = "io.modelcontextprotocol/tasks";

    /// <summary>How long a call of a host that declared tasks runs before it is answered as a task rather than with its result.</summary>
    internal static readonly TimeSpan TaskAfter = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a task stays readable after it was created (its <c>ttlMs</c>); one still running then is cancelled.</summary>
    internal static readonly TimeSpan TaskLifetime = TimeSpan.FromMinutes(30);

    /// <summary>How often a host is asked to poll a task (<c>pollIntervalMs</c>).</summary>
    private static readonly TimeSpan TaskPoll = TimeSpan.FromMilliseconds(500);

    /// <summary>The tasks of stateless hosts, by id.</summary>
    private readonly ConcurrentDictionary<string, HostTask> hostTasks = new(StringComparer.Ordinal);

    /// <summary>A call of a stateless host that became a task: its id (random, as it is all a host shows of it) and when it was created.</summary>
    private sealed class HostTask(InputRounds call, DateTimeOffset created)
    {
        public string Id { get; } = "steward-task-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

        public InputRounds Call => call;

        public DateTimeOffset Created => created;

        /// <summary>Set by <c>tasks/cancel</c> while the call ran: the task ends <c>cancelled</c> whatever the call's end.</summary>
        public bool Cancelled { get; set; }

        public DateTimeOffset CancelledAt { get; set; }

        /// <summary>Ends the task's lifetime early (the gateway stops), so its timer goes with it.</summary>
        public CancellationTokenSource Expiry { get; } = new();
    }

    /// <summary>Whether a request's capabilities declare the tasks extension (session-wide, or for that one request in its <c>_meta</c>).</summary>
    private static bool DeclaresTasks(ClientCapabilities? capabilities) => capabilities?.Extensions?.ContainsKey(TasksExtension) == true;

    /// <summary>
    /// The first answer to a tools/call of a host that declared tasks: its result when the call ends within
    /// <see cref="TaskAfter"/> (a sync result is valid for any tool); else, or as soon as the upstream asks something,
    /// a new task (<c>resultType: "task"</c>) whose state the host reads with <c>tasks/get</c>.
    /// </summary>
    /// <remarks>
    /// The gateway runs the task itself: the upstream sees an ordinary call, in flight until it ends. So any upstream's
    /// long tool can be a task for such a host, and what the upstream asks during it (sampling, elicitation, roots, an
    /// <c>ask</c> rule's approval) is the task's <c>input_required</c> state, answered by <c>tasks/update</c>. A tool that
    /// asks before it is meant to become a task cannot be told from one that asks inside its task: both are a task then.
    /// </remarks>
    private async Task<JsonNode?> RoundOrTaskAsync(InputRounds call, CancellationToken cancellationToken)
    {
        using (var moment = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            moment.CancelAfter(TaskAfter);
            try
            {
                var answer = await call.RoundAsync(moment.Token).ConfigureAwait(false);
                if (call.Completion.IsCompleted)
                {
                    return answer;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The moment passed with the call still running.
            }
        }

        var task = new HostTask(call, time.GetUtcNow());
        hostTasks[task.Id] = task;
        // No deadline but the task's own: the host polls rather than waits.
        call.Lifetime.CancelAfter(Timeout.InfiniteTimeSpan);
        _ = Task.Delay(TaskLifetime, time, task.Expiry.Token).ContinueWith(_ => EndTask(task), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        var created = Envelope(task, StatusOf(task));
        created["resultType"] = "task";
        return created;
    }

    /// <summary>A task's lifetime is over: it is forgotten, and its call cancelled if it still runs.</summary>
    private void EndTask(HostTask task)
    {
        if (hostTasks.TryRemove(new KeyValuePair<string, HostTask>(task.Id, task)))
        {
            task.Call.Lifetime.Cancel();
        }
    }

    /// <summary>What a task's state is now: working, input_required (questions open), or terminal.</summary>
    private static string StatusOf(HostTask task)
    {
        var completion = task.Call.Completion;
        return task.Cancelled ? "cancelled"
            : completion.IsCompletedSuccessfully ? "completed"
            : completion.IsCanceled || (completion.IsFaulted && completion.Exception?.InnerException is OperationCanceledException) ? "cancelled"
            : completion.IsFaulted ? "failed"
            : task.Call.OpenRequests() is not null ? "input_required"
            : "working";
    }

    /// <summary>The fields every task result has (<c>taskId</c>, <c>status</c>, times in ISO 8601, <c>ttlMs</c>, <c>pollIntervalMs</c>).</summary>
    private static JsonObject Envelope(HostTask task, string status)
    {
        var updated = task.Cancelled ? task.CancelledAt : task.Call.Changed > task.Created ? task.Call.Changed : task.Created;
        return new JsonObject
        {
            ["taskId"] = task.Id,
            ["status"] = status,
            ["createdAt"] = task.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["lastUpdatedAt"] = updated.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["ttlMs"] = (long)TaskLifetime.TotalMilliseconds,
            ["pollIntervalMs"] = (long)TaskPoll.TotalMilliseconds,
        };
    }

    /// <summary>
    /// <c>tasks/get</c>, <c>tasks/update</c> and <c>tasks/cancel</c> of a stateless host. Each needs the tasks extension
    /// declared in that request (<c>-32021</c> otherwise) and a task id the gateway gave (<c>-32602</c> otherwise).
    /// </summary>
    private async Task TaskRequestAsync(MessageContext context, JsonRpcRequest request, CancellationToken cancellationToken)
    {
        if (!DeclaresTasks(context.Server.ClientCapabilities))
        {
            var refused = new McpProtocolException(
                $"{request.Method} needs the tasks extension ({TasksExtension}) declared in the request's client capabilities", McpErrorCode.MissingRequiredClientCapability);
            refused.Data["requiredCapabilities"] = JsonSerializer.SerializeToElement(new JsonObject { ["extensions"] = new JsonObject { [TasksExtension] = new JsonObject() } },
                McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonObject)));
            throw refused;
        }

        if (request.Params is not JsonObject parameters || parameters["taskId"] is not JsonValue id || !id.TryGetValue(out string? taskId) ||
            !hostTasks.TryGetValue(taskId, out var task))
        {
            throw new McpProtocolException($"{request.Method}: params.taskId is not a task of this gateway's, or the task has ended (a task is kept {TaskLifetime.TotalMinutes:0} minutes)",
                McpErrorCode.InvalidParams);
        }

        JsonObject result;
        switch (request.Method)
        {
            case "tasks/update":
                if (parameters["inputResponses"] is JsonObject responses)
                {
                    task.Call.Answer(responses);
                }

                result = [];
                break;
            case "tasks/cancel":
                if (!task.Call.Completion.IsCompleted && !task.Cancelled)
                {
                    task.Cancelled = true;
                    task.CancelledAt = time.GetUtcNow();
                    await task.Call.Lifetime.CancelAsync().ConfigureAwait(false);
                }

                result = [];
                break;
            default:
                result = Detailed(task);
                break;
        }

        result["resultType"] = "complete";
        await context.Server.SendMessageAsync(new JsonRpcResponse { Id = request.Id, Result = result }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A task as <c>tasks/get</c> shows it: its envelope, and its result, its error or its open questions.</summary>
    private static JsonObject Detailed(HostTask task)
    {
        var status = StatusOf(task);
        var detailed = Envelope(task, status);
        var completion = task.Call.Completion;
        switch (status)
        {
            case "completed":
                detailed["result"] = completion.Result?.DeepClone();
                break;
            case "failed":
                var failure = completion.Exception?.InnerException;
                var error = new JsonObject
                {
                    ["code"] = (int)(failure is McpProtocolException protocol ? protocol.ErrorCode : McpErrorCode.InternalError),
                    ["message"] = failure?.Message ?? "the call failed",
                };
                detailed["error"] = error;
                break;
            case "input_required":
                detailed["inputRequests"] = task.Call.OpenRequests();
                break;
        }

        return detailed;
    }

    /// <summary>When the gateway stops: every task is forgotten, its timer with it.</summary>
    private void EndTasks()
    {
        foreach (var task in hostTasks.Values)
        {
            task.Expiry.Cancel();
            EndTask(task);
        }
    }
}
