using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// A loopback stand-in for the Anthropic Messages API (<c>POST /v1/messages</c>, streamed or not), the one part of a
/// Claude Code session that cannot exist here. It records the tools each request offers and the tool results it
/// carries, and answers as a model would: one call of the offered tool whose name ends with <see cref="ToolSuffix"/>
/// until a tool result comes back, then a short text. Faithful to the wire format Claude Code reads (SSE events
/// message_start, content_block_start/delta/stop, message_delta, message_stop).
/// </summary>
internal sealed class FakeAnthropic : IAsyncDisposable
{
    public const string ToolSuffix = "__echo";
    public const string Message = "hello from the model";

    private readonly LoopbackHttpServer server;

    public FakeAnthropic() => server = new LoopbackHttpServer(AnswerAsync);

    public string Url => server.Url;

    /// <summary>Each request: the tool names offered, and the text of every tool result it carries.</summary>
    public ConcurrentQueue<(IReadOnlyList<string> Tools, IReadOnlyList<string> ToolResults)> Requests { get; } = new();

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var text = await reader.ReadToEndAsync();
        var body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject ?? [] : [];
        var tools = (body["tools"] as JsonArray ?? []).Select(t => (string?)t?["name"]).OfType<string>().ToList();
        var results = (body["messages"] as JsonArray ?? [])
            .SelectMany(m => m?["content"] as JsonArray ?? [])
            .Where(c => (string?)c?["type"] == "tool_result")
            .Select(c => c!["content"] is JsonArray parts ? string.Concat(parts.Select(p => (string?)p?["text"])) : (string?)c["content"] ?? "")
            .ToList();
        Requests.Enqueue((tools, results));
        var tool = tools.FirstOrDefault(t => t.EndsWith(ToolSuffix, StringComparison.Ordinal));
        var callTool = tool is not null && results.Count == 0;
        var model = (string?)body["model"] ?? "claude-test";
        var stop = callTool ? "tool_use" : "end_turn";
        JsonObject block = callTool
            ? new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_01", ["name"] = tool, ["input"] = new JsonObject { ["message"] = Message } }
            : new JsonObject { ["type"] = "text", ["text"] = "done" };
        JsonObject Envelope(JsonArray content, string? stopReason) => new()
        {
            ["id"] = "msg_01", ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = content,
            ["stop_reason"] = stopReason, ["stop_sequence"] = null, ["usage"] = new JsonObject { ["input_tokens"] = 1, ["output_tokens"] = 1 },
        };

        var response = context.Response;
        try
        {
            if ((bool?)body["stream"] != true)
            {
                var json = Encoding.UTF8.GetBytes(Envelope([block.DeepClone()], stop).ToJsonString());
                response.ContentType = "application/json";
                response.ContentLength64 = json.Length;
                await response.OutputStream.WriteAsync(json);
                return;
            }

            response.ContentType = "text/event-stream";
            response.SendChunked = true;
            async Task Event(string type, JsonObject data)
            {
                data["type"] = type;
                await response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes($"event: {type}\ndata: {data.ToJsonString()}\n\n"));
            }

            await Event("message_start", new JsonObject { ["message"] = Envelope([], null) });
            if (callTool)
            {
                await Event("content_block_start", new JsonObject { ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_01", ["name"] = tool, ["input"] = new JsonObject() } });
                await Event("content_block_delta", new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = JsonSerializer.Serialize(new Dictionary<string, string> { ["message"] = Message }) } });
            }
            else
            {
                await Event("content_block_start", new JsonObject { ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
                await Event("content_block_delta", new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = "done" } });
            }

            await Event("content_block_stop", new JsonObject { ["index"] = 0 });
            await Event("message_delta", new JsonObject { ["delta"] = new JsonObject { ["stop_reason"] = stop, ["stop_sequence"] = null }, ["usage"] = new JsonObject { ["output_tokens"] = 1 } });
            await Event("message_stop", []);
        }
        catch (Exception e) when (e is HttpListenerException or IOException)
        {
            // The host went away mid-answer.
        }
        finally
        {
            response.Close();
        }
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
