using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

// Logging is what these tests are about; MCP9005 flags its deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// Logging for a host of the stateless revision: it has no <c>logging/setLevel</c>; each request names the least level
/// it wants in its <c>_meta</c> (<c>io.modelcontextprotocol/logLevel</c>), and gets the upstream's messages about that
/// request at that level or above, on the request's own stream, and nothing when it names none. The upstream is the
/// conformance server (a session-revision server) and its test_tool_with_logging, which logs three info messages.
/// </summary>
public sealed class StatelessLoggingTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [NodeTheory]
    [InlineData("debug", 3)]
    [InlineData("info", 3)]
    [InlineData("error", 0)]
    [InlineData(null, 0)]
    public async Task A_stateless_host_gets_the_log_messages_of_its_call_at_the_level_its_request_asks(string? level, int expected)
    {
        var logged = new ConcurrentQueue<JsonNode?>();
        var options = new McpClientOptions
        {
            ProtocolVersion = "2026-07-28",
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new(NotificationMethods.LoggingMessageNotification, (n, _) =>
                {
                    if (n.Params?["logger"]?.GetValue<string>() != "steward")
                    {
                        logged.Enqueue(n.Params);
                    }

                    return ValueTask.CompletedTask;
                })],
            },
        };
        var directory = GatewayHarness.TempDirectory();
        var entry = Shims.Entry("uvx", ["conformance-test==1.0.0"], Path.Combine(directory, "uvx.argv"));
        entry = entry with { Env = [.. entry.Env ?? [], new("STEWARD_SHIM_SCRIPT", NodePackages.ConformanceServerScript)] };
        // The C# SDK's client sends no log level of its own: the host's tools/call requests get it on the wire.
        await using var harness = await GatewayHarness.StartAsync(Fixtures.Config(("conformance", entry)), Fixtures.Policy([Fixtures.Pypi("conformance", "conformance-test", "1.0.0")]),
            clientOptions: options, directory: directory, hostTransport: inner => new LogLevelTransport(inner, level));
        Assert.Equal("2026-07-28", harness.Client.NegotiatedProtocolVersion);

        var result = await harness.Client.CallToolAsync("conformance__test_tool_with_logging").AsTask().WaitAsync(Guard);
        Assert.Null(result.IsError);

        // The messages come before the answer on the same stream: by now every one that was sent has been handled.
        Assert.Equal(expected, logged.Count);
        Assert.All(logged, m =>
        {
            Assert.Equal("info", m!["level"]!.GetValue<string>());
            Assert.StartsWith("conformance", m["logger"]!.GetValue<string>(), StringComparison.Ordinal);
        });
    }
}

/// <summary>A host's transport that puts a log level in the <c>_meta</c> of each <c>tools/call</c> it sends, as a host of the stateless revision does to ask for log messages.</summary>
internal sealed class LogLevelTransport(IClientTransport inner, string? level) : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) => new Session(await inner.ConnectAsync(cancellationToken), level);

    private sealed class Session(ITransport inner, string? level) : ITransport
    {
        public string? SessionId => inner.SessionId;

        public System.Threading.Channels.ChannelReader<JsonRpcMessage> MessageReader => inner.MessageReader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
        {
            if (level is not null && message is JsonRpcRequest { Method: RequestMethods.ToolsCall, Params: JsonObject parameters } && parameters["_meta"] is JsonObject meta)
            {
                meta["io.modelcontextprotocol/logLevel"] = level;
            }

            return inner.SendMessageAsync(message, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
