using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Tests.Models;

/// <summary>One request the fake upstream received.</summary>
internal sealed record UpstreamRequest(string Path, string? Authorization, string? ApiKey, string? AnthropicVersion, byte[] Body)
{
    public string Model => JsonNode.Parse(Body)!["model"]!.GetValue<string>();
}

/// <summary>
/// A model provider on a real Kestrel at 127.0.0.1 that speaks both wire formats: OpenAI's <c>POST /v1/chat/completions</c>
/// (JSON, or SSE <c>data: {...}</c> chunks ending with <c>data: [DONE]</c>) and Anthropic's <c>POST /v1/messages</c>
/// (JSON, or SSE <c>event: message_start</c> … <c>message_stop</c>). Every chunk is flushed on its own; what was sent is
/// recorded byte for byte, so a test can compare it with what reached the client through Steward.
/// </summary>
internal sealed class FakeModelUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeModelUpstream(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>The base URL to configure as an upstream: <c>http://127.0.0.1:port/v1</c>.</summary>
    public string ApiBase => BaseUrl.GetLeftPart(UriPartial.Authority) + "/v1";

    public ConcurrentQueue<UpstreamRequest> Requests { get; } = new();

    /// <summary>The bytes of each response body, by request number (1-based, in arrival order).</summary>
    public ConcurrentDictionary<int, byte[]> Sent { get; } = new();

    /// <summary>Completed when a streamed response noticed its client went away.</summary>
    public TaskCompletionSource ClientGone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When set, a streamed response sends its first chunk and then waits for the client to go away.</summary>
    public bool HoldStreams { get; set; }

    private int _count;

    public static async Task<FakeModelUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var upstream = new FakeModelUpstream(app);
        app.MapPost("/v1/chat/completions", context => upstream.AnswerAsync(context, anthropic: false));
        app.MapPost("/v1/messages", context => upstream.AnswerAsync(context, anthropic: true));
        app.MapPost("/v1/messages/count_tokens", async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            Interlocked.Increment(ref upstream._count);
            upstream.Requests.Enqueue(new UpstreamRequest(context.Request.Path, Header(context, "Authorization"), Header(context, "x-api-key"), Header(context, "anthropic-version"), buffer.ToArray()));
            await context.Response.WriteAsJsonAsync(new { input_tokens = 12 });
        });
        await app.StartAsync();
        upstream.BaseUrl = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return upstream;
    }

    private async Task AnswerAsync(HttpContext context, bool anthropic)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var number = Interlocked.Increment(ref _count);
        Requests.Enqueue(new UpstreamRequest(context.Request.Path, Header(context, "Authorization"), Header(context, "x-api-key"), Header(context, "anthropic-version"), body));
        var request = JsonNode.Parse(body)!.AsObject();
        var model = request["model"]!.GetValue<string>();
        var stream = request["stream"]?.GetValue<bool>() == true;
        var sent = new MemoryStream();
        context.Response.Headers["x-request-id"] = "req_" + number;
        if (!stream)
        {
            var json = anthropic
                ? $$$"""{"id":"msg_{{{number}}}","type":"message","role":"assistant","model":"{{{model}}}","content":[{"type":"text","text":"Hello from the fake upstream."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":6}}"""
                : $$$"""{"id":"chatcmpl-{{{number}}}","object":"chat.completion","created":1767225600,"model":"{{{model}}}","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}""";
            var bytes = Encoding.UTF8.GetBytes(json);
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(bytes);
            Sent[number] = bytes;
            return;
        }

        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        try
        {
            foreach (var chunk in anthropic ? AnthropicChunks(number, model) : OpenAiChunks(number, model))
            {
                var bytes = Encoding.UTF8.GetBytes(chunk);
                await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                sent.Write(bytes);
                if (HoldStreams)
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            ClientGone.TrySetResult();
        }

        Sent[number] = sent.ToArray();
    }

    public static IEnumerable<string> OpenAiChunks(int number, string model)
    {
        yield return $$"""data: {"id":"chatcmpl-{{number}}","object":"chat.completion.chunk","created":1767225600,"model":"{{model}}","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""" + "\n\n";
        foreach (var word in new[] { "Hello", " from", " the", " fake", " upstream", " — ünïcödé ✓." })
        {
            yield return $$"""data: {"id":"chatcmpl-{{number}}","object":"chat.completion.chunk","created":1767225600,"model":"{{model}}","choices":[{"index":0,"delta":{"content":{{JsonSerializer.Serialize(word)}}},"finish_reason":null}]}""" + "\n\n";
        }

        yield return $$"""data: {"id":"chatcmpl-{{number}}","object":"chat.completion.chunk","created":1767225600,"model":"{{model}}","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""" + "\n\n";
        yield return "data: [DONE]\n\n";
    }

    public static IEnumerable<string> AnthropicChunks(int number, string model)
    {
        yield return "event: message_start" + "\n" + $$$$"""data: {"type":"message_start","message":{"id":"msg_{{{{number}}}}","type":"message","role":"assistant","model":"{{{{model}}}}","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}""" + "\n\n";
        yield return "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
        yield return "event: ping\ndata: {\"type\": \"ping\"}\n\n";
        foreach (var word in new[] { "Hello", " from", " the", " fake", " upstream", " — ünïcödé ✓." })
        {
            yield return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":" + JsonSerializer.Serialize(word) + "}}\n\n";
        }

        yield return "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
        yield return "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":6}}\n\n";
        yield return "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    }

    private static string? Header(HttpContext context, string name) => context.Request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
