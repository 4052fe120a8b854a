using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

// Sampling, roots and logging are current features of the 2025-11-25 revision the gateway speaks.
#pragma warning disable MCP9005

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// Every feature of the real server-everything, started through real npx (offline, from tests/node), through the
/// gateway: per-server shape with names unchanged, aggregated shape with names prefixed.
/// </summary>
public sealed class ServerEverythingThroughGatewayTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private sealed class HostSide
    {
        public TaskCompletionSource<CreateMessageRequestParams> Sampled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<ElicitRequestParams> Elicited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<JsonElement> Logged { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The first progress notification the host got, whatever the SDK's per-call reporter did with it.</summary>
        public TaskCompletionSource<JsonElement> Progressed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>A host of <paramref name="revision"/>; null: the SDK's default, the stateless 2026-07-28.</summary>
        public McpClientOptions Options(string? revision = "2025-11-25") => new()
        {
            ProtocolVersion = revision,
            Handlers = new McpClientHandlers
            {
                SamplingHandler = (request, _, _) =>
                {
                    Sampled.TrySetResult(request!);
                    return ValueTask.FromResult(new CreateMessageResult
                    {
                        Model = "test-model",
                        Role = Role.Assistant,
                        Content = [new TextContentBlock { Text = "sampled through steward" }],
                    });
                },
                ElicitationHandler = (request, _) =>
                {
                    Elicited.TrySetResult(request!);
                    return ValueTask.FromResult(new ElicitResult { Action = "decline" });
                },
                RootsHandler = (_, _) => ValueTask.FromResult(new ListRootsResult { Roots = [new Root { Uri = "file:///work/project", Name = "project" }] }),
                NotificationHandlers =
                [
                    new(NotificationMethods.ProgressNotification, (n, _) =>
                    {
                        Progressed.TrySetResult(JsonSerializer.SerializeToElement(n.Params));
                        return ValueTask.CompletedTask;
                    }),
                    new(NotificationMethods.LoggingMessageNotification, (n, _) =>
                    {
                        var body = n.Params!.AsObject();
                        if (body["logger"]?.GetValue<string>() != "steward")
                        {
                            Logged.TrySetResult(JsonSerializer.SerializeToElement(body));
                        }

                        return ValueTask.CompletedTask;
                    }),
                ],
            },
        };
    }

    [NodeFact]
    public async Task Per_server_shape_serves_every_feature_with_names_unchanged()
    {
        var host = new HostSide();
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.EverythingNpm()]), server: Fixtures.EverythingName, clientOptions: host.Options());
        await ExerciseEverythingAsync(harness.Client, host, prefix: "");
    }

    /// <summary>
    /// A host of the stateless revision 2026-07-28 (the SDK's default) in front of server-everything, which speaks the
    /// session revisions: what the upstream asks of the host (sampling, elicitation, roots) reaches it as
    /// <c>input_required</c> rounds, which the SDK's client answers and retries. Logging is left out: that revision sets
    /// the level per request, which the SDK's client does not send (StatelessLoggingTests puts it on the wire).
    /// </summary>
    [NodeFact]
    public async Task A_stateless_host_is_served_every_feature_but_logging_with_questions_as_input_required_rounds()
    {
        var host = new HostSide();
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.EverythingNpm()]), server: Fixtures.EverythingName, clientOptions: host.Options(revision: null));
        Assert.Equal("2026-07-28", harness.Client.NegotiatedProtocolVersion);
        await ExerciseEverythingAsync(harness.Client, host, prefix: "", logging: false);
    }

    /// <summary>
    /// A stateless host's <c>subscriptions/listen</c> asking for resource updates, in front of server-everything, which
    /// takes <c>resources/subscribe</c>: the resource is granted and its updates come on the listen stream, tagged with the
    /// listen request's id. (One whose server cannot be subscribed to is left out: ModernUpstreamTests.)
    /// </summary>
    [NodeFact]
    public async Task A_stateless_hosts_listen_stream_gets_the_updates_of_the_resources_it_subscribed_to()
    {
        const string Watched = "demo://resource/dynamic/text/3";
        var acknowledged = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var updated = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers =
                [
                    new(NotificationMethods.SubscriptionsAcknowledgedNotification, (n, _) =>
                    {
                        acknowledged.TrySetResult(n.Params?.DeepClone());
                        return ValueTask.CompletedTask;
                    }),
                    new(NotificationMethods.ResourceUpdatedNotification, (n, _) =>
                    {
                        // Over stdio the host also gets the untagged broadcast of its session; the listen stream's are tagged.
                        if (n.Params?["_meta"]?["io.modelcontextprotocol/subscriptionId"] is not null)
                        {
                            updated.TrySetResult(n.Params.DeepClone());
                        }

                        return ValueTask.CompletedTask;
                    }),
                ],
            },
        };
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.EverythingNpm()]), server: Fixtures.EverythingName, clientOptions: options);
        Assert.Equal("2026-07-28", harness.Client.NegotiatedProtocolVersion);

        using var stop = new CancellationTokenSource();
        var listening = harness.Client.SendRequestAsync<SubscriptionsListenRequestParams, EmptyResult>(RequestMethods.SubscriptionsListen,
            new SubscriptionsListenRequestParams { Notifications = new SubscriptionsListenNotifications { ResourceSubscriptions = [Watched] } },
            cancellationToken: stop.Token).AsTask();
        var ack = (await acknowledged.Task.WaitAsync(Guard))!;
        Assert.Equal([Watched], ack["notifications"]!["resourceSubscriptions"]!.AsArray().Select(u => u!.GetValue<string>()));
        var subscription = ack["_meta"]!["io.modelcontextprotocol/subscriptionId"]!.ToJsonString();

        // server-everything sends an update of every subscribed resource at once when its simulated updates start.
        await harness.Client.CallToolAsync("toggle-subscriber-updates").AsTask().WaitAsync(Guard);
        var update = (await updated.Task.WaitAsync(Guard))!;
        Assert.Equal(Watched, update["uri"]!.GetValue<string>());
        Assert.Equal(subscription, update["_meta"]!["io.modelcontextprotocol/subscriptionId"]!.ToJsonString());

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listening.WaitAsync(Guard));
    }

    [NodeFact]
    public async Task Aggregated_shape_serves_every_feature_with_names_prefixed_by_server()
    {
        var host = new HostSide();
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.EverythingNpm()]), clientOptions: host.Options());
        await ExerciseEverythingAsync(harness.Client, host, prefix: Fixtures.EverythingName + "__");
    }

    [NodeFact]
    public async Task Two_servers_with_the_same_tools_do_not_collide_in_the_aggregated_shape()
    {
        var log = Path.Combine(GatewayHarness.TempDirectory(), "uvx.argv");
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig()), ("second", Shims.Entry("uvx", ["everything-py==1.0.0"], log))),
            Fixtures.Policy([Fixtures.EverythingNpm(), Fixtures.Pypi("second", "everything-py", "1.0.0")]));
        Assert.Equal(["everything-py==1.0.0"], Shims.Read(log)!.Value.Argv);

        var names = (await harness.Client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.Contains("everything__echo", names);
        Assert.Contains("second__echo", names);
        Assert.Equal(names.Count, names.Distinct().Count());
        var first = await harness.Client.CallToolAsync("everything__echo", new Dictionary<string, object?> { ["message"] = "one" });
        var second = await harness.Client.CallToolAsync("second__echo", new Dictionary<string, object?> { ["message"] = "two" });
        Assert.Equal("Echo: one", Text(first));
        Assert.Equal("Echo: two", Text(second));
        var prompts = (await harness.Client.ListPromptsAsync()).Select(p => p.Name).ToList();
        Assert.Contains("everything__simple-prompt", prompts);
        Assert.Contains("second__simple-prompt", prompts);
    }

    [NodeFact]
    public async Task Servers_with_long_or_separator_names_get_short_aliases_and_every_exposed_name_is_one_a_host_accepts()
    {
        // The official name (80-character tool names with / and . before aliases) and a name holding the separator.
        const string official = "io.github.modelcontextprotocol/server-everything";
        const string tricky = "everything__a";
        var registry = new[] { official, tricky }.Select(n => Fixtures.EverythingNpm() with { Name = n }).ToList();
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((official, Fixtures.EverythingConfig()), (tricky, Fixtures.EverythingConfig()), (Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([.. registry, Fixtures.EverythingNpm()]));

        var names = (await harness.Client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.All(names, n => Assert.Matches("^[a-zA-Z0-9_-]{1,64}$", n));
        Assert.Equal(names.Count, names.Distinct().Count());
        var aliases = Steward.Core.Admission.ServerAliases.For([official, tricky, Fixtures.EverythingName]);
        Assert.Equal("everything", aliases[Fixtures.EverythingName]);
        Assert.StartsWith("server-everything-", aliases[official], StringComparison.Ordinal);
        Assert.Contains(aliases[official] + "__trigger-long-running-operation", names);
        Assert.DoesNotContain(aliases[tricky], "_", StringComparison.Ordinal);

        // Each alias reaches its own server: the first "__" always ends the alias.
        foreach (var alias in aliases.Values)
        {
            Assert.Equal("Echo: " + alias, Text(await harness.Client.CallToolAsync(alias + "__echo", new Dictionary<string, object?> { ["message"] = alias })));
        }

        var prompts = (await harness.Client.ListPromptsAsync()).Select(p => p.Name).ToList();
        Assert.Contains(aliases[official] + "__simple-prompt", prompts);
        Assert.Contains(harness.Gateway.Status.Running, n => n == official);
    }

    [NodeFact]
    public async Task An_upstream_error_reaches_the_host_with_the_code_and_message_the_upstream_sent()
    {
        // What server-everything answers directly, over stdio, to a request it refuses.
        await using var direct = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "everything",
            Command = NodePackages.Node22,
            Arguments = [NodePackages.ServerEverythingScript, "stdio"],
            WorkingDirectory = NodePackages.Root,
        })).WaitAsync(Guard);
        await using var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())),
            Fixtures.Policy([Fixtures.EverythingNpm()]), server: Fixtures.EverythingName);

        foreach (var refused in new Func<McpClient, Task>[]
                 {
                     c => c.GetPromptAsync("no-such-prompt").AsTask(),
                     c => c.ReadResourceAsync("demo://no/such/resource").AsTask(),
                     c => c.CompleteAsync(new PromptReference { Name = "no-such-prompt" }, "city", "L").AsTask(),
                 })
        {
            var expected = await Assert.ThrowsAsync<McpProtocolException>(() => refused(direct).WaitAsync(Guard));
            var actual = await Assert.ThrowsAsync<McpProtocolException>(() => refused(harness.Client).WaitAsync(Guard));
            Assert.Equal(expected.ErrorCode, actual.ErrorCode);
            Assert.Equal(expected.Message, actual.Message);
        }
    }

    private static async Task ExerciseEverythingAsync(McpClient client, HostSide host, string prefix, bool logging = true)
    {
        // Tools, including those server-everything registers only for a host with sampling, elicitation and roots.
        var tools = (await client.ListToolsAsync()).Select(t => t.Name).ToList();
        foreach (var name in new[] { "echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request", "trigger-elicitation-request", "get-roots-list" })
        {
            Assert.Contains(prefix + name, tools);
        }

        Assert.Equal("Echo: hello", Text(await client.CallToolAsync(prefix + "echo", new Dictionary<string, object?> { ["message"] = "hello" })));
        Assert.Contains("5", Text(await client.CallToolAsync(prefix + "get-sum", new Dictionary<string, object?> { ["a"] = 2, ["b"] = 3 })));

        // Progress, forwarded from the upstream to the host with the host's token.
        var progress = new List<ProgressNotificationValue>();
        var reporter = new SynchronousProgress(progress);
        var longRunning = await client.CallToolAsync(prefix + "trigger-long-running-operation",
            new Dictionary<string, object?> { ["duration"] = 1, ["steps"] = 3 }, reporter).AsTask().WaitAsync(Guard);
        Assert.Contains("completed", Text(longRunning), StringComparison.OrdinalIgnoreCase);
        // Asserted by the session's own handler: the SDK's client handles a call's messages concurrently and drops the
        // reporter with the answer, so on a loaded machine the reporter can miss steps that did arrive (docs/gateway.md).
        var step = await host.Progressed.Task.WaitAsync(Guard);
        Assert.True(step.GetProperty("progress").GetDouble() >= 1, step.ToString());

        // Sampling and elicitation: the upstream asks, the host answers, through the gateway.
        var sampled = await client.CallToolAsync(prefix + "trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = "Say hi" }).AsTask().WaitAsync(Guard);
        Assert.Contains("sampled through steward", Text(sampled));
        Assert.Contains("Say hi", string.Concat((await host.Sampled.Task.WaitAsync(Guard)).Messages[0].Content.OfType<TextContentBlock>().Select(b => b.Text)));
        var elicited = await client.CallToolAsync(prefix + "trigger-elicitation-request").AsTask().WaitAsync(Guard);
        Assert.Contains("decline", Text(elicited), StringComparison.OrdinalIgnoreCase);
        Assert.NotNull((await host.Elicited.Task.WaitAsync(Guard)).RequestedSchema);

        // Roots: the upstream asks the host for its roots.
        Assert.Contains("file:///work/project", Text(await client.CallToolAsync(prefix + "get-roots-list").AsTask().WaitAsync(Guard)));

        // Resources and templates: URIs unchanged in both shapes.
        var resources = await client.ListResourcesAsync();
        Assert.NotEmpty(resources);
        var read = await client.ReadResourceAsync(resources[0].Uri);
        Assert.NotEmpty(read.Contents);
        var templates = await client.ListResourceTemplatesAsync();
        Assert.Contains(templates, t => t.UriTemplate == "demo://resource/dynamic/text/{resourceId}");
        var dynamic = await client.ReadResourceAsync("demo://resource/dynamic/text/3");
        Assert.Contains("Resource 3", ((TextResourceContents)dynamic.Contents[0]).Text);

        // Prompts and completions.
        var prompts = (await client.ListPromptsAsync()).Select(p => p.Name).ToList();
        Assert.Contains(prefix + "args-prompt", prompts);
        var prompt = await client.GetPromptAsync(prefix + "args-prompt", new Dictionary<string, object?> { ["city"] = "Lyon" });
        Assert.Contains("Lyon", ((TextContentBlock)prompt.Messages[0].Content).Text);
        var completion = await client.CompleteAsync(new PromptReference { Name = prefix + "completable-prompt" }, "department", "Eng");
        Assert.Contains("Engineering", completion.Completion.Values);

        // Logging: the host sets the level; the upstream's messages arrive (named after the server in the aggregated shape).
        if (logging)
        {
            await client.SetLoggingLevelAsync(LoggingLevel.Debug);
            await client.CallToolAsync(prefix + "toggle-simulated-logging");
            var logged = await host.Logged.Task.WaitAsync(Guard);
            if (prefix.Length > 0)
            {
                Assert.StartsWith(Fixtures.EverythingName, logged.GetProperty("logger").GetString(), StringComparison.Ordinal);
            }
        }

        // Cancellation: the host cancels; the gateway cancels the upstream call and answers.
        using var cancel = new CancellationTokenSource();
        var firstProgress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = client.CallToolAsync(prefix + "trigger-long-running-operation", new Dictionary<string, object?> { ["duration"] = 30, ["steps"] = 30 },
            new SynchronousProgress([], firstProgress), cancellationToken: cancel.Token).AsTask();
        await firstProgress.Task.WaitAsync(Guard);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Guard));
        Assert.Equal("Echo: still here", Text(await client.CallToolAsync(prefix + "echo", new Dictionary<string, object?> { ["message"] = "still here" })));
    }

    internal static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text));

    private sealed class SynchronousProgress(List<ProgressNotificationValue> values, TaskCompletionSource? first = null) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value)
        {
            lock (values)
            {
                values.Add(value);
            }

            first?.TrySetResult();
        }
    }
}
