using System.Net;
using System.Net.Http.Headers;

namespace Steward.Server.Tests;

/// <summary>Failed authentications are rate-limited per client address and per token prefix; successful requests are not.</summary>
public sealed class AuthenticationThrottleTests
{
    private static async Task<HttpStatusCode> GetProfileAsync(TestServer server, string token, string? forwardedFor = null)
    {
        using var client = server.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/orgs/demo/profile");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        using var response = await client.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            Assert.Equal("2", response.Headers.GetValues("Retry-After").Single());
            Assert.Contains("too many failed authentications", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        return response.StatusCode;
    }

    private static string Guess() => "stw_" + Guid.NewGuid().ToString("N");

    /// <summary>
    /// Guesses until the server answers 429: the bucket starts full (30), so the first 30 are always 401; a permit comes
    /// back every 2 s, so on a slow machine a few more may pass before the 429 (bounded, never timed).
    /// </summary>
    private static async Task GuessUntilThrottledAsync(TestServer server, Func<int, string> token, Func<int, string?> forwardedFor)
    {
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await GetProfileAsync(server, token(i), forwardedFor(i)));
        }

        for (var i = 30; i < 130; i++)
        {
            if (await GetProfileAsync(server, token(i), forwardedFor(i)) == HttpStatusCode.TooManyRequests)
            {
                return;
            }
        }

        Assert.Fail("130 failed authentications were never answered 429");
    }

    [Fact]
    public async Task An_address_gets_30_failed_guesses_a_minute_by_default_and_then_429_for_every_request()
    {
        await using var server = await TestServer.StartAsync(o => o with { FailedAuthenticationsPerMinute = new ServeOptions().FailedAuthenticationsPerMinute });
        Assert.Equal(HttpStatusCode.OK, await GetProfileAsync(server, TestServer.AdminToken));

        await GuessUntilThrottledAsync(server, _ => Guess(), _ => null);

        // While the address is throttled, not even a right token is looked up from it.
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetProfileAsync(server, TestServer.AdminToken));
    }

    [Fact]
    public async Task Guesses_of_one_token_prefix_are_throttled_whatever_address_they_come_from()
    {
        await using var server = await TestServer.StartAsync(o => o with { TrustedProxies = ["127.0.0.1"], FailedAuthenticationsPerMinute = 30 });
        const string prefix = "stw_AAAAAAAA";

        await GuessUntilThrottledAsync(server, _ => prefix + Guid.NewGuid().ToString("N"), i => $"198.51.{100 + (i / 250)}.{(i % 250) + 1}");

        // Another address with another token is not affected; an address is told apart by what the trusted proxy forwarded.
        Assert.Equal(HttpStatusCode.OK, await GetProfileAsync(server, TestServer.AdminToken, "203.0.113.201"));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetProfileAsync(server, Guess(), "203.0.113.202"));
    }
}
