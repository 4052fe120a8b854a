using System.Net;
using Steward.Agent.Sources;
using Steward.Agent.Tests.Support;

namespace Steward.Agent.Tests.Sync;

/// <summary><c>steward login --oidc-id-token</c>: an ID token from a local issuer exchanged at the real server, then the usual login.</summary>
public sealed class OidcLoginTests
{
    private static async Task<StewardServerHost> ServerAsync(LocalIssuer issuer, TimeProvider time)
    {
        var server = await StewardServerHost.StartAsync(time);
        _ = await server.DeveloperTokenAsync("team");
        using var admin = server.Client();
        using var put = await admin.PutAsync("api/v1/orgs/demo/oidc", new StringContent(
            $$"""{"issuer": "{{issuer.Issuer}}", "clientId": "{{LocalIssuer.ClientId}}", "adminGroups": ["steward-admins"]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        return server;
    }

    [Fact]
    public async Task An_id_token_is_exchanged_for_a_developer_token_and_login_pins_the_key_and_verifies_the_bundle()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer, time);
        using var config = new TempConfig();
        using var fetcher = new PolicyFetcher();

        var exchanged = await fetcher.ExchangeOidcAsync(server.BaseUrl, null, issuer.IdToken(), allowHttp: true, CancellationToken.None);
        Assert.Null(exchanged.Error);
        Assert.Equal("team", exchanged.Account);
        Assert.Equal(["engineering", "steward-admins"], exchanged.Groups);

        var result = await Login.LoginAsync(config.Paths, new LoginRequest(server.BaseUrl, null, exchanged.Token, true, TimeSpan.FromDays(7), config.Workspace), fetcher, time, CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
        Assert.NotNull(result.KeyThumbprint);
        Assert.Equal(exchanged.Token, File.ReadAllText(config.Paths.TokenFile));
    }

    [Fact]
    public async Task A_refused_id_token_says_why_and_plain_http_to_another_host_is_not_tried()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerAsync(issuer, time);
        using var fetcher = new PolicyFetcher();

        var refused = await fetcher.ExchangeOidcAsync(server.BaseUrl, "demo", issuer.IdToken(audience: "another-client"), allowHttp: true, CancellationToken.None);
        Assert.Null(refused.Token);
        Assert.Contains("issued for another client", refused.Error, StringComparison.Ordinal);

        var plain = await fetcher.ExchangeOidcAsync("http://steward.example.com", "demo", issuer.IdToken(), allowHttp: false, CancellationToken.None);
        Assert.Contains("plain http", plain.Error, StringComparison.Ordinal);
    }
}
