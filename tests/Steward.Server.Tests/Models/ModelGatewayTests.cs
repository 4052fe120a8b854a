using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Server.Storage;

namespace Steward.Server.Tests.Models;

/// <summary>The enforcing model endpoint against a local fake upstream that speaks OpenAI's and Anthropic's wire formats.</summary>
public sealed class ModelGatewayTests
{
    private const string UpstreamKey = "sk-upstream-key-0123456789abcdef";

    private sealed class Setup : IAsyncDisposable
    {
        public required TestServer Server { get; init; }
        public required FakeModelUpstream Upstream { get; init; }
        public required string Developer { get; init; }

        public HttpClient Client(string? token = null)
        {
            var client = new HttpClient { BaseAddress = Server.BaseUrl };
            if (token is not null)
            {
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            return client;
        }

        public async ValueTask DisposeAsync()
        {
            await Upstream.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    /// <summary>A server whose organisation controls models (EU only; Sonnet 4.6, Haiku 4.5 and Auto on), with the fake as the upstream of every placement.</summary>
    private static async Task<Setup> StartAsync(string? policy = null, Func<ServeOptions, ServeOptions>? configure = null, string? upstreamHost = null)
    {
        var server = await TestServer.StartAsync(configure ?? (o => o));
        var upstream = await FakeModelUpstream.StartAsync();
        var apiBase = upstreamHost is null ? upstream.ApiBase : upstream.ApiBase.Replace("127.0.0.1", upstreamHost, StringComparison.Ordinal);
        await ModelTestData.PutPolicyAsync(server, policy ?? """
            {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-haiku-4-5": true, "auto": true, "claude-opus-4-5": false},
             "defaultModel": "auto", "residency": {"scopes": ["regional"], "geographies": ["EU"]}}
            """);
        await ModelTestData.PutUpstreamsAsync(server, $$"""{"upstreams": [{"provider": "anthropic", "placement": "*", "baseUrl": "{{apiBase}}", "apiKey": "{{UpstreamKey}}"}]}""");
        return new Setup { Server = server, Upstream = upstream, Developer = await ModelTestData.AddDeveloperAsync(server) };
    }

    private static StringContent Chat(string model, bool stream = false) =>
        TestServer.Json($$"""{"model": "{{model}}", "stream": {{(stream ? "true" : "false")}}, "messages": [{"role": "user", "content": "a secret prompt"}]}""");

    private static StringContent Message(string model, bool stream = false) =>
        TestServer.Json($$"""{"model": "{{model}}", "max_tokens": 64, "stream": {{(stream ? "true" : "false")}}, "messages": [{"role": "user", "content": "a secret prompt"}]}""");

    [Theory]
    [InlineData("claude-opus-4-5", "disabled_by_policy")]
    [InlineData("opus-4.5", "disabled_by_policy")]
    [InlineData("claude-opus-4-6", "not_in_region")]
    [InlineData("us.anthropic.claude-sonnet-4-6", "not_in_region")]
    [InlineData("global.anthropic.claude-sonnet-4-6", "not_in_region")]
    [InlineData("gpt-4o", "not_in_catalog")]
    public async Task A_refused_model_gets_403_with_its_reason_never_what_is_allowed_and_an_audit_row(string model, string reason)
    {
        await using var setup = await StartAsync();
        using var client = setup.Client(setup.Developer);
        using var response = await client.PostAsync("/v1/chat/completions", Chat(model));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("model_access_denied", error["type"]!.GetValue<string>());
        Assert.Equal(reason, error["code"]!.GetValue<string>());
        Assert.Equal($"The requested model '{model}' is not available for your account.", error["message"]!.GetValue<string>());
        Assert.DoesNotContain("sonnet-4-6\"", text.Replace(model, "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("haiku", text, StringComparison.Ordinal);
        Assert.Empty(setup.Upstream.Requests);

        var audit = Assert.Single(await ModelTestData.AuditAsync(setup.Server, "model.access-denied"));
        Assert.Equal("model:" + model, audit.Object);
        Assert.StartsWith("token:", audit.Actor, StringComparison.Ordinal);
        var detail = JsonNode.Parse(audit.After!)!;
        Assert.Equal((model, reason, "/v1/chat/completions"), (detail["requested"]!.GetValue<string>(), detail["reason"]!.GetValue<string>(), detail["endpoint"]!.GetValue<string>()));
        Assert.DoesNotContain("secret prompt", audit.After, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auto_never_routes_to_a_disabled_model_and_is_refused_when_all_its_targets_are()
    {
        await using var setup = await StartAsync("""
            {"controlEnabled": true, "states": {"auto": true, "claude-sonnet-4-5": false, "claude-sonnet-4": false, "claude-haiku-4-5": true}, "defaultModel": "auto"}
            """);
        using var client = setup.Client(setup.Developer);
        using var allowed = await client.PostAsync("/v1/chat/completions", Chat("auto"));
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("claude-haiku-4-5", allowed.Headers.GetValues("steward-model").Single());
        Assert.Equal("us.anthropic.claude-haiku-4-5-20251001-v1:0", Assert.Single(setup.Upstream.Requests).Model);

        await ModelTestData.PutPolicyAsync(setup.Server, """{"controlEnabled": true, "states": {"auto": true, "claude-sonnet-4-6": true}, "defaultModel": "claude-sonnet-4-6"}""");
        using var refused = await client.PostAsync("/v1/messages", Message("auto"));
        var body = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("error", body["type"]!.GetValue<string>());
        Assert.Equal(("permission_error", "no_available_target"), (body["error"]!["type"]!.GetValue<string>(), body["error"]!["code"]!.GetValue<string>()));

        await ModelTestData.PutPolicyAsync(setup.Server, """{"controlEnabled": true, "states": {"auto": false, "claude-haiku-4-5": true}, "defaultModel": "claude-haiku-4-5"}""");
        using var disabledAuto = await client.PostAsync("/v1/chat/completions", Chat("Auto"));
        Assert.Equal(HttpStatusCode.Forbidden, disabledAuto.StatusCode);
        Assert.Equal("disabled_by_policy", JsonNode.Parse(await disabledAuto.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        Assert.Single(setup.Upstream.Requests);
        Assert.Equal(2, (await ModelTestData.AuditAsync(setup.Server, "model.access-denied")).Count);
    }

    [Fact]
    public async Task An_allowed_streamed_completion_arrives_byte_for_byte_as_the_upstream_sent_it_with_the_provider_id_and_the_upstream_key()
    {
        await using var setup = await StartAsync();
        using var client = setup.Client(setup.Developer);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("sonnet-4.6", stream: true) };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var received = await response.Content.ReadAsByteArrayAsync();

        var upstreamRequest = Assert.Single(setup.Upstream.Requests);
        Assert.Equal("/v1/chat/completions", upstreamRequest.Path);
        Assert.Equal("eu.anthropic.claude-sonnet-4-6", upstreamRequest.Model);
        Assert.Equal("Bearer " + UpstreamKey, upstreamRequest.Authorization);
        Assert.DoesNotContain(setup.Developer, Encoding.UTF8.GetString(upstreamRequest.Body), StringComparison.Ordinal);
        Assert.Equal(setup.Upstream.Sent[1], received);
        var text = Encoding.UTF8.GetString(received);
        Assert.StartsWith("data: {", text, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", text, StringComparison.Ordinal);
        Assert.Equal("req_1", response.Headers.GetValues("x-request-id").Single());

        // Only the model was rewritten: every other byte of the request reached the upstream as sent.
        Assert.Equal("""{"model": "eu.anthropic.claude-sonnet-4-6", "stream": true, "messages": [{"role": "user", "content": "a secret prompt"}]}""", Encoding.UTF8.GetString(upstreamRequest.Body));
    }

    [Fact]
    public async Task An_anthropic_stream_with_x_api_key_arrives_unchanged_and_the_upstream_gets_its_own_key()
    {
        await using var setup = await StartAsync();
        using var client = setup.Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Message("claude-haiku-4-5", stream: true) };
        request.Headers.Add("x-api-key", setup.Developer);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(setup.Upstream.Sent[1], received);
        var text = Encoding.UTF8.GetString(received);
        Assert.StartsWith("event: message_start\n", text, StringComparison.Ordinal);
        Assert.EndsWith("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", text, StringComparison.Ordinal);

        var upstreamRequest = Assert.Single(setup.Upstream.Requests);
        Assert.Equal(("/v1/messages", UpstreamKey, "2023-06-01", (string?)null), (upstreamRequest.Path, upstreamRequest.ApiKey, upstreamRequest.AnthropicVersion, upstreamRequest.Authorization));
        Assert.Equal("eu.anthropic.claude-haiku-4-5-20251001-v1:0", upstreamRequest.Model);
    }

    [Fact]
    public async Task Counting_tokens_is_decided_like_a_message()
    {
        await using var setup = await StartAsync();
        using var client = setup.Client(setup.Developer);
        using var refused = await client.PostAsync("/v1/messages/count_tokens", TestServer.Json("""{"model": "claude-opus-4-5", "messages": []}"""));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("/v1/messages/count_tokens", JsonNode.Parse(Assert.Single(await ModelTestData.AuditAsync(setup.Server, "model.access-denied")).After!)!["endpoint"]!.GetValue<string>());
        using var counted = await client.PostAsync("/v1/messages/count_tokens", TestServer.Json("""{"model": "claude-sonnet-4-6", "messages": []}"""));
        Assert.Equal(HttpStatusCode.OK, counted.StatusCode);
        Assert.Equal(12, JsonNode.Parse(await counted.Content.ReadAsStringAsync())!["input_tokens"]!.GetValue<int>());
        var received = Assert.Single(setup.Upstream.Requests);
        Assert.Equal(("/v1/messages/count_tokens", "eu.anthropic.claude-sonnet-4-6", UpstreamKey), (received.Path, received.Model, received.ApiKey));
    }

    [Fact]
    public async Task A_non_streamed_answer_and_an_upstream_error_pass_through_with_their_status_and_type()
    {
        await using var setup = await StartAsync();
        using var client = setup.Client(setup.Developer);
        using var response = await client.PostAsync("/v1/chat/completions", Chat("claude-sonnet-4-6"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(setup.Upstream.Sent[1], await response.Content.ReadAsByteArrayAsync());

        using var malformed = await client.PostAsync("/v1/chat/completions", TestServer.Json("""{"model": "claude-sonnet-4-6", "model": "claude-opus-4-5"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        using var notJson = await client.PostAsync("/v1/chat/completions", TestServer.Json("""{"model": 4}"""));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Single(setup.Upstream.Requests);
    }

    [Fact]
    public async Task A_deprecated_model_is_served_with_a_deprecation_notice_header()
    {
        await using var setup = await StartAsync("""{"controlEnabled": true, "states": {"claude-sonnet-4": true}, "defaultModel": "claude-sonnet-4"}""");
        using var client = setup.Client(setup.Developer);
        using var response = await client.PostAsync("/v1/chat/completions", Chat("sonnet-4"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("deprecated", response.Headers.GetValues("steward-notice").Single(), StringComparison.Ordinal);
        Assert.Equal("us.anthropic.claude-sonnet-4-20250514-v1:0", Assert.Single(setup.Upstream.Requests).Model);
    }

    [Fact]
    public async Task Without_a_valid_token_nothing_is_listed_or_forwarded()
    {
        await using var setup = await StartAsync();
        using var anonymous = setup.Client();
        using var list = await anonymous.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        using var chat = await anonymous.PostAsync("/v1/chat/completions", Chat("claude-sonnet-4-6"));
        Assert.Equal(HttpStatusCode.Unauthorized, chat.StatusCode);
        using var bad = setup.Client("stw_not-a-token-anyone-was-given");
        using var messages = await bad.PostAsync("/v1/messages", Message("claude-sonnet-4-6"));
        Assert.Equal(HttpStatusCode.Unauthorized, messages.StatusCode);
        Assert.Equal("authentication_error", JsonNode.Parse(await messages.Content.ReadAsStringAsync())!["error"]!["type"]!.GetValue<string>());
        Assert.Empty(setup.Upstream.Requests);
    }

    [Fact]
    public async Task The_model_list_holds_only_the_available_models_in_each_provider_shape()
    {
        await using var setup = await StartAsync();
        using var client = setup.Client(setup.Developer);
        var openAi = await ModelTestData.GetJsonAsync(client, "/v1/models");
        Assert.Equal("list", openAi["object"]!.GetValue<string>());
        Assert.Equal(["auto", "claude-sonnet-4-6", "claude-haiku-4-5"], openAi["data"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await client.SendAsync(request);
        var anthropicText = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, anthropicText);
        var anthropic = JsonNode.Parse(anthropicText)!;
        Assert.Equal(["auto", "claude-sonnet-4-6", "claude-haiku-4-5"], anthropic["data"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal("model", anthropic["data"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_allowed_model_without_an_upstream_is_503_and_not_forwarded()
    {
        await using var setup = await StartAsync();
        await ModelTestData.PutUpstreamsAsync(setup.Server, """{"upstreams": [{"provider": "anthropic", "placement": "US", "baseUrl": "https://bedrock.example/v1"}]}""");
        using var client = setup.Client(setup.Developer);
        using var response = await client.PostAsync("/v1/chat/completions", Chat("claude-sonnet-4-6"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("upstream_not_configured", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_upstream_request_is_cancelled_when_the_client_goes_away()
    {
        await using var setup = await StartAsync();
        setup.Upstream.HoldStreams = true;
        using (var client = setup.Client(setup.Developer))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("claude-sonnet-4-6", stream: true) };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            var first = new byte[8];
            Assert.True(await stream.ReadAsync(first) > 0);
        }

        await setup.Upstream.ClientGone.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Upstream_keys_are_sealed_at_rest_and_never_returned()
    {
        await using var setup = await StartAsync();
        using var admin = setup.Server.Client(TestServer.AdminToken);
        using var response = await admin.GetAsync("/api/v1/models/upstreams");
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(UpstreamKey, text, StringComparison.Ordinal);
        Assert.True(JsonNode.Parse(text)!["upstreams"]![0]!["apiKeySet"]!.GetValue<bool>());

        await using (var connection = await setup.Server.Server.Database.OpenAsync(CancellationToken.None))
        {
            var stored = (string)(await connection.ScalarAsync("SELECT api_key_sealed FROM model_upstreams", null, CancellationToken.None))!;
            Assert.DoesNotContain(UpstreamKey, stored, StringComparison.Ordinal);
            var audit = await connection.QueryAsync("SELECT COALESCE(before_json, '') || COALESCE(after_json, '') FROM audit", null, r => r.GetString(0), CancellationToken.None);
            Assert.DoesNotContain(audit, row => row.Contains(UpstreamKey, StringComparison.Ordinal));
        }

        Assert.DoesNotContain(UpstreamKey, setup.Server.Messages.ToString(), StringComparison.Ordinal);
        var keyFile = Path.Combine(setup.Server.DataDir, "model-upstreams.key");
        Assert.Equal(32, new FileInfo(keyFile).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }

        // A PUT without apiKey keeps the stored key; the upstream still receives it after a restart.
        await ModelTestData.PutUpstreamsAsync(setup.Server, $$"""{"upstreams": [{"provider": "anthropic", "placement": "*", "baseUrl": "{{setup.Upstream.ApiBase}}"}]}""");
        await setup.Server.RestartAsync();
        using var client = setup.Client(setup.Developer);
        using var chat = await client.PostAsync("/v1/chat/completions", Chat("claude-sonnet-4-6"));
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal("Bearer " + UpstreamKey, Assert.Single(setup.Upstream.Requests).Authorization);
    }

    [Theory]
    [InlineData("https://169.254.169.254/v1")]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/v1")]
    [InlineData("https://100.100.100.200/v1")]
    [InlineData("https://[fd20:ce::254]/v1")]
    [InlineData("https://metadata.google.internal/v1")]
    public async Task An_upstream_at_a_link_local_or_metadata_address_is_refused_naming_the_base_url(string baseUrl)
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var response = await admin.PutAsync("/api/v1/models/upstreams", TestServer.Json($$"""{"upstreams": [{"provider": "anthropic", "placement": "*", "baseUrl": "{{baseUrl}}"}]}"""));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var problem = Assert.Single(JsonNode.Parse(text)!["errors"]!.AsArray())!;
        Assert.Equal("body.upstreams[0].baseUrl", problem["location"]!.GetValue<string>());
        Assert.Contains("cloud metadata", problem["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upstream_whose_name_resolves_to_a_metadata_address_is_never_connected_to()
    {
        // The server's resolver answers 169.254.169.254 for "localhost": the fake upstream on 127.0.0.1 must get nothing.
        string[] asked = [];
        await using var setup = await StartAsync(
            configure: o => o with { Resolve = (host, _) => { asked = [.. asked, host]; return Task.FromResult(new[] { IPAddress.Parse("169.254.169.254") }); } },
            upstreamHost: "localhost");
        using var client = setup.Client(setup.Developer);
        using var response = await client.PostAsync("/v1/chat/completions", Chat("claude-sonnet-4-6"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadGateway, text);
        Assert.Equal("upstream_unreachable", JsonNode.Parse(text)!["error"]!["code"]!.GetValue<string>());
        Assert.Contains("localhost", asked);
        Assert.Empty(setup.Upstream.Requests);
    }
}
