using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// A loopback stand-in for the Gemini API (<c>POST /v1beta/models/{model}:generateContent</c> and
/// <c>:streamGenerateContent?alt=sse</c>), the one part of a Gemini CLI session that cannot exist here. It records the
/// function declarations each request offers and the function responses it carries, and answers as a model would: one
/// call of the offered function whose name ends with <see cref="ToolSuffix"/> until a response comes back, then text.
/// </summary>
internal sealed class FakeGemini : IAsyncDisposable
{
    public const string ToolSuffix = "_echo";
    public const string Message = "hello from the model";

    private readonly LoopbackHttpServer server;

    public FakeGemini() => server = new LoopbackHttpServer(AnswerAsync);

    public string Url => server.Url;

    /// <summary>Each request: the function names offered, and each function response it carries (as JSON text).</summary>
    public ConcurrentQueue<(IReadOnlyList<string> Tools, IReadOnlyList<string> Responses)> Requests { get; } = new();

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var text = await reader.ReadToEndAsync();
        var body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject ?? [] : [];
        var tools = (body["tools"] as JsonArray ?? []).SelectMany(t => t?["functionDeclarations"] as JsonArray ?? []).Select(f => (string?)f?["name"]).OfType<string>().ToList();
        var responses = (body["contents"] as JsonArray ?? []).SelectMany(c => c?["parts"] as JsonArray ?? [])
            .Select(p => p?["functionResponse"]).OfType<JsonNode>().Select(r => r.ToJsonString()).ToList();
        Requests.Enqueue((tools, responses));
        var tool = tools.FirstOrDefault(t => t.EndsWith(ToolSuffix, StringComparison.Ordinal));
        // Gemini CLI's own JSON side requests (its model router's classifier) get the shape they ask for.
        var wantsJson = (string?)body["generationConfig"]?["responseMimeType"] == "application/json";
        JsonObject part = wantsJson
            ? new JsonObject { ["text"] = """{"reasoning": "a loopback stand-in", "model_choice": "flash", "complexity_reasoning": "simple", "complexity_score": 1}""" }
            : tool is not null && responses.Count == 0
                ? new JsonObject { ["functionCall"] = new JsonObject { ["name"] = tool, ["args"] = new JsonObject { ["message"] = Message } } }
                : new JsonObject { ["text"] = "done" };
        var answer = new JsonObject
        {
            ["candidates"] = new JsonArray(new JsonObject { ["content"] = new JsonObject { ["role"] = "model", ["parts"] = new JsonArray(part) }, ["finishReason"] = "STOP", ["index"] = 0 }),
            ["usageMetadata"] = new JsonObject { ["promptTokenCount"] = 1, ["candidatesTokenCount"] = 1, ["totalTokenCount"] = 2 },
        }.ToJsonString();
        var response = context.Response;
        try
        {
            var streamed = context.Request.Url?.Query.Contains("alt=sse", StringComparison.Ordinal) == true;
            var bytes = Encoding.UTF8.GetBytes(streamed ? $"data: {answer}\r\n\r\n" : answer);
            response.ContentType = streamed ? "text/event-stream" : "application/json";
            response.ContentLength64 = bytes.Length;
            await response.OutputStream.WriteAsync(bytes);
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
