using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// A loopback stand-in for the OpenAI chat-completions API (<c>POST /v1/chat/completions</c>, streamed or not), the one
/// part of a GitHub Copilot CLI session in its bring-your-own-key mode that cannot exist here. It records the tools each
/// request offers and the tool results it carries, and answers as a model would: one call of the offered tool whose
/// name ends with <see cref="ToolSuffix"/> until a tool result comes back, then <see cref="Answer"/>. Faithful to the
/// wire format Copilot reads: <c>chat.completion</c>, or <c>chat.completion.chunk</c> events (the role, the tool call's
/// id and name, its arguments in two pieces, the finish reason, then the usage when <c>stream_options.include_usage</c>
/// asks for it) ending with <c>data: [DONE]</c>.
/// </summary>
internal sealed class FakeOpenAi : IAsyncDisposable
{
    public const string ToolSuffix = "-echo";
    public const string Message = "hello from the model";
    public const string Answer = "done: the echo came back";

    private readonly LoopbackHttpServer server;

    public FakeOpenAi() => server = new LoopbackHttpServer(AnswerAsync);

    /// <summary>The API base (…/v1), as <c>COPILOT_PROVIDER_BASE_URL</c> takes it.</summary>
    public string Url => server.Url + "/v1";

    /// <summary>Each request: its path, the tool names offered, and the text of every tool result it carries.</summary>
    public ConcurrentQueue<(string Path, IReadOnlyList<string> Tools, IReadOnlyList<string> ToolResults)> Requests { get; } = new();

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var text = await reader.ReadToEndAsync();
        var body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject ?? [] : [];
        var path = context.Request.Url?.AbsolutePath ?? "";
        var tools = (body["tools"] as JsonArray ?? []).Select(t => (string?)t?["function"]?["name"]).OfType<string>().ToList();
        var results = (body["messages"] as JsonArray ?? [])
            .Where(m => (string?)m?["role"] == "tool")
            .Select(m => m!["content"] is JsonArray parts ? string.Concat(parts.Select(p => (string?)p?["text"])) : (string?)m["content"] ?? "")
            .ToList();
        Requests.Enqueue((path, tools, results));
        var response = context.Response;
        try
        {
            if (context.Request.HttpMethod != "POST" || !path.EndsWith("/chat/completions", StringComparison.Ordinal))
            {
                response.StatusCode = 404;
                return;
            }

            var tool = tools.FirstOrDefault(t => t.EndsWith(ToolSuffix, StringComparison.Ordinal));
            var callTool = tool is not null && results.Count == 0;
            var model = (string?)body["model"] ?? "gpt-test";
            var arguments = JsonSerializer.Serialize(new Dictionary<string, string> { ["message"] = Message });
            var finish = callTool ? "tool_calls" : "stop";
            JsonObject Usage() => new() { ["prompt_tokens"] = 1, ["completion_tokens"] = 1, ["total_tokens"] = 2 };
            if ((bool?)body["stream"] != true)
            {
                var message = callTool
                    ? new JsonObject
                    {
                        ["role"] = "assistant", ["content"] = null,
                        ["tool_calls"] = new JsonArray(new JsonObject { ["id"] = "call_01", ["type"] = "function", ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = arguments } }),
                    }
                    : new JsonObject { ["role"] = "assistant", ["content"] = Answer };
                var completion = new JsonObject
                {
                    ["id"] = "chatcmpl-01", ["object"] = "chat.completion", ["created"] = 1, ["model"] = model,
                    ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = finish }),
                    ["usage"] = Usage(),
                };
                var json = Encoding.UTF8.GetBytes(completion.ToJsonString());
                response.ContentType = "application/json";
                response.ContentLength64 = json.Length;
                await response.OutputStream.WriteAsync(json);
                return;
            }

            response.ContentType = "text/event-stream";
            response.SendChunked = true;
            async Task Chunk(JsonObject? delta, string? finishReason, JsonObject? usage = null)
            {
                var chunk = new JsonObject
                {
                    ["id"] = "chatcmpl-01", ["object"] = "chat.completion.chunk", ["created"] = 1, ["model"] = model,
                    ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
                };
                if (usage is not null)
                {
                    chunk["usage"] = usage;
                }

                await response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes($"data: {chunk.ToJsonString()}\n\n"));
            }

            if (callTool)
            {
                await Chunk(new JsonObject { ["role"] = "assistant", ["content"] = null }, null);
                await Chunk(new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = 0, ["id"] = "call_01", ["type"] = "function", ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = "" } }) }, null);
                foreach (var piece in new[] { arguments[..(arguments.Length / 2)], arguments[(arguments.Length / 2)..] })
                {
                    await Chunk(new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = 0, ["function"] = new JsonObject { ["arguments"] = piece } }) }, null);
                }
            }
            else
            {
                await Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);
                await Chunk(new JsonObject { ["content"] = Answer }, null);
            }

            await Chunk([], finish);
            if ((bool?)body["stream_options"]?["include_usage"] == true)
            {
                await Chunk(null, null, Usage());
            }

            await response.OutputStream.WriteAsync("data: [DONE]\n\n"u8.ToArray());
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
