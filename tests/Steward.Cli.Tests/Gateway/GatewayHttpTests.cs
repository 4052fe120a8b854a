using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Steward.Cli.Tests.Gateway;

/// <summary>
/// <c>steward gateway --server everything --http 0</c> as a real process: the C# SDK client over streamable HTTP and the
/// MCP Inspector CLI (<c>--transport http</c>) run the checks the stdio tests run; no token or a wrong one is 401.
/// </summary>
public sealed class GatewayHttpTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    private static string Steward => Path.Combine(AppContext.BaseDirectory, "steward.dll");

    /// <summary>The gateway process, its URL (read from its stderr) and its token.</summary>
    internal sealed class Running : IAsyncDisposable
    {
        public required Process Process { get; init; }

        public required Uri Url { get; init; }

        public required string Token { get; init; }

        public required StringBuilder Stderr { get; init; }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
            }

            await Process.WaitForExitAsync();
            Process.Dispose();
        }
    }

    /// <summary><c>steward gateway --server everything --http 0</c>, server-everything launched through npx.</summary>
    internal static Task<Running> StartAsync(string? token, params string[] extra)
    {
        var (dir, policy) = GatewayCommandTests.Setup();
        return StartAsync(dir, policy, "everything", token, environment: null, extra);
    }

    /// <summary>
    /// <c>steward gateway --server &lt;server&gt; --policy &lt;policy&gt; --http 0</c> with <c>STEWARD_CONFIG_DIR</c> at
    /// <paramref name="configDir"/> (its <c>mcp.json</c>). <paramref name="environment"/> is set over the usual
    /// variables (PATH with the npm packages' binaries, npm offline); a null value removes the variable.
    /// </summary>
    internal static async Task<Running> StartAsync(string configDir, string policy, string server, string? token,
        IReadOnlyDictionary<string, string?>? environment, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = NodePackages.Root,
        };
        foreach (var arg in new[] { Steward, "gateway", "--server", server, "--policy", policy, "--http", "0" }.Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["STEWARD_CONFIG_DIR"] = configDir;
        start.Environment["PATH"] = NodePackages.PathWith();
        start.Environment["npm_config_offline"] = "true";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        if (token is not null)
        {
            start.Environment["STEWARD_GATEWAY_TOKEN"] = token;
        }
        else
        {
            start.Environment.Remove("STEWARD_GATEWAY_TOKEN");
        }

        var process = Process.Start(start)!;
        var stderr = new StringBuilder();
        string? printed = token;
        Uri? url = null;
        var deadline = Stopwatch.StartNew();
        while (url is null)
        {
            var line = await process.StandardError.ReadLineAsync().WaitAsync(Guard - deadline.Elapsed)
                       ?? throw new InvalidOperationException("the gateway exited: " + stderr);
            stderr.AppendLine(line);
            const string tokenMark = "bearer token for this run (set STEWARD_GATEWAY_TOKEN to choose it): ";
            if (line.Contains(tokenMark, StringComparison.Ordinal))
            {
                printed = line[(line.IndexOf(tokenMark, StringComparison.Ordinal) + tokenMark.Length)..].Trim();
            }

            const string listening = "listening on ";
            if (line.Contains(listening, StringComparison.Ordinal))
            {
                url = new Uri(line[(line.IndexOf(listening, StringComparison.Ordinal) + listening.Length)..].Trim());
            }
        }

        _ = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                lock (stderr)
                {
                    stderr.AppendLine(line);
                }
            }
        });
        return new Running { Process = process, Url = url, Token = printed ?? throw new InvalidOperationException("no token printed: " + stderr), Stderr = stderr };
    }

    [NodeFact]
    public async Task The_sdk_client_over_streamable_http_lists_calls_reads_gets_prompts_and_completes()
    {
        await using var gateway = await StartAsync("test-token-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(IPAddress.Loopback.ToString(), gateway.Url.Host);
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = gateway.Url,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + gateway.Token },
        })).WaitAsync(Guard);

        Assert.Equal("everything", client.ServerInfo?.Name);
        var names = (await client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name).ToList();
        Assert.Contains("echo", names);
        var echo = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "over http" }).AsTask().WaitAsync(Guard);
        Assert.Equal("Echo: over http", string.Concat(echo.Content.OfType<TextContentBlock>().Select(b => b.Text)));
        var read = await client.ReadResourceAsync("demo://resource/dynamic/text/7").AsTask().WaitAsync(Guard);
        Assert.Contains("Resource 7", string.Concat(read.Contents.OfType<TextResourceContents>().Select(c => c.Text)));
        var prompt = await client.GetPromptAsync("args-prompt", new Dictionary<string, object?> { ["city"] = "Ghent" }).AsTask().WaitAsync(Guard);
        Assert.Contains("Ghent", JsonSerializer.Serialize(prompt.Messages.Select(m => m.Content).OfType<TextContentBlock>().Select(b => b.Text)));
        var completion = await client.CompleteAsync(new PromptReference { Name = "completable-prompt" }, "department", "Eng").AsTask().WaitAsync(Guard);
        Assert.Contains("Engineering", completion.Completion.Values);

        // The same endpoint without the token, or with another one, is refused before any MCP processing.
        using var http = new HttpClient();
        using var body = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", Encoding.UTF8, "application/json");
        using var anonymous = await http.PostAsync(gateway.Url, body);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Post, gateway.Url)
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", Encoding.UTF8, "application/json"),
        };
        wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-the-token");
        using var refused = await http.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        // DNS rebinding: another name in Host or Origin is refused even with the token; loopback names are served.
        foreach (var (host, origin, status) in new (string?, string?, HttpStatusCode)[]
                 {
                     ("evil.example.com", null, HttpStatusCode.Forbidden),
                     (null, "http://evil.example.com", HttpStatusCode.Forbidden),
                     (null, "null", HttpStatusCode.Forbidden),
                     ($"localhost:{gateway.Url.Port}", "http://localhost:6274", HttpStatusCode.OK),
                 })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url)
            {
                Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""",
                    Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", gateway.Token);
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.Host = host;
            if (origin is not null)
            {
                request.Headers.Add("Origin", origin);
            }

            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.True(status == response.StatusCode, $"Host {host}, Origin {origin}: {response.StatusCode}");
        }
    }

    [NodeFact]
    public async Task Two_sessions_calling_at_once_each_get_their_own_progress_and_none_of_the_others()
    {
        await using var gateway = await StartAsync("test-token-" + Guid.NewGuid().ToString("N"));
        var options = new HttpClientTransportOptions
        {
            Endpoint = gateway.Url,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + gateway.Token },
        };
        await using var a = await McpClient.CreateAsync(new HttpClientTransport(options)).WaitAsync(Guard);
        await using var b = await McpClient.CreateAsync(new HttpClientTransport(options)).WaitAsync(Guard);

        async Task<List<double>> RunAsync(McpClient client, int steps)
        {
            var seen = new List<double>();
            var progress = new Recorder(seen);
            await client.CallToolAsync("trigger-long-running-operation", new Dictionary<string, object?> { ["duration"] = 1, ["steps"] = steps }, progress)
                .AsTask().WaitAsync(Guard);
            // The gateway sends every step before the result, but the SDK's client runs its notification handlers
            // concurrently with the rest, so the last may still be running when the result is returned.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                lock (seen)
                {
                    if (seen.Count >= steps || DateTime.UtcNow > deadline)
                    {
                        return [.. seen];
                    }
                }

                await Task.Delay(20);
            }
        }

        // Both SDK clients number their progress tokens alike; the gateway keeps them apart on the way up. Each session
        // gets its own call's progress and none of the other's: A never sees B's steps 4 and 5, nor any step twice.
        // Not asserted: that every step arrives. In some runs a session's last steps never arrive, even seconds after the
        // result (see docs/gateway.md, HTTP sessions).
        var results = await Task.WhenAll(RunAsync(a, 3), RunAsync(b, 5));
        foreach (var (progress, steps) in new[] { (results[0], 3), (results[1], 5) })
        {
            Assert.NotEmpty(progress);
            Assert.All(progress, p => Assert.InRange(p, 1, steps));
            Assert.Equal(progress.Order().Distinct(), progress.Order());
        }

        Assert.DoesNotContain(results[0], p => p > 3);
    }

    /// <summary>Records progress as it is reported, on the reporting thread (no synchronisation context in between).</summary>
    private sealed class Recorder(List<double> seen) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value)
        {
            lock (seen)
            {
                seen.Add(value.Progress);
            }
        }
    }

    [NodeFact]
    public async Task Idle_sessions_end_and_the_session_limit_ends_the_idlest_or_refuses_with_503_when_all_are_busy()
    {
        await using var gateway = await StartAsync("test-token-" + Guid.NewGuid().ToString("N"), "--session-idle", "1", "--max-sessions", "2");
        using var http = new HttpClient();

        async Task<HttpResponseMessage> PostAsync(string body, string? session)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", gateway.Token);
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            if (session is not null)
            {
                request.Headers.Add("Mcp-Session-Id", session);
            }

            return await http.SendAsync(request);
        }

        async Task<string> OpenAsync()
        {
            using var initialize = await PostAsync("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""", null);
            Assert.Equal(HttpStatusCode.OK, initialize.StatusCode);
            var id = initialize.Headers.GetValues("Mcp-Session-Id").Single();
            using var initialized = await PostAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""", id);
            Assert.Equal(HttpStatusCode.Accepted, initialized.StatusCode);
            return id;
        }

        async Task<HttpStatusCode> PingAsync(string session)
        {
            using var response = await PostAsync("""{"jsonrpc":"2.0","id":2,"method":"ping"}""", session);
            return response.StatusCode;
        }

        // A session nobody uses ends once idle past the limit: its id is then unknown (404, so a host initializes again).
        var idle = await OpenAsync();
        Assert.Equal(HttpStatusCode.OK, await PingAsync(idle));
        var clock = Stopwatch.StartNew();
        while (await PingAsync(idle) == HttpStatusCode.OK && clock.Elapsed < Guard)
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
        }

        Assert.Equal(HttpStatusCode.NotFound, await PingAsync(idle));
        Assert.Contains("ended after 1 s idle", gateway.Stderr.ToString(), StringComparison.Ordinal);

        // Two SDK clients hold their GET streams open (busy, never idle): a third session is refused with 503 and Retry-After.
        var options = new HttpClientTransportOptions
        {
            Endpoint = gateway.Url,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + gateway.Token },
        };
        // Sessions (and ping) are of the session revisions.
        var session = new McpClientOptions { ProtocolVersion = "2025-11-25" };
        await using (var first = await McpClient.CreateAsync(new HttpClientTransport(options), session).WaitAsync(Guard))
        await using (var second = await McpClient.CreateAsync(new HttpClientTransport(options), session).WaitAsync(Guard))
        {
            await first.PingAsync().AsTask().WaitAsync(Guard);
            await second.PingAsync().AsTask().WaitAsync(Guard);
            using var refused = await PostAsync("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""", null);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Contains("--max-sessions", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal("Echo: busy", string.Concat((await first.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "busy" }).AsTask().WaitAsync(Guard))
                .Content.OfType<TextContentBlock>().Select(b => b.Text)));
        }

        // With the limit reached by idle sessions, a new one ends the idlest of them.
        clock.Restart();
        string older, newer;
        do
        {
            older = await OpenAsync();
            newer = await OpenAsync();
            var third = await OpenAsync();
            Assert.Equal(HttpStatusCode.OK, await PingAsync(third));
        }
        while (await PingAsync(newer) != HttpStatusCode.OK && clock.Elapsed < Guard); // the idle limit is 1 s: on a slow machine the sweep may come first

        Assert.Equal(HttpStatusCode.NotFound, await PingAsync(older));
        Assert.Contains("ended to make room (2 sessions open, --max-sessions)", gateway.Stderr.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A host of the stateless revision 2026-07-28 over HTTP, as its requests are on the wire (no session, <c>_meta</c> on
    /// every request, <c>Mcp-Method</c> and <c>Mcp-Name</c> headers), beside a session of 2025-11-25 on the same gateway.
    /// </summary>
    [NodeFact]
    public async Task A_stateless_host_is_served_without_a_session_and_a_header_that_disagrees_with_its_body_is_refused()
    {
        await using var gateway = await StartAsync("test-token-" + Guid.NewGuid().ToString("N"));
        using var http = new HttpClient();
        const string Meta = """
            "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
                       "io.modelcontextprotocol/clientInfo": { "name": "stateless-host", "version": "1.0.0" } }
            """;

        async Task<(HttpStatusCode Status, JsonElement Body, bool Session)> PostAsync(int id, string method, string parameters, string? name, string? methodHeader = null, string revision = "2026-07-28")
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url)
            {
                Content = new StringContent($$"""{ "jsonrpc": "2.0", "id": {{id}}, "method": "{{method}}", "params": { {{parameters}} } }""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", gateway.Token);
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("text/event-stream");
            request.Headers.Add("MCP-Protocol-Version", revision);
            request.Headers.Add("Mcp-Method", methodHeader ?? method);
            if (name is not null)
            {
                request.Headers.Add("Mcp-Name", name);
            }

            using var response = await http.SendAsync(request).WaitAsync(Guard);
            var text = await response.Content.ReadAsStringAsync();
            // An answer with nothing before it is plain JSON; with notifications before it, the last event of a stream.
            var json = response.Content.Headers.ContentType?.MediaType == "text/event-stream"
                ? text.Split('\n').Last(l => l.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..]
                : text;
            return (response.StatusCode, JsonDocument.Parse(json).RootElement.Clone(), response.Headers.Contains("Mcp-Session-Id"));
        }

        var discover = await PostAsync(1, "server/discover", Meta, name: null);
        Assert.Equal(HttpStatusCode.OK, discover.Status);
        Assert.False(discover.Session);
        Assert.Contains("2026-07-28", discover.Body.GetProperty("result").GetProperty("supportedVersions").EnumerateArray().Select(v => v.GetString()));

        var listed = await PostAsync(2, "tools/list", Meta, name: null);
        Assert.Contains("echo", listed.Body.GetProperty("result").GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString()));

        var called = await PostAsync(3, "tools/call", $$"""{{Meta}}, "name": "echo", "arguments": { "message": "stateless" }""", name: "echo");
        Assert.Equal(HttpStatusCode.OK, called.Status);
        var result = called.Body.GetProperty("result");
        Assert.Equal("complete", result.GetProperty("resultType").GetString());
        Assert.Contains("stateless", result.GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);

        // The gateway applies policy to the tool the body names: a header naming another is refused, not trusted.
        var mismatch = await PostAsync(4, "tools/call", $$"""{{Meta}}, "name": "echo", "arguments": { "message": "x" }""", name: "get-env");
        Assert.Equal(HttpStatusCode.BadRequest, mismatch.Status);
        Assert.Equal(4, mismatch.Body.GetProperty("id").GetInt32());
        Assert.Equal(-32020, mismatch.Body.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("Mcp-Name header 'get-env' differs from the body's params.name 'echo'", mismatch.Body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var wrongMethod = await PostAsync(5, "tools/list", Meta, name: null, methodHeader: "prompts/list");
        Assert.Equal((HttpStatusCode.BadRequest, -32020), (wrongMethod.Status, wrongMethod.Body.GetProperty("error").GetProperty("code").GetInt32()));

        var noMeta = await PostAsync(6, "tools/list", "", name: null);
        Assert.Equal((HttpStatusCode.BadRequest, -32602), (noMeta.Status, noMeta.Body.GetProperty("error").GetProperty("code").GetInt32()));

        var removed = await PostAsync(7, "ping", Meta, name: null);
        Assert.Equal((HttpStatusCode.NotFound, -32601), (removed.Status, removed.Body.GetProperty("error").GetProperty("code").GetInt32()));

        var unknownRevision = await PostAsync(8, "tools/list", Meta, name: null, revision: "2099-01-01");
        Assert.Equal((HttpStatusCode.BadRequest, -32022), (unknownRevision.Status, unknownRevision.Body.GetProperty("error").GetProperty("code").GetInt32()));

        // A session of the 2025-11-25 revision on the same gateway at the same time.
        await using var legacy = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = gateway.Url,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + gateway.Token },
        }), new McpClientOptions { ProtocolVersion = "2025-11-25" }).WaitAsync(Guard);
        Assert.Equal("2025-11-25", legacy.NegotiatedProtocolVersion);
        var echoed = await legacy.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "session" }).AsTask().WaitAsync(Guard);
        Assert.Contains("session", string.Concat(echoed.Content.OfType<TextContentBlock>().Select(c => c.Text)), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(9, "tools/list", Meta, name: null)).Status);
    }

    /// <summary>
    /// On the wire, without an SDK client: every progress step of a call is an event on that call's own POST stream,
    /// in order, before the result, for a session of 2025-11-25 and for a stateless host alike, call after call. (A C#
    /// SDK host sometimes reports fewer steps: see docs/gateway.md.)
    /// </summary>
    [NodeFact]
    public async Task Every_progress_step_of_a_call_is_on_its_post_stream_in_order_before_the_result()
    {
        await using var gateway = await StartAsync("test-token-" + Guid.NewGuid().ToString("N"));
        using var http = new HttpClient();
        const string Meta = """
            "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "wire-host", "version": "1.0.0" }
            """;

        // The messages of one POST's answer, in the order they came: the events of a stream, or the one JSON body.
        async Task<(List<JsonElement> Messages, string? Session)> PostAsync(string body, string revision, string? session, string? method = null, string? name = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", gateway.Token);
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("text/event-stream");
            request.Headers.Add("MCP-Protocol-Version", revision);
            if (session is not null)
            {
                request.Headers.Add("Mcp-Session-Id", session);
            }

            if (method is not null)
            {
                request.Headers.Add("Mcp-Method", method);
            }

            if (name is not null)
            {
                request.Headers.Add("Mcp-Name", name);
            }

            using var response = await http.SendAsync(request).WaitAsync(Guard);
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            var text = await response.Content.ReadAsStringAsync().WaitAsync(Guard);
            var messages = response.Content.Headers.ContentType?.MediaType == "text/event-stream"
                ? text.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l["data: ".Length..]).RootElement.Clone()).ToList()
                : text.Length == 0 ? [] : [JsonDocument.Parse(text).RootElement.Clone()];
            return (messages, response.Headers.TryGetValues("Mcp-Session-Id", out var ids) ? ids.First() : null);
        }

        static void AssertStepsThenResult(List<JsonElement> messages, int id, string token)
        {
            var progress = messages.TakeWhile(m => !m.TryGetProperty("id", out _)).Where(m => m.GetProperty("method").GetString() == "notifications/progress").ToList();
            Assert.Equal([1, 2, 3, 4, 5], progress.Select(p => (int)p.GetProperty("params").GetProperty("progress").GetDouble()));
            Assert.All(progress, p => Assert.Equal(token, p.GetProperty("params").GetProperty("progressToken").GetString()));
            Assert.Equal(id, messages[^1].GetProperty("id").GetInt32());
            Assert.Contains("Long running operation completed", messages[^1].GetProperty("result").GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        }

        var (initialized, session) = await PostAsync("""
            { "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "wire-session", "version": "1.0.0" } } }
            """, "2025-11-25", null);
        Assert.Equal("2025-11-25", initialized[^1].GetProperty("result").GetProperty("protocolVersion").GetString());
        Assert.NotNull(session);
        await PostAsync("""{ "jsonrpc": "2.0", "method": "notifications/initialized" }""", "2025-11-25", session);

        for (var round = 0; round < 5; round++)
        {
            var id = 10 + round;
            var sessionCall = await PostAsync($$"""
                { "jsonrpc": "2.0", "id": {{id}}, "method": "tools/call", "params": { "name": "trigger-long-running-operation", "arguments": { "duration": 0.5, "steps": 5 }, "_meta": { "progressToken": "s{{round}}" } } }
                """, "2025-11-25", session);
            AssertStepsThenResult(sessionCall.Messages, id, "s" + round);

            var statelessCall = await PostAsync($$"""
                { "jsonrpc": "2.0", "id": {{id}}, "method": "tools/call", "params": { "name": "trigger-long-running-operation", "arguments": { "duration": 0.5, "steps": 5 }, "_meta": { "progressToken": "w{{round}}", {{Meta}} } } }
                """, "2026-07-28", null, method: "tools/call", name: "trigger-long-running-operation");
            AssertStepsThenResult(statelessCall.Messages, id, "w" + round);
        }
    }

    [NodeFact]
    public async Task A_stateless_hosts_listen_stream_gets_the_list_changes_of_a_policy_change_on_its_own_post()
    {
        var (dir, policy) = GatewayCommandTests.Setup();
        await using var gateway = await StartAsync(dir, policy, "everything", "test-token-" + Guid.NewGuid().ToString("N"), environment: null);
        var acknowledged = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var changed = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = gateway.Url,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + gateway.Token },
        }), new McpClientOptions
        {
            ProtocolVersion = "2026-07-28",
            Handlers = new McpClientHandlers
            {
                NotificationHandlers =
                [
                    new(NotificationMethods.SubscriptionsAcknowledgedNotification, (n, _) => { acknowledged.TrySetResult(n.Params); return ValueTask.CompletedTask; }),
                    new(NotificationMethods.ToolListChangedNotification, (n, _) => { changed.TrySetResult(n.Params); return ValueTask.CompletedTask; }),
                ],
            },
        }).WaitAsync(Guard);
        Assert.Equal("2026-07-28", client.NegotiatedProtocolVersion);
        Assert.Contains("echo", (await client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name));

        using var stop = new CancellationTokenSource();
        var listening = client.SendRequestAsync<SubscriptionsListenRequestParams, EmptyResult>(RequestMethods.SubscriptionsListen,
            new SubscriptionsListenRequestParams { Notifications = new SubscriptionsListenNotifications { ToolsListChanged = true } }, cancellationToken: stop.Token).AsTask();
        var ack = await acknowledged.Task.WaitAsync(Guard);
        Assert.True(ack!["notifications"]!["toolsListChanged"]!.GetValue<bool>());
        var subscription = ack["_meta"]!["io.modelcontextprotocol/subscriptionId"]!.ToJsonString();

        // The administrator's decision reaches the running gateway (here its policy file), and the listener hears of it.
        const string Deny = """ "toolRules": [ { "pattern": "everything/echo", "effect": "deny" } ]""";
        File.WriteAllText(policy, File.ReadAllText(policy).Replace("\"toolRules\": []", Deny.Trim(), StringComparison.Ordinal));
        var change = await changed.Task.WaitAsync(Guard);
        Assert.Equal(subscription, change!["_meta"]!["io.modelcontextprotocol/subscriptionId"]!.ToJsonString());
        Assert.DoesNotContain("echo", (await client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name));
        Assert.False(listening.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listening.WaitAsync(Guard));
    }

    [NodeFact]
    public async Task Stateless_requests_in_flight_are_bounded_by_max_sessions_and_the_one_past_the_bound_is_refused_with_its_id()
    {
        var (dir, policy) = GatewayCommandTests.Setup();
        await using var gateway = await StartAsync(dir, policy, "everything", "test-token-" + Guid.NewGuid().ToString("N"), environment: null, "--max-sessions", "1");
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        HttpRequestMessage Post(int id, string method)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url)
            {
                Content = new StringContent($$"""
                    { "jsonrpc": "2.0", "id": {{id}}, "method": "{{method}}", "params": { "notifications": { "toolsListChanged": true },
                      "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
                                 "io.modelcontextprotocol/clientInfo": { "name": "stateless-host", "version": "1.0.0" } } } }
                    """, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", gateway.Token);
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("text/event-stream");
            request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
            request.Headers.Add("Mcp-Method", method);
            return request;
        }

        // Four listen streams (the bound for one session) stay open on their POSTs.
        var open = new List<HttpResponseMessage>();
        for (var id = 1; id <= 4; id++)
        {
            var response = await http.SendAsync(Post(id, "subscriptions/listen"), HttpCompletionOption.ResponseHeadersRead).WaitAsync(Guard);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            open.Add(response);
        }

        using (var refused = await http.SendAsync(Post(5, "tools/list")).WaitAsync(Guard))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.Contains("Retry-After"));
            var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(5, body.GetProperty("id").GetInt32());
            Assert.Contains("--max-sessions", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // One stream closed by its host makes room again.
        open[0].Dispose();
        var deadline = DateTime.UtcNow + Guard;
        HttpStatusCode status;
        do
        {
            using var again = await http.SendAsync(Post(6, "tools/list")).WaitAsync(Guard);
            status = again.StatusCode;
        }
        while (status == HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < deadline && await Task.Delay(100).ContinueWith(_ => true));
        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var response in open.Skip(1))
        {
            response.Dispose();
        }
    }

#pragma warning disable MCP9005 // sampling is a current feature of the 2025-11-25 revision the gateway speaks
    [NodeFact]
    public async Task A_sampling_request_goes_only_to_the_session_whose_call_caused_it_and_is_held_to_that_sessions_capabilities()
    {
        await using var gateway = await StartAsync("test-token-" + Guid.NewGuid().ToString("N"));

        async Task<McpClient> ConnectAsync(string name, List<string>? sampled, Func<Task>? beforeAnswer = null)
        {
            // Sessions of a session revision: each is one host with its own capabilities for its connection.
            var options = new McpClientOptions { ClientInfo = new Implementation { Name = name, Version = "1.0.0" }, ProtocolVersion = "2025-11-25" };
            if (sampled is not null)
            {
                options.Capabilities = new ClientCapabilities { Sampling = new SamplingCapability() };
                options.Handlers = new McpClientHandlers
                {
                    SamplingHandler = async (request, _, _) =>
                    {
                        lock (sampled)
                        {
                            sampled.Add(string.Concat(request!.Messages[0].Content.OfType<TextContentBlock>().Select(b => b.Text)));
                        }

                        if (beforeAnswer is not null)
                        {
                            await beforeAnswer();
                        }

                        return new CreateMessageResult { Model = name, Role = Role.Assistant, Content = [new TextContentBlock { Text = "answered by " + name }] };
                    },
                };
            }

            return await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = gateway.Url,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + gateway.Token },
            }), options).WaitAsync(Guard);
        }

        // What a call answered: its text, or the error the host was given.
        static async Task<string> CallAsync(McpClient client, string prompt)
        {
            try
            {
                var result = await client.CallToolAsync("trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = prompt }).AsTask().WaitAsync(Guard);
                return string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
            }
            catch (McpException e)
            {
                return e.Message;
            }
        }

        // The first session offers nothing and stays (as a second conformance run finds it): the upstream starts without
        // sampling, and is relaunched with it when host A, which offers it, initializes.
        await using var plain = await ConnectAsync("plain", sampled: null);
        await plain.ListToolsAsync().AsTask().WaitAsync(Guard);
        var a = new List<string>();
        var b = new List<string>();
        var bAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holdA = false;
        await using var hostA = await ConnectAsync("host-a", a, async () =>
        {
            if (Volatile.Read(ref holdA))
            {
                aAsked.TrySetResult();
                await bAnswered.Task.WaitAsync(Guard);
            }
        });
        await using var hostB = await ConnectAsync("host-b", b);
        Assert.Contains("trigger-sampling-request", (await hostA.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name));
        lock (gateway.Stderr)
        {
            Assert.Contains("relaunching to offer it sampling, which a new host session offers", gateway.Stderr.ToString(), StringComparison.Ordinal);
        }

        // Host A's call: its prompt reaches host A, never host B, although B is the newer session.
        Assert.Contains("answered by host-a", await CallAsync(hostA, "A's prompt"));
        Assert.Contains("A's prompt", Assert.Single(a));
        Assert.Empty(b);

        Assert.Contains("answered by host-b", await CallAsync(hostB, "B's prompt"));
        Assert.Contains("B's prompt", Assert.Single(b));
        Assert.Single(a);

        // The plain session's call: its upstream's request is refused, since that session offers no sampling, and no other host sees it.
        Assert.Contains("the host session that made the call does not offer sampling", await CallAsync(plain, "plain's prompt"));
        Assert.Single(a);
        Assert.Single(b);

        // While A's call waits on its answer, B calls too: B's upstream request cannot be told from A's, so it is refused
        // rather than sent to either; A's call then completes.
        Volatile.Write(ref holdA, true);
        var fromA = CallAsync(hostA, "A's second prompt");
        await aAsked.Task.WaitAsync(Guard);
        Assert.Contains("calls from 2 host sessions are in flight to it", await CallAsync(hostB, "B's second prompt"));
        bAnswered.TrySetResult();
        Assert.Contains("answered by host-a", await fromA);
        Assert.Equal(2, a.Count);
        Assert.Single(b);
    }
#pragma warning restore MCP9005

    [NodeFact]
    public async Task The_mcp_inspector_cli_over_http_with_the_header_runs_the_stdio_checks_and_a_generated_token_is_printed()
    {
        await using var gateway = await StartAsync(token: null);

        var listed = await InspectorAsync(gateway, "--method", "tools/list");
        Assert.True(listed.ExitCode == 0, listed.Stdout + listed.Stderr);
        var names = JsonDocument.Parse(listed.Stdout[listed.Stdout.IndexOf('{', StringComparison.Ordinal)..]).RootElement.GetProperty("tools").EnumerateArray()
            .Select(t => t.GetProperty("name").GetString()).ToList();
        Assert.Contains("echo", names);

        var called = await InspectorAsync(gateway, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=inspected");
        Assert.Contains("Echo: inspected", called.Stdout);
        var read = await InspectorAsync(gateway, "--method", "resources/read", "--uri", "demo://resource/dynamic/text/7");
        Assert.Contains("Resource 7", read.Stdout);
        var prompt = await InspectorAsync(gateway, "--method", "prompts/get", "--prompt-name", "args-prompt", "--prompt-args", "city=Ghent");
        Assert.Contains("Ghent", prompt.Stdout);

        var anonymous = await InspectorAsync(gateway, withHeader: false, "--method", "tools/list");
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.True((anonymous.Stdout + anonymous.Stderr).Contains("401", StringComparison.Ordinal) ||
                    (anonymous.Stdout + anonymous.Stderr).Contains("auth_required", StringComparison.Ordinal), anonymous.Stdout + anonymous.Stderr);
        lock (gateway.Stderr)
        {
            Assert.DoesNotContain("Echo: inspected", gateway.Stderr.ToString());
        }
    }

    [NodeFact]
    public async Task Sigterm_stops_the_http_gateway_with_a_session_open_and_its_upstream_with_it()
    {
        await using var gateway = await StartAsync("test-token-" + Guid.NewGuid().ToString("N"));
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = gateway.Url,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + gateway.Token },
        })).WaitAsync(Guard);
        Assert.Contains("echo", (await client.ListToolsAsync().AsTask().WaitAsync(Guard)).Select(t => t.Name));
        var descendants = Descendants(gateway.Process.Id);
        Assert.NotEmpty(descendants);

        using (var kill = Process.Start("kill", ["-TERM", gateway.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await gateway.Process.WaitForExitAsync().WaitAsync(Guard);
        Assert.Equal(0, gateway.Process.ExitCode);
        var clock = Stopwatch.StartNew();
        while (descendants.Any(pid => Directory.Exists($"/proc/{pid}")) && clock.Elapsed < Guard)
        {
            await Task.Delay(100);
        }

        Assert.DoesNotContain(descendants, pid => Directory.Exists($"/proc/{pid}"));
    }

    /// <summary>The process ids below <paramref name="pid"/> (Linux /proc).</summary>
    private static List<int> Descendants(int pid)
    {
        var found = new List<int>();
        foreach (var task in Directory.Exists($"/proc/{pid}/task") ? Directory.GetDirectories($"/proc/{pid}/task") : [])
        {
            var children = Path.Combine(task, "children");
            if (!File.Exists(children))
            {
                continue;
            }

            foreach (var child in File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)))
            {
                found.Add(child);
                found.AddRange(Descendants(child));
            }
        }

        return found;
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> InspectorAsync(Running gateway, params string[] method) =>
        InspectorAsync(gateway, withHeader: true, method);

    private static async Task<(int ExitCode, string Stdout, string Stderr)> InspectorAsync(Running gateway, bool withHeader, params string[] method)
    {
        var start = new ProcessStartInfo(NodePackages.Node22)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = NodePackages.Root,
        };
        start.Environment["PATH"] = NodePackages.PathWith();
        start.ArgumentList.Add(NodePackages.InspectorScript);
        start.ArgumentList.Add("--cli");
        start.ArgumentList.Add(gateway.Url.ToString());
        start.ArgumentList.Add("--transport");
        start.ArgumentList.Add("http");
        if (withHeader)
        {
            start.ArgumentList.Add("--header");
            start.ArgumentList.Add("Authorization: Bearer " + gateway.Token);
        }

        foreach (var arg in method)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Guard);
        return (process.ExitCode, await stdout, await stderr);
    }
}
