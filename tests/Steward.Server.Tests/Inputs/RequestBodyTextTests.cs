using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Steward.Server.Tests.Inputs;

/// <summary>
/// Every endpoint that reads a JSON body refuses a string that is not Unicode (bytes that are not UTF-8, or a lone
/// surrogate escape) with a 400 naming the field's path, instead of failing later with a 500 and a stack trace.
/// </summary>
public sealed class RequestBodyTextTests(RequestBodyTextTests.Fixture fixture) : IClassFixture<RequestBodyTextTests.Fixture>
{
    private const string Server = "com.example.inputs/server";
    private const string Versions = "/api/v1/orgs/demo/registry/servers/com.example.inputs%2Fserver/versions/1.0.0";

    public sealed class Fixture : IAsyncLifetime
    {
        internal TestServer Server { get; private set; } = null!;
        public string Developer { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Server = await TestServer.StartAsync();
            await Server.PublishAsync(RequestBodyTextTests.Server, "1.0.0");
            await Server.AddAccountAsync("demo", "team");
            Developer = await Server.AddDemoDeveloperAsync();
        }

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    /// <summary>What is sent: method, path, who, and a body where <c>BAD</c> stands for the string that is not Unicode, and the path it is at.</summary>
    private sealed record Endpoint(string Method, string Path, string Caller, string Body, string Field);

    private static string ServerJsonWithBadDescription(string name) =>
        TestServer.ServerJson(name, "9.0.0").Replace("\"A test server\"", "BAD", StringComparison.Ordinal);

    private static readonly Dictionary<string, Endpoint> Endpoints = new()
    {
        ["registry-publish"] = new("POST", "/api/v1/orgs/demo/registry/servers", "admin", ServerJsonWithBadDescription(Server), "$.description"),
        ["registry-edit"] = new("PUT", Versions, "admin", TestServer.ServerJson(Server, "1.0.0").Replace("\"A test server\"", "BAD", StringComparison.Ordinal), "$.description"),
        ["registry-status"] = new("PATCH", Versions + "/status", "admin", """{"status":"deprecated","statusMessage":BAD}""", "$.statusMessage"),
        ["registry-deprecate"] = new("POST", Versions + "/deprecate", "admin", """{"statusMessage":BAD}""", "$.statusMessage"),
        ["registry-import"] = new("POST", "/api/v1/orgs/demo/registry/import", "admin", "[" + ServerJsonWithBadDescription("com.example.inputs/imported") + "]", "$[0].description"),
        ["registry-import-url"] = new("POST", "/api/v1/orgs/demo/registry/import", "admin", """{"url":BAD}""", "$.url"),
        ["registry-publish-token"] = new("POST", "/api/v1/orgs/demo/registry/publish-tokens", "admin", """{"name":BAD,"namespaces":["com.example.inputs/*"]}""", "$.name"),
        ["mcp-publisher-publish"] = new("POST", "/v0/publish", "admin", ServerJsonWithBadDescription(Server), "$.description"),
        ["mcp-publisher-status"] = new("PATCH", "/v0/servers/com.example.inputs%2Fserver/versions/1.0.0/status", "admin", """{"status":"deprecated","statusMessage":BAD}""", "$.statusMessage"),
        ["tokens"] = new("POST", "/api/v1/orgs/demo/tokens", "admin", """{"name":BAD,"role":"admin"}""", "$.name"),
        ["oidc-configure"] = new("PUT", "/api/v1/orgs/demo/oidc", "admin", """{"issuer":BAD,"clientId":"steward"}""", "$.issuer"),
        ["oidc-exchange"] = new("POST", "/api/v1/auth/oidc/exchange", "anonymous", """{"org":"demo","id_token":BAD}""", "$.id_token"),
        ["create-organisation"] = new("POST", "/api/v1/orgs", "admin", """{"slug":"made-by-inputs","name":BAD}""", "$.name"),
        ["create-account"] = new("POST", "/api/v1/orgs/demo/accounts", "admin", """{"slug":"inputs","name":BAD}""", "$.name"),
        ["organisation-profile"] = new("PUT", "/api/v1/orgs/demo/profile", "admin", """{"registryMode":"external","registryUrl":BAD}""", "$.registryUrl"),
        ["account-profile"] = new("PUT", "/api/v1/orgs/demo/accounts/team/profile", "admin", """{"registryMode":"external","registryUrl":BAD}""", "$.registryUrl"),
        ["rotate-key"] = new("POST", "/api/v1/admin/keys/rotate", "admin", """{"graceSeconds":BAD}""", "$.graceSeconds"),
        ["model-catalog"] = new("POST", "/api/v1/models/catalog", "admin", """{"models":[{"id":BAD}]}""", "$.models[0].id"),
        ["model-policy"] = new("PUT", "/api/v1/orgs/demo/models/policy", "admin", """{"defaultModel":BAD}""", "$.defaultModel"),
        ["account-model-policy"] = new("PUT", "/api/v1/orgs/demo/accounts/team/models/policy", "admin", """{"defaultModel":BAD}""", "$.defaultModel"),
        ["model-groups"] = new("PUT", "/api/v1/orgs/demo/models/groups", "admin", """{"rules":[{"group":BAD}]}""", "$.rules[0].group"),
        ["model-upstreams"] = new("PUT", "/api/v1/models/upstreams", "admin", """{"upstreams":[{"provider":BAD}]}""", "$.upstreams[0].provider"),
        ["token-groups"] = new("PUT", "/api/v1/orgs/demo/models/token-groups/tok_unknown", "admin", """{"groups":[BAD]}""", "$.groups[0]"),
        ["tool-calls"] = new("POST", "/api/v1/audit/tool-calls", "developer", """[{"tool":BAD}]""", "$[0].tool"),
        ["chat-completions"] = new("POST", "/v1/chat/completions", "developer", """{"model":BAD,"messages":[{"role":"user","content":"hi"}]}""", "$.model"),
        ["messages"] = new("POST", "/v1/messages", "developer", """{"model":"claude","messages":[{"role":"user","content":BAD}]}""", "$.messages[0].content"),
        ["count-tokens"] = new("POST", "/v1/messages/count_tokens", "developer", """{"model":BAD}""", "$.model"),
    };

    /// <summary>The two ways a JSON string can fail to be Unicode.</summary>
    private static readonly Dictionary<string, byte[]> BadStrings = new()
    {
        ["lone-surrogate-escape"] = "\"\\ud800\""u8.ToArray(),
        ["invalid-utf8"] = [(byte)'"', 0xC3, 0x28, (byte)'"'],
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var endpoint in Endpoints.Keys)
        {
            foreach (var bad in BadStrings.Keys)
            {
                data.Add(endpoint, bad);
            }
        }

        return data;
    }

    private static byte[] Body(string template, byte[] bad)
    {
        var at = template.IndexOf("BAD", StringComparison.Ordinal);
        Assert.True(at >= 0, "the body template has no BAD");
        return [.. Encoding.UTF8.GetBytes(template[..at]), .. bad, .. Encoding.UTF8.GetBytes(template[(at + 3)..])];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_body_string_that_is_not_unicode_is_refused_with_400_naming_its_path(string endpoint, string bad)
    {
        var e = Endpoints[endpoint];
        using var client = fixture.Server.Client(e.Caller switch
        {
            "admin" => TestServer.AdminToken,
            "developer" => fixture.Developer,
            _ => null,
        });
        using var request = new HttpRequestMessage(new HttpMethod(e.Method), e.Path) { Content = new ByteArrayContent(Body(e.Body, BadStrings[bad])) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{endpoint} with {bad}: expected 400, got {(int)response.StatusCode} {text}");
        Assert.Contains(e.Field + ":", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lone-surrogate-escape")]
    [InlineData("invalid-utf8")]
    public async Task Validate_reports_a_string_that_is_not_unicode_as_an_issue_at_its_path(string bad)
    {
        using var client = fixture.Server.Client();
        using var content = new ByteArrayContent(Body(ServerJsonWithBadDescription(Server), BadStrings[bad]));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync("/v0/validate", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.False(report["valid"]!.GetValue<bool>());
        var issue = Assert.Single(report["issues"]!.AsArray());
        Assert.Equal("description", issue!["path"]!.GetValue<string>());
    }

    [Fact]
    public async Task Nothing_was_changed_by_a_refused_body()
    {
        using var anonymous = fixture.Server.Client();
        var detail = JsonNode.Parse(await anonymous.GetStringAsync("/v0.1/servers/com.example.inputs%2Fserver/versions/1.0.0"))!;
        Assert.Equal("A test server", detail["server"]!["description"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/v0.1/servers/com.example.inputs%2Fimported/versions/9.0.0")).StatusCode);
    }
}
