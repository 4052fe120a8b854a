using System.Text;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Steward.Agent.Gateway;

#pragma warning disable MCP9005 // logging is a current feature of the revisions the gateway speaks

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// Flow control from a local upstream to the hosts (<see cref="MessageWindow"/>): the gateway reads an upstream's stdout
/// only as fast as it hands the messages on, so a burst of notifications is relayed whole, in the order sent, and never
/// queues up in the gateway.
/// </summary>
public sealed class BackpressureTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_line_past_a_full_window_waits_until_a_handled_message_gives_its_place_back()
    {
        var text = "{\"n\":1}\n{\"n\":2}\nnot json, as a server's stray console output\n{\"n\":3}\n";
        var window = new MessageWindow(2);
        await using var stream = new BoundedLineStream(new MemoryStream(Encoding.UTF8.GetBytes(text)), 1024, "test", (_, _) => { }, window);
        var buffer = new byte[1024];

        Assert.Equal("{\"n\":1}\n", Encoding.UTF8.GetString(buffer, 0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Guard)));
        Assert.Equal("{\"n\":2}\n", Encoding.UTF8.GetString(buffer, 0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Guard)));
        // A line that is not a JSON object is no message: it passes without a place (the SDK's reader drops it).
        Assert.StartsWith("not json", Encoding.UTF8.GetString(buffer, 0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Guard)), StringComparison.Ordinal);

        // The window is full: the third message waits (far less than MessageWindow.Patience here) ...
        var third = stream.ReadAsync(buffer).AsTask();
        await Task.Delay(200);
        Assert.False(third.IsCompleted, "a line was passed on past a full window");

        // ... until a message is handled and gives its place back.
        window.Leave();
        Assert.Equal("{\"n\":3}\n", Encoding.UTF8.GetString(buffer, 0, await third.WaitAsync(Guard)));
        Assert.Equal(0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Guard));
    }

    [NodeFact]
    public async Task A_burst_of_log_notifications_reaches_the_host_whole()
    {
        const int Count = 5_000;
        var directory = GatewayHarness.TempDirectory();
        var entry = Shims.Entry("uvx", ["flood-server==1.0.0"], Path.Combine(directory, "flood.argv"));
        entry = entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", NodePackages.FloodScript)] };
        var received = new List<string>();
        // Logging with logging/setLevel: a feature of the session revisions.
        var options = new McpClientOptions
        {
            ProtocolVersion = "2025-11-25",
            Handlers = new McpClientHandlers
            {
                NotificationHandlers =
                [
                    new(NotificationMethods.LoggingMessageNotification, (notification, _) =>
                    {
                        lock (received)
                        {
                            received.Add(notification.Params!["data"]!.GetValue<string>());
                        }

                        return ValueTask.CompletedTask;
                    }),
                ],
            },
        };
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config(("flood", entry)), Fixtures.Policy([Fixtures.Pypi("flood", "flood-server", "1.0.0")]),
            server: "flood", clientOptions: options, directory: directory);
        await harness.Client.SetLoggingLevelAsync(LoggingLevel.Info);

        var result = await harness.Client.CallToolAsync("flood", new Dictionary<string, object?> { ["count"] = Count }).AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal("sent " + Count, Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        // Every one (the SDK's client runs its handlers concurrently, so they may still be running, and in any order).
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            lock (received)
            {
                if (received.Count(d => d.StartsWith("notification ", StringComparison.Ordinal)) >= Count || DateTime.UtcNow > deadline)
                {
                    Assert.Equal(Enumerable.Range(0, Count).Select(i => "notification " + i).Order(StringComparer.Ordinal),
                        received.Where(d => d.StartsWith("notification ", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
                    break;
                }
            }

            await Task.Delay(20);
        }
    }
}
