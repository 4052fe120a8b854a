using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// Whether the gateway's audit records tool-call argument values: the profile's <c>auditToolArguments</c>, set by the
/// admin on the real Steward server and carried in the signed bundle; values under secret-looking names redacted.
/// </summary>
public sealed class AuditArgumentsTests
{
    private static async Task<TempConfig> LoginAsync(StewardServerHost server, string token, TimeProvider time)
    {
        var config = new TempConfig();
        using var fetcher = new PolicyFetcher();
        var login = await Login.LoginAsync(config.Paths, new LoginRequest(server.BaseUrl, null, token, true, TimeSpan.FromDays(7), config.Workspace),
            fetcher, time, CancellationToken.None);
        Assert.True(login.Succeeded, login.Error);
        return config;
    }

    private static JsonNode[] Lines(string path) =>
        [.. AuditFile.Final(path).Select(l => JsonNode.Parse(l)!)];

    [NodeFact]
    public async Task With_the_profile_setting_on_a_call_through_the_gateway_records_its_argument_values_and_off_it_records_none()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        await server.PutProfileAsync("""{"auditToolArguments":true}""");
        using var config = await LoginAsync(server, await server.DeveloperTokenAsync(), time);
        using var sync = new PolicySync(config.Paths, time, environment: _ => null);
        Assert.True(Assert.IsType<PolicyState.Active>(sync.Current).Snapshot.AuditArguments);

        await using (var harness = await GatewayHarness.StartAsync(
            Fixtures.Config((Fixtures.EverythingName, Fixtures.EverythingConfig())), sync.Current, server: Fixtures.EverythingName))
        {
            await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "audited-value" });
            await harness.Client.CallToolAsync("echo", new Dictionary<string, object?>
            {
                ["message"] = "second-value",
                ["api_key"] = "sk-live-should-not-be-recorded",
                ["options"] = new Dictionary<string, object?> { ["Authorization"] = "Bearer should-not-be-recorded", ["depth"] = 2 },
            });

            // The admin turns it off; the next sync brings the new bundle and the gateway records no values from then on.
            await server.PutProfileAsync("""{"auditToolArguments":false}""");
            var synced = await sync.SyncAsync(CancellationToken.None);
            Assert.True(synced.Succeeded, synced.Message);
            Assert.False(Assert.IsType<PolicyState.Active>(sync.Current).Snapshot.AuditArguments);
            await harness.Gateway.ApplyPolicyAsync(sync.Current);
            await harness.Client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "not-audited-value" });

            var text = await File.ReadAllTextAsync(harness.AuditLog);
            Assert.DoesNotContain("should-not-be-recorded", text, StringComparison.Ordinal);
            Assert.DoesNotContain("not-audited-value", text, StringComparison.Ordinal);
            var lines = Lines(harness.AuditLog);
            Assert.Equal(3, lines.Length);
            Assert.All(lines, l => Assert.Equal(("everything", "echo"), ((string)l["server"]!, (string)l["tool"]!)));
            Assert.Equal("ok", (string)lines[0]["outcome"]!);
            Assert.Equal("audited-value", (string)lines[0]["arguments"]!["message"]!);
            Assert.Equal("second-value", (string)lines[1]["arguments"]!["message"]!);
            Assert.Equal(ArgumentRedaction.Redacted, (string)lines[1]["arguments"]!["api_key"]!);
            Assert.Equal(ArgumentRedaction.Redacted, (string)lines[1]["arguments"]!["options"]!["Authorization"]!);
            Assert.Equal(2, (int)lines[1]["arguments"]!["options"]!["depth"]!);
            Assert.Null(lines[2]["arguments"]);
        }
    }

    [Fact]
    public async Task A_new_login_with_the_setting_off_by_default_records_no_argument_values()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var server = await StewardServerHost.StartAsync(time);
        using var config = await LoginAsync(server, await server.DeveloperTokenAsync(), time);
        using var sync = new PolicySync(config.Paths, time, environment: _ => null);
        Assert.False(Assert.IsType<PolicyState.Active>(sync.Current).Snapshot.AuditArguments);
    }

    [Theory]
    [InlineData("""{"revision":"1","profile":{"mcpEnabled":true,"webToolsEnabled":true,"registryMode":"hosted","syncIntervalSeconds":86400}}""", false)]
    [InlineData("""{"revision":"1","profile":{"mcpEnabled":true,"webToolsEnabled":true,"registryMode":"hosted","syncIntervalSeconds":86400,"auditToolArguments":true}}""", true)]
    [InlineData("""{"revision":"1","profile":{"mcpEnabled":true,"webToolsEnabled":true,"registryMode":"hosted","syncIntervalSeconds":86400,"auditToolArguments":false}}""", false)]
    public void A_bundle_from_a_server_without_the_setting_means_off(string payload, bool expected)
    {
        var content = BundleContent.Parse(Encoding.UTF8.GetBytes(payload), out var error);
        Assert.Null(error);
        Assert.Equal(expected, content!.AuditToolArguments);
    }

    [Fact]
    public void A_bundle_whose_setting_is_not_a_boolean_is_rejected_naming_it()
    {
        var content = BundleContent.Parse(Encoding.UTF8.GetBytes(
            """{"revision":"1","profile":{"mcpEnabled":true,"webToolsEnabled":true,"registryMode":"hosted","syncIntervalSeconds":86400,"auditToolArguments":"yes"}}"""), out var error);
        Assert.Null(content);
        Assert.Contains("auditToolArguments", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("password", true)]
    [InlineData("db_password", true)]
    [InlineData("token", true)]
    [InlineData("accessToken", true)]
    [InlineData("refresh-token", true)]
    [InlineData("clientSecret", true)]
    [InlineData("API_KEY", true)]
    [InlineData("key", true)]
    [InlineData("Authorization", true)]
    [InlineData("basicAuth", true)]
    [InlineData("credentials", true)]
    [InlineData("Cookie", true)]
    [InlineData("passphrase", true)]
    [InlineData("message", false)]
    [InlineData("author", false)]
    [InlineData("maxTokens", false)]
    [InlineData("path", false)]
    [InlineData("keyword", false)]
    public void Secret_looking_names_are_recognised(string name, bool secret) =>
        Assert.Equal(secret, ArgumentRedaction.IsSecretName(name));

    [Fact]
    public void Redaction_replaces_secret_values_at_any_depth_and_leaves_the_rest_as_received()
    {
        using var document = JsonDocument.Parse("""{"query":"select 1","password":"hunter2","items":[{"name":"a","token":"t-1"},3],"nested":{"headers":{"x-api-key":"k"}}}""");
        var arguments = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());

        var redacted = ArgumentRedaction.Redact(arguments)!;

        Assert.Equal("select 1", redacted["query"].GetString());
        Assert.Equal(ArgumentRedaction.Redacted, redacted["password"].GetString());
        Assert.Equal("""[{"name":"a","token":"[redacted]"},3]""", redacted["items"].GetRawText());
        Assert.Equal("""{"headers":{"x-api-key":"[redacted]"}}""", redacted["nested"].GetRawText());
        Assert.Equal("hunter2", arguments["password"].GetString());

        var clean = new Dictionary<string, JsonElement> { ["message"] = redacted["query"] };
        Assert.Same(clean, ArgumentRedaction.Redact(clean));
        Assert.Null(ArgumentRedaction.Redact(null));
    }
}
