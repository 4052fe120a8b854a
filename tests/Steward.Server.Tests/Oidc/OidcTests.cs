using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Steward.Server.Storage;
using Steward.Server.Tests.Models;

namespace Steward.Server.Tests.Oidc;

/// <summary>OIDC against a local issuer with real keys: configuration, what the CLI signs in with, the CLI's token exchange, the console's code flow, key rotation.</summary>
public sealed class OidcTests
{
    private static async Task<TestServer> ServerWithOidcAsync(LocalIssuer issuer)
    {
        var server = await TestServer.StartAsync(o => o with { AllowHttpLoopbackOidc = true });
        await server.AddAccountAsync("demo", "team");
        using var admin = server.Client(TestServer.AdminToken);
        using var put = await admin.PutAsync("/api/v1/orgs/demo/oidc", TestServer.Json($$"""
            {"issuer": "{{issuer.Issuer}}", "clientId": "{{LocalIssuer.ClientId}}", "clientSecret": "{{LocalIssuer.ClientSecret}}", "adminGroups": ["steward-admins"]}
            """));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        return server;
    }

    private static async Task<HttpResponseMessage> ExchangeAsync(TestServer server, string idToken, string? org = "demo")
    {
        using var client = server.Client();
        var body = new JsonObject { ["id_token"] = idToken };
        if (org is not null)
        {
            body["org"] = org;
        }

        return await client.PostAsync("/api/v1/auth/oidc/exchange", TestServer.Json(body.ToJsonString()));
    }

    private static async Task<JsonObject> JsonOf(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

    [Fact]
    public async Task The_configuration_keeps_the_client_secret_sealed_and_never_returns_it()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerWithOidcAsync(issuer);
        using var admin = server.Client(TestServer.AdminToken);
        var text = await admin.GetStringAsync("/api/v1/orgs/demo/oidc");
        Assert.DoesNotContain(LocalIssuer.ClientSecret, text, StringComparison.Ordinal);
        var view = JsonNode.Parse(text)!;
        Assert.Equal((issuer.Issuer, LocalIssuer.ClientId, true, "steward_account", "groups"),
            (view["issuer"]!.GetValue<string>(), view["clientId"]!.GetValue<string>(), view["clientSecretSet"]!.GetValue<bool>(), view["accountClaim"]!.GetValue<string>(), view["groupsClaim"]!.GetValue<string>()));

        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        var stored = (string)(await connection.ScalarAsync("SELECT client_secret_sealed FROM oidc_configurations", null, CancellationToken.None))!;
        Assert.StartsWith("v1.", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(LocalIssuer.ClientSecret, stored, StringComparison.Ordinal);
        var audit = await ModelTestData.AuditAsync(server, "oidc.update");
        Assert.DoesNotContain(LocalIssuer.ClientSecret, audit[0].After!, StringComparison.Ordinal);

        using var developer = server.Client(await server.AddDemoDeveloperAsync());
        using var refused = await developer.GetAsync("/api/v1/orgs/demo/oidc");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task The_cli_learns_the_issuer_and_client_id_without_a_token_and_never_the_secret()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using (var bare = await TestServer.StartAsync(o => o with { AllowHttpLoopbackOidc = true }))
        {
            using var nobody = bare.Client();
            using var none = await nobody.GetAsync("/api/v1/auth/oidc");
            Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
            Assert.Contains("no organisation on this server has single sign-on", (await JsonOf(none))["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        await using var server = await ServerWithOidcAsync(issuer);
        using var anonymous = server.Client();
        foreach (var path in new[] { "/api/v1/auth/oidc", "/api/v1/auth/oidc?org=demo" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain(LocalIssuer.ClientSecret, text, StringComparison.Ordinal);
            var body = JsonNode.Parse(text)!.AsObject();
            Assert.Equal(["organisation", "issuer", "clientId", "scope"], body.Select(p => p.Key));
            Assert.Equal(("demo", issuer.Issuer, LocalIssuer.ClientId, "openid profile email"),
                (body["organisation"]!.GetValue<string>(), body["issuer"]!.GetValue<string>(), body["clientId"]!.GetValue<string>(), body["scope"]!.GetValue<string>()));
        }

        using var elsewhere = await anonymous.GetAsync("/api/v1/auth/oidc?org=elsewhere");
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);

        var (otherAdmin, _) = await server.AddOrganisationAsync("other");
        using (var admin = server.Client(otherAdmin))
        {
            using var put = await admin.PutAsync("/api/v1/orgs/other/oidc", TestServer.Json($$"""{"issuer": "{{issuer.Issuer}}", "clientId": "other-client"}"""));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var ambiguous = await anonymous.GetAsync("/api/v1/auth/oidc");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, ambiguous.StatusCode);
        Assert.Equal("other-client", JsonNode.Parse(await anonymous.GetStringAsync("/api/v1/auth/oidc?org=other"))!["clientId"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_issuer_must_be_https_unless_the_server_allows_loopback_http_for_tests()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var loopback = await admin.PutAsync("/api/v1/orgs/demo/oidc", TestServer.Json($$"""{"issuer": "{{issuer.Issuer}}", "clientId": "c"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, loopback.StatusCode);
        Assert.Contains("https", (await JsonOf(loopback))["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        using var plain = await admin.PutAsync("/api/v1/orgs/demo/oidc", TestServer.Json("""{"issuer": "http://idp.example.com", "clientId": "c"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, plain.StatusCode);
    }

    [Fact]
    public async Task A_configuration_or_an_exchange_with_several_problems_is_refused_with_every_one_at_its_path_and_never_repeats_a_secret()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        using var put = await admin.PutAsync("/api/v1/orgs/demo/oidc", TestServer.Json(
            """{"issuer": "http://idp.example.com", "clientId": "", "clientSecret": 12345678, "adminGroups": ["ok", ""], "tenant": "x"}"""));
        var text = await put.Content.ReadAsStringAsync();
        Assert.True(put.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(["adminGroups", "clientId", "clientSecret", "issuer", "tenant"],
            problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("issuer: an issuer must use https", detail, StringComparison.Ordinal);
        Assert.Contains("clientSecret: expected the client secret (a string), or null for a public client", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("12345678", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/orgs/demo/oidc")).StatusCode);

        using var client = server.Client();
        using var exchange = await client.PostAsync("/api/v1/auth/oidc/exchange", TestServer.Json("""{"org": 7, "id_token": ["secret-looking"], "client": "cli"}"""));
        text = await exchange.Content.ReadAsStringAsync();
        Assert.True(exchange.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        Assert.Equal(["client", "id_token", "org"],
            JsonNode.Parse(text)!["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.DoesNotContain("secret-looking", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_id_token_is_exchanged_for_a_developer_token_that_reads_the_policy()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerWithOidcAsync(issuer);
        using var response = await ExchangeAsync(server, issuer.IdToken());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonOf(response);
        Assert.Equal(("developer", "team"), (body["role"]!.GetValue<string>(), body["account"]!.GetValue<string>()));
        var expires = DateTimeOffset.Parse(body["expiresAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromHours(11.9), TimeSpan.FromHours(12.1));

        using var client = server.Client(body["token"]!.GetValue<string>());
        using var policy = await client.GetAsync("/api/v1/policy");
        Assert.Equal(HttpStatusCode.OK, policy.StatusCode);

        var audit = await ModelTestData.AuditAsync(server, "token.oidc-exchange");
        Assert.Equal("oidc:alice-0001 (alice@example.com)", audit[0].Actor);
        Assert.DoesNotContain(body["token"]!.GetValue<string>(), audit[0].After!, StringComparison.Ordinal);

        using var byIssuer = await ExchangeAsync(server, issuer.IdToken(), org: null);
        Assert.Equal(HttpStatusCode.OK, byIssuer.StatusCode);
        Assert.Equal("demo", (await JsonOf(byIssuer))["organisation"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tokens_for_another_client_expired_forged_or_from_another_issuer_are_refused_with_the_reason()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerWithOidcAsync(issuer);
        var cases = new (string Token, string Reason)[]
        {
            (issuer.IdToken(audience: "some-other-client"), "another client"),
            (issuer.IdToken(expires: DateTimeOffset.UtcNow.AddMinutes(-10)), "expired"),
            (issuer.IdToken(signWith: issuer.ForgedKey()), "signature"),
            (issuer.IdToken(issuer: "https://login.example.net/tenant"), "not this organisation's identity provider"),
            ("not-a-jwt", "not a JWT"),
        };
        foreach (var (token, reason) in cases)
        {
            using var response = await ExchangeAsync(server, token);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains(reason, (await JsonOf(response))["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        using var noAccount = await ExchangeAsync(server, issuer.IdToken(issuer.User with { Account = null }));
        Assert.Equal(HttpStatusCode.Forbidden, noAccount.StatusCode);
        using var unknownAccount = await ExchangeAsync(server, issuer.IdToken(issuer.User with { Account = "nobody" }));
        Assert.Equal(HttpStatusCode.Forbidden, unknownAccount.StatusCode);
        using var unknownOrganisation = await ExchangeAsync(server, issuer.IdToken(), "elsewhere");
        Assert.Equal(HttpStatusCode.NotFound, unknownOrganisation.StatusCode);
    }

    [Fact]
    public async Task The_groups_claim_reaches_the_token_and_narrows_the_models()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerWithOidcAsync(issuer);
        await ModelTestData.PutPolicyAsync(server, """{"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-opus-4-5": true}, "defaultModel": "claude-sonnet-4-6"}""");
        using (var admin = server.Client(TestServer.AdminToken))
        {
            using var rules = await admin.PutAsync("/api/v1/orgs/demo/models/groups", TestServer.Json("""{"rules": [{"group": "contractors", "effect": "deny", "models": ["claude-opus-*"]}]}"""));
            Assert.Equal(HttpStatusCode.OK, rules.StatusCode);
        }

        using var response = await ExchangeAsync(server, issuer.IdToken(issuer.User with { Groups = ["contractors", "engineering"] }));
        var body = await JsonOf(response);
        Assert.Equal(["contractors", "engineering"], body["groups"]!.AsArray().Select(g => g!.GetValue<string>()));
        using (var admin = server.Client(TestServer.AdminToken))
        {
            var groups = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/models/token-groups/" + body["id"]!.GetValue<string>()))!;
            Assert.Equal(["contractors", "engineering"], groups["groups"]!.AsArray().Select(g => g!.GetValue<string>()));
        }

        using var contractor = server.Client(body["token"]!.GetValue<string>());
        var explained = await ModelTestData.GetJsonAsync(contractor, "/api/v1/models/explain?model=claude-opus-4-5");
        Assert.Equal(("denied_for_group", "contractors"), (explained["rule"]!.GetValue<string>(), explained["group"]!.GetValue<string>()));

        using var other = await ExchangeAsync(server, issuer.IdToken(issuer.User with { Groups = ["engineering"] }));
        using var employee = server.Client((await JsonOf(other))["token"]!.GetValue<string>());
        var allowed = await ModelTestData.GetJsonAsync(employee, "/api/v1/models/explain?model=claude-opus-4-5");
        Assert.True(allowed["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_new_key_at_the_issuer_is_picked_up_when_a_token_names_it()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerWithOidcAsync(issuer);
        using (var first = await ExchangeAsync(server, issuer.IdToken()))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var before = issuer.JwksRequests;
        var oldToken = issuer.IdToken();
        issuer.Rotate();
        using (var rotated = await ExchangeAsync(server, issuer.IdToken()))
        {
            Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        }

        Assert.True(issuer.JwksRequests > before);
        using var retired = await ExchangeAsync(server, oldToken);
        Assert.Equal(HttpStatusCode.Unauthorized, retired.StatusCode);
    }

    [Fact]
    public async Task The_console_code_flow_signs_in_an_admin_group_member_and_refuses_anyone_else()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerWithOidcAsync(issuer);
        using var anonymous = server.Client();
        var signInPage = await anonymous.GetStringAsync("/console/sign-in?returnUrl=%2Fo%2Fdemo%2Fconsole");
        Assert.Contains("Sign in with " + issuer.Issuer, signInPage, StringComparison.Ordinal);

        var cookies = new CookieContainer();
        using (var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = server.BaseUrl })
        {
            using var landed = await browser.GetAsync("/console/oidc/start?org=demo&returnUrl=%2Fo%2Fdemo%2Fconsole");
            Assert.Equal(HttpStatusCode.OK, landed.StatusCode);
            Assert.Contains("url=/o/demo/console", await landed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            using var console = await browser.GetAsync("/o/demo/console");
            Assert.Equal(HttpStatusCode.OK, console.StatusCode);
            Assert.Equal("/o/demo/console", console.RequestMessage!.RequestUri!.AbsolutePath);
        }

        var audit = await ModelTestData.AuditAsync(server, "console.sign-in");
        Assert.Equal("oidc:alice-0001 (alice@example.com)", audit[0].Actor);

        issuer.User = issuer.User with { Subject = "bob-0002", Email = "bob@example.com", Groups = ["engineering"] };
        using var developer = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = server.BaseUrl };
        using var refused = await developer.GetAsync("/console/oidc/start?org=demo");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("admin group", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single(await ModelTestData.AuditAsync(server, "console.sign-in-refused"));
    }

    [Fact]
    public async Task A_callback_without_the_sign_in_cookie_or_with_another_state_is_refused()
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await ServerWithOidcAsync(issuer);
        using var stranger = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = server.BaseUrl };
        using var noCookie = await stranger.GetAsync("/console/oidc/callback?code=abc&state=xyz");
        Assert.Equal(HttpStatusCode.Unauthorized, noCookie.StatusCode);

        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = server.BaseUrl };
        using var start = await browser.GetAsync("/console/oidc/start?org=demo");
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        Assert.StartsWith(issuer.Issuer + "/authorize?", start.Headers.Location!.ToString(), StringComparison.Ordinal);
        using var forged = await browser.GetAsync("/console/oidc/callback?code=abc&state=not-the-state");
        Assert.Equal(HttpStatusCode.Redirect, forged.StatusCode);
        Assert.Contains("oidc=state", forged.Headers.Location!.ToString(), StringComparison.Ordinal);
    }
}
