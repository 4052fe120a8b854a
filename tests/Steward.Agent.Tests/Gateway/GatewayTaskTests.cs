using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// The tasks extension for a host of the stateless revision, in front of server-everything (a server of the session
/// revisions, which knows nothing of tasks): a call that outlasts a moment, or asks something, becomes a task of the
/// gateway's that the host polls, answers and cancels; a quick call is answered at once.
/// </summary>
public sealed class GatewayTaskTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private static McpClientOptions Options(bool tasks) => new()
    {
        Capabilities = new ClientCapabilities
        {
            Elicitation = new ElicitationCapability { Form = new FormElicitationCapability() },
            Extensions = tasks ? new Dictionary<string, object> { ["io.modelcontextprotocol/tasks"] = JsonDocument.Parse("{}").RootElement } : null,
        },
    };

    private static Task<GatewayHarness> StartAsync(bool tasks) => GatewayHarness.StartAsync(
        Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
        Fixtures.Policy([Fixtures.EverythingNpm()]), server: Fixtures.EverythingName, clientOptions: Options(tasks));

    private static async Task<JsonObject> SendAsync(McpClient client, string method, JsonObject parameters)
    {
        var response = await client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }).WaitAsync(Guard);
        return response.Result!.AsObject();
    }

    private static Task<JsonObject> CallAsync(McpClient client, string tool, JsonObject arguments) =>
        SendAsync(client, RequestMethods.ToolsCall, new JsonObject { ["name"] = tool, ["arguments"] = arguments });

    /// <summary>Polls tasks/get until the task's status is <paramref name="status"/>.</summary>
    private static async Task<JsonObject> UntilAsync(McpClient client, string taskId, string status)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (true)
        {
            var task = await SendAsync(client, "tasks/get", new JsonObject { ["taskId"] = taskId });
            if (task["status"]!.GetValue<string>() == status)
            {
                return task;
            }

            await Task.Delay(100, guard.Token);
        }
    }

    private static string Text(JsonNode? result) => string.Concat(result!["content"]!.AsArray().Select(c => c!["text"]?.GetValue<string>()));

    [NodeFact]
    public async Task A_long_call_becomes_a_task_the_host_polls_answers_and_cancels_and_a_quick_one_is_answered_at_once()
    {
        await using var harness = await StartAsync(tasks: true);
        Assert.Equal("2026-07-28", harness.Client.NegotiatedProtocolVersion);

        var quick = await CallAsync(harness.Client, "echo", new JsonObject { ["message"] = "at once" });
        Assert.Equal("complete", quick["resultType"]!.GetValue<string>());
        Assert.Null(quick["taskId"]);
        Assert.Equal("Echo: at once", Text(quick));

        // A call that outlasts a moment: a task, working, then completed with the tool's result inlined.
        var created = await CallAsync(harness.Client, "trigger-long-running-operation", new JsonObject { ["duration"] = 1, ["steps"] = 2 });
        Assert.Equal("task", created["resultType"]!.GetValue<string>());
        Assert.Equal("working", created["status"]!.GetValue<string>());
        Assert.True(created["ttlMs"]!.GetValue<long>() > 0);
        var taskId = created["taskId"]!.GetValue<string>();
        var completed = await UntilAsync(harness.Client, taskId, "completed");
        Assert.Equal("complete", completed["resultType"]!.GetValue<string>());
        Assert.Contains("Long running operation completed", Text(completed["result"]), StringComparison.Ordinal);
        Assert.Null(completed["requestState"]);

        // A call that asks: the task waits on input; tasks/update answers it, and the call goes on to its end.
        var asking = await CallAsync(harness.Client, "trigger-elicitation-request", []);
        Assert.Equal("task", asking["resultType"]!.GetValue<string>());
        var askingId = asking["taskId"]!.GetValue<string>();
        var waiting = await UntilAsync(harness.Client, askingId, "input_required");
        var (key, question) = Assert.Single(waiting["inputRequests"]!.AsObject());
        Assert.Equal("elicitation/create", question!["method"]!.GetValue<string>());
        var ack = await SendAsync(harness.Client, "tasks/update",
            new JsonObject { ["taskId"] = askingId, ["inputResponses"] = new JsonObject { [key] = new JsonObject { ["action"] = "decline" } } });
        Assert.Equal("complete", ack["resultType"]!.GetValue<string>());
        Assert.Null(ack["taskId"]);
        Assert.Contains("decline", Text((await UntilAsync(harness.Client, askingId, "completed"))["result"]), StringComparison.OrdinalIgnoreCase);

        // A task cancelled while it runs ends cancelled; cancelling it again is the same empty ack.
        var slow = await CallAsync(harness.Client, "trigger-long-running-operation", new JsonObject { ["duration"] = 30, ["steps"] = 3 });
        var slowId = slow["taskId"]!.GetValue<string>();
        Assert.Equal("complete", (await SendAsync(harness.Client, "tasks/cancel", new JsonObject { ["taskId"] = slowId }))["resultType"]!.GetValue<string>());
        Assert.Null((await UntilAsync(harness.Client, slowId, "cancelled"))["result"]);
        Assert.Equal("complete", (await SendAsync(harness.Client, "tasks/cancel", new JsonObject { ["taskId"] = slowId }))["resultType"]!.GetValue<string>());

        var unknown = await Assert.ThrowsAsync<McpProtocolException>(() => SendAsync(harness.Client, "tasks/get", new JsonObject { ["taskId"] = "steward-task-nope" }));
        Assert.Equal(McpErrorCode.InvalidParams, unknown.ErrorCode);
    }

    [NodeFact]
    public async Task A_host_that_did_not_declare_tasks_gets_results_and_its_task_requests_are_refused_naming_the_extension()
    {
        await using var harness = await StartAsync(tasks: false);

        var result = await CallAsync(harness.Client, "trigger-long-running-operation", new JsonObject { ["duration"] = 1, ["steps"] = 2 });
        Assert.Equal("complete", result["resultType"]!.GetValue<string>());
        Assert.Contains("Long running operation completed", Text(result), StringComparison.Ordinal);

        var refused = await Assert.ThrowsAnyAsync<McpProtocolException>(() => SendAsync(harness.Client, "tasks/get", new JsonObject { ["taskId"] = "steward-task-any" }));
        Assert.Equal(McpErrorCode.MissingRequiredClientCapability, refused.ErrorCode);
        Assert.Contains("io.modelcontextprotocol/tasks", refused.Message, StringComparison.Ordinal);
    }
}
