using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// An upstream of revision 2026-07-28: tests/node/modern-server.mjs, a real server on the TypeScript SDK 2.x that
/// refuses the session revisions' <c>initialize</c> (MODERN_ONLY=1), or serves both eras. The gateway speaks to it in
/// the stateless revision, and hosts of either kind use it: its <c>input_required</c> rounds become an elicitation
/// request to a session host and rounds again for a stateless host; its list changes reach the host.
/// </summary>
public sealed class ModernUpstreamTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    public static TheoryData<string> HostRevisions => new() { "2025-11-25", "2026-07-28" };

    [NodeTheory]
    [MemberData(nameof(HostRevisions))]
    public async Task A_server_of_the_stateless_revision_alone_is_used_by_hosts_of_either_kind(string hostRevision)
    {
        var asked = new TaskCompletionSource<ElicitRequestParams>(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource? listChanged = null;
        var acknowledged = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new McpClientOptions
        {
            ProtocolVersion = hostRevision,
            Capabilities = new ClientCapabilities { Elicitation = new ElicitationCapability { Form = new FormElicitationCapability() } },
            Handlers = new McpClientHandlers
            {
                ElicitationHandler = (request, _) =>
                {
                    asked.TrySetResult(request!);
                    return ValueTask.FromResult(new ElicitResult { Action = "accept", Content = new Dictionary<string, JsonElement> { ["confirm"] = JsonSerializer.SerializeToElement(true) } });
                },
                NotificationHandlers =
                [
                    new(NotificationMethods.ToolListChangedNotification, (_, _) =>
                    {
                        Volatile.Read(ref listChanged)?.TrySetResult();
                        return ValueTask.CompletedTask;
                    }),
                    new(NotificationMethods.SubscriptionsAcknowledgedNotification, (n, _) =>
                    {
                        acknowledged.TrySetResult(n.Params);
                        return ValueTask.CompletedTask;
                    }),
                ],
            },
        };
        await using var harness = await StartAsync(modernOnly: true, options);
        var status = harness.Gateway.Status;
        Assert.True(status.Running.SequenceEqual(["modern"]), string.Join("; ", status.Failed.Select(f => $"{f.Name}: {f.Message}")));

        var tools = await harness.Client.ListToolsAsync().AsTask().WaitAsync(Guard);
        Assert.Contains("modern__echo", tools.Select(t => t.Name));
        Assert.Equal("Echo: through steward", Text(await harness.Client.CallToolAsync("modern__echo", new Dictionary<string, object?> { ["message"] = "through steward" }).AsTask().WaitAsync(Guard)));

        // The server's question (an input_required round to the gateway) reaches the host as its revision asks, and its answer goes back.
        var confirmed = await harness.Client.CallToolAsync("modern__confirm", new Dictionary<string, object?> { ["action"] = "deploy" }).AsTask().WaitAsync(Guard);
        Assert.Equal("Go ahead with deploy?", (await asked.Task.WaitAsync(Guard)).Message);
        Assert.Equal("confirmed: deploy", Text(confirmed));

        // The server's list change (on the gateway's subscriptions/listen stream to it) reaches the host: a session host as a
        // notification of its session, a stateless host on its own subscriptions/listen stream, tagged with that request's id.
        using var stopListening = new CancellationTokenSource();
        Task? listening = null;
        if (hostRevision == "2026-07-28")
        {
            listening = harness.Client.SendRequestAsync<SubscriptionsListenRequestParams, EmptyResult>(RequestMethods.SubscriptionsListen,
                new SubscriptionsListenRequestParams { Notifications = new SubscriptionsListenNotifications { ToolsListChanged = true, ResourceSubscriptions = ["demo://a"] } },
                cancellationToken: stopListening.Token).AsTask();
            var granted = (await acknowledged.Task.WaitAsync(Guard))!["notifications"]!.AsObject();
            Assert.True(granted["toolsListChanged"]!.GetValue<bool>());
            Assert.Null(granted["resourceSubscriptions"]);
            Assert.Null(granted["promptsListChanged"]);
        }

        Volatile.Write(ref listChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Assert.Equal("added", Text(await harness.Client.CallToolAsync("modern__add_tool").AsTask().WaitAsync(Guard)));
        await listChanged!.Task.WaitAsync(Guard);
        await stopListening.CancelAsync();
        if (listening is not null)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listening.WaitAsync(Guard));
        }

        Assert.Contains("modern__late", (await harness.Client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name));

        // An unknown resource is -32002 in the session revisions and invalid params in the stateless one.
        var missing = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => harness.Client.ReadResourceAsync("demo://missing").AsTask().WaitAsync(Guard));
        Assert.Equal(hostRevision == "2026-07-28" ? ModelContextProtocol.McpErrorCode.InvalidParams : ModelContextProtocol.McpErrorCode.ResourceNotFound, missing.ErrorCode);
        Assert.Contains("demo://missing", missing.Message, StringComparison.Ordinal);
        Assert.Equal("demo://missing", missing.Data["uri"]?.ToString());
    }

    [NodeTheory]
    [MemberData(nameof(HostRevisions))]
    public async Task A_question_asked_while_a_prompt_is_written_or_a_resource_read_reaches_the_host_that_asked(string hostRevision)
    {
        var asked = new List<string>();
        var options = new McpClientOptions
        {
            ProtocolVersion = hostRevision,
            Capabilities = new ClientCapabilities { Elicitation = new ElicitationCapability { Form = new FormElicitationCapability() } },
            Handlers = new McpClientHandlers
            {
                ElicitationHandler = (request, _) =>
                {
                    lock (asked)
                    {
                        asked.Add(request!.Message);
                    }

                    return ValueTask.FromResult(new ElicitResult { Action = "accept", Content = new Dictionary<string, JsonElement> { ["confirm"] = JsonSerializer.SerializeToElement(true) } });
                },
            },
        };
        await using var harness = await StartAsync(modernOnly: true, options);

        // A session host is asked by a request of its session; a stateless host by the gateway's input_required round.
        var prompt = await harness.Client.GetPromptAsync("modern__confirm_prompt", new Dictionary<string, object?> { ["topic"] = "tests" }).AsTask().WaitAsync(Guard);
        Assert.Equal("prompt: tests", Assert.IsType<TextContentBlock>(Assert.Single(prompt.Messages).Content).Text);

        var read = await harness.Client.ReadResourceAsync("steward://confirm").AsTask().WaitAsync(Guard);
        Assert.Equal("read: confirmed", Assert.IsType<TextResourceContents>(Assert.Single(read.Contents)).Text);
        lock (asked)
        {
            Assert.Equal(["Go ahead with the prompt about tests?", "Go ahead with reading it?"], asked);
        }
    }

    /// <summary>
    /// A resource of a stateless upstream, which has no <c>resources/subscribe</c>: a session host subscribes as its
    /// revision does, a stateless host on its listen stream, and the gateway watches the resource on its own listen
    /// stream to the upstream; the upstream's update reaches each host as its revision takes it.
    /// </summary>
    [NodeTheory]
    [MemberData(nameof(HostRevisions))]
    public async Task A_resource_of_a_stateless_upstream_is_subscribed_to_by_hosts_of_either_kind(string hostRevision)
    {
        const string Watched = "steward://watched";
        var acknowledged = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var updated = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stateless = hostRevision == "2026-07-28";
        var options = new McpClientOptions
        {
            ProtocolVersion = hostRevision,
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
                        // A stateless host takes the update of its listen stream (tagged); over stdio it also gets the session broadcast.
                        if (!stateless || n.Params?["_meta"]?[SubscriptionId] is not null)
                        {
                            updated.TrySetResult(n.Params?.DeepClone());
                        }

                        return ValueTask.CompletedTask;
                    }),
                ],
            },
        };
        await using var harness = await StartAsync(modernOnly: true, options);

        using var stop = new CancellationTokenSource();
        Task? listening = null;
        string? subscription = null;
        if (stateless)
        {
            listening = harness.Client.SendRequestAsync<SubscriptionsListenRequestParams, EmptyResult>(RequestMethods.SubscriptionsListen,
                new SubscriptionsListenRequestParams { Notifications = new SubscriptionsListenNotifications { ResourceSubscriptions = [Watched, "demo://a"] } },
                cancellationToken: stop.Token).AsTask();
            var ack = (await acknowledged.Task.WaitAsync(Guard))!;
            Assert.Equal([Watched], ack["notifications"]!["resourceSubscriptions"]!.AsArray().Select(u => u!.GetValue<string>()));
            subscription = ack["_meta"]![SubscriptionId]!.ToJsonString();
        }
        else
        {
            await harness.Client.SubscribeToResourceAsync(Watched).WaitAsync(Guard);
        }

        // The gateway opens its listen stream to the upstream again with the resource, and nothing tells a host when the
        // upstream has taken it: the tool is touched until an update comes.
        using (var guard = new CancellationTokenSource(Guard))
        {
            while (!updated.Task.IsCompleted)
            {
                Assert.Equal("touched", Text(await harness.Client.CallToolAsync("modern__touch").AsTask().WaitAsync(Guard)));
                await Task.WhenAny(updated.Task, Task.Delay(200, guard.Token));
            }
        }

        var update = (await updated.Task)!;
        Assert.Equal(Watched, update["uri"]!.GetValue<string>());
        if (stateless)
        {
            Assert.Equal(subscription, update["_meta"]![SubscriptionId]!.ToJsonString());
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listening!.WaitAsync(Guard));
        }
        else
        {
            // Not the id of the gateway's stream to the upstream: that names nothing of the host's.
            Assert.Null(update["_meta"]?[SubscriptionId]);
            await harness.Client.UnsubscribeFromResourceAsync(Watched).WaitAsync(Guard);
        }
    }

    private const string SubscriptionId = "io.modelcontextprotocol/subscriptionId";

    private static Task<GatewayHarness> StartAsync(bool modernOnly, McpClientOptions options)
    {
        var directory = GatewayHarness.TempDirectory();
        var entry = Shims.Entry("uvx", ["modern-test==1.0.0"], Path.Combine(directory, "uvx.argv"));
        entry = entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", NodePackages.ModernServerScript), new("MODERN_ONLY", modernOnly ? "1" : "0")] };
        return GatewayHarness.StartAsync(Fixtures.Config(("modern", entry)), Fixtures.Policy([Fixtures.Pypi("modern", "modern-test", "1.0.0")]),
            clientOptions: options, directory: directory);
    }

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text));
}
