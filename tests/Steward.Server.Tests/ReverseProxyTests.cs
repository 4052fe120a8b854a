using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Steward.Tests;

namespace Steward.Server.Tests;

/// <summary>
/// Behind a TLS-terminating reverse proxy (deploy/nginx.conf): forwarded headers are believed from the configured proxies
/// only; https requests get HSTS and Secure cookies; the OIDC redirect URI is https.
/// </summary>
public sealed class ReverseProxyTests
{
    private static HttpClient Plain(TestServer server) =>
        new(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = server.BaseUrl };

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? forwardedProto, string? cookie = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (forwardedProto is not null)
        {
            request.Headers.Add("X-Forwarded-Proto", forwardedProto);
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        }

        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return await client.SendAsync(request);
    }

    private static IReadOnlyList<string> SetCookies(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? [.. values] : [];

    private static string CookieNamed(HttpResponseMessage response, string name) =>
        Assert.Single(SetCookies(response), c => c.StartsWith(name + "=", StringComparison.Ordinal));

    /// <summary>Signs in through the console's form, as a browser behind the proxy would: the session cookie's Set-Cookie line.</summary>
    private static async Task<string> SignInAsync(HttpClient client, string? forwardedProto)
    {
        using var form = await GetAsync(client, "/console/sign-in", forwardedProto);
        var antiforgeryCookie = CookieNamed(form, "steward_console_csrf").Split(';')[0];
        var antiforgery = Regex.Match(await form.Content.ReadAsStringAsync(), "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/console/sign-in")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["_handler"] = "sign-in",
                ["__RequestVerificationToken"] = antiforgery,
                ["Token"] = TestServer.AdminToken,
            }),
        };
        request.Headers.Add("Cookie", antiforgeryCookie);
        if (forwardedProto is not null)
        {
            request.Headers.Add("X-Forwarded-Proto", forwardedProto);
        }

        using var signedIn = await client.SendAsync(request);
        Assert.True(signedIn.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.OK or HttpStatusCode.SeeOther, $"{(int)signedIn.StatusCode}");
        return CookieNamed(signedIn, "steward_console");
    }

    [Fact]
    public async Task Through_a_trusted_proxy_an_https_request_gets_HSTS_and_Secure_cookies()
    {
        await using var server = await TestServer.StartAsync(o => o with { TrustedProxies = ["127.0.0.1"] });
        using var client = Plain(server);

        using var page = await GetAsync(client, "/console/sign-in", "https");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("max-age=31536000", Assert.Single(page.Headers.GetValues("Strict-Transport-Security")));
        Assert.Contains("; secure", CookieNamed(page, "steward_console_csrf"), StringComparison.OrdinalIgnoreCase);
        var session = await SignInAsync(client, "https");
        Assert.Contains("; secure", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; httponly", session, StringComparison.OrdinalIgnoreCase);

        // Plain http through the same proxy stays plain: no HSTS, no Secure flag (the browser would drop the cookie).
        using var plain = await GetAsync(client, "/console/sign-in", "http");
        Assert.False(plain.Headers.Contains("Strict-Transport-Security"));
        Assert.DoesNotContain("; secure", CookieNamed(plain, "steward_console_csrf"), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("192.0.2.10")]
    public async Task Forwarded_headers_from_an_address_that_is_not_a_trusted_proxy_are_ignored(string? trusted)
    {
        await using var server = await TestServer.StartAsync(o => o with { TrustedProxies = trusted is null ? [] : [trusted] });
        using var client = Plain(server);

        using var page = await GetAsync(client, "/console/sign-in", "https");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.False(page.Headers.Contains("Strict-Transport-Security"));
        Assert.DoesNotContain("; secure", CookieNamed(page, "steward_console_csrf"), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("; secure", await SignInAsync(client, "https"), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_https_public_url_makes_the_session_cookie_Secure_even_on_a_request_that_arrived_as_http()
    {
        await using var server = await TestServer.StartAsync(o => o with { PublicUrl = new Uri("https://steward.example.test") });
        using var client = Plain(server);

        var session = await SignInAsync(client, null);

        Assert.Contains("; secure", session, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("proxy")]
    [InlineData("public-url")]
    public async Task The_OIDC_redirect_uri_is_https_behind_the_proxy(string how)
    {
        await using var issuer = await LocalIssuer.StartAsync();
        await using var server = await TestServer.StartAsync(o => how == "proxy"
            ? o with { AllowHttpLoopbackOidc = true, TrustedProxies = ["127.0.0.0/8"] }
            : o with { AllowHttpLoopbackOidc = true, PublicUrl = new Uri("https://steward.example.test") });
        using (var admin = server.Client(TestServer.AdminToken))
        using (var put = await admin.PutAsync("/api/v1/orgs/demo/oidc", TestServer.Json($$"""
            {"issuer": "{{issuer.Issuer}}", "clientId": "{{LocalIssuer.ClientId}}", "clientSecret": "{{LocalIssuer.ClientSecret}}", "adminGroups": ["steward-admins"]}
            """)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var client = Plain(server);
        using var start = await GetAsync(client, "/console/oidc/start?org=demo", how == "proxy" ? "https" : null);

        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var expected = how == "proxy" ? $"https://{server.BaseUrl.Authority}/console/oidc/callback" : "https://steward.example.test/console/oidc/callback";
        Assert.Contains("redirect_uri=" + Uri.EscapeDataString(expected), start.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Contains("; secure", CookieNamed(start, "steward_oidc"), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("not-an-address", "--trusted-proxy: \"not-an-address\" is not an IP address or network")]
    [InlineData("10.0.0.0/99", "--trusted-proxy: \"10.0.0.0/99\" is not an IP address or network")]
    public async Task A_bad_trusted_proxy_stops_the_start_with_a_line_naming_it(string proxy, string message)
    {
        var dataDir = Path.Combine(Directory.CreateTempSubdirectory("steward-proxy-").FullName, "data");
        var messages = new StringWriter();

        var code = await StewardServer.RunAsync(new ServeOptions
        {
            DataDir = dataDir, Urls = ["http://127.0.0.1:0"], TrustedProxies = [proxy], Messages = messages, LogLevel = LogLevel.None,
        }, CancellationToken.None);

        Assert.Equal(2, code);
        Assert.Contains(message, messages.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "steward.db")), "nothing is created before the options are checked");
    }

    [Fact]
    public void A_public_url_that_is_not_an_http_address_is_refused_naming_the_option()
    {
        var refused = Assert.Throws<ServeException>(() => ServeOptions.ParsePublicUrl("ftp://steward.example.test"));
        Assert.Equal("--public-url", refused.Option);
        Assert.Contains("https://steward.example.com", refused.Message, StringComparison.Ordinal);
        Assert.Null(ServeOptions.ParsePublicUrl(" "));
    }
}
