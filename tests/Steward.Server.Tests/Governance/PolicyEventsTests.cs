using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Steward.Server.Tests.Governance;

/// <summary>
/// The change channel at the HTTP level: <c>GET /api/v1/policy/events</c> held open with a developer token announces the
/// bundle's ETag at once and again after each change that moves it, says <c>refetch</c> when the token is revoked, and
/// refuses a missing or unknown token with 401 like the bundle endpoint.
/// </summary>
public sealed class PolicyEventsTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    /// <summary>Reads server-sent events (name and data) from a held response, skipping comments.</summary>
    private sealed class EventReader(Stream stream)
    {
        private readonly StreamReader reader = new(stream, Encoding.UTF8);

        public async Task<(string Name, string Data)> NextAsync()
        {
            string? name = null;
            var data = "";
            while (true)
            {
                var line = await reader.ReadLineAsync().WaitAsync(Guard) ?? throw new EndOfStreamException("the stream ended");
                if (line.Length == 0)
                {
                    if (name is not null)
                    {
                        return (name, data);
                    }

                    continue;
                }

                if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    name = line[6..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data = line[5..].Trim();
                }
            }
        }
    }

    private static string ETagOf(string data)
    {
        using var document = JsonDocument.Parse(data);
        return document.RootElement.GetProperty("etag").GetString()!;
    }

    [Fact]
    public async Task The_channel_announces_the_bundles_etag_at_once_and_after_each_change_and_refetch_when_the_token_is_revoked()
    {
        await using var server = await GovernanceServer.StartAsync();
        await server.CreateAccountAsync("web");
        var (token, id) = await server.CreateTokenAsync("developer", "web");
        using var client = server.Client(token);
        client.Timeout = Timeout.InfiniteTimeSpan;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/policy/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Guard);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-cache", response.Headers.CacheControl?.ToString());
        var events = new EventReader(await response.Content.ReadAsStreamAsync());

        var first = await events.NextAsync();
        Assert.Equal("policy", first.Name);
        var (bundle, _) = await server.BundleAsync(token);
        Assert.Equal(bundle.Headers.ETag!.Tag, ETagOf(first.Data));
        Assert.DoesNotContain("servers", first.Data);

        await server.PutProfileAsync("/api/v1/orgs/demo/profile", """{"webToolsEnabled":false}""");
        var changed = await events.NextAsync();
        Assert.Equal("policy", changed.Name);
        Assert.NotEqual(ETagOf(first.Data), ETagOf(changed.Data));
        var (after, _) = await server.BundleAsync(token);
        Assert.Equal(after.Headers.ETag!.Tag, ETagOf(changed.Data));

        using var admin = server.Client(GovernanceServer.AdminToken);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/orgs/demo/tokens/{id}")).StatusCode);
        var revoked = await events.NextAsync();
        Assert.Equal("refetch", revoked.Name);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.BundleAsync(token)).Response.StatusCode);
    }

    [Fact]
    public async Task A_missing_or_unknown_token_is_refused_with_401_as_the_bundle_endpoint_refuses_it()
    {
        await using var server = await GovernanceServer.StartAsync();
        foreach (var token in new string?[] { null, "stw_not-a-token-anyone-was-given" })
        {
            using var client = server.Client(token);
            using var response = await client.GetAsync("/api/v1/policy/events", HttpCompletionOption.ResponseHeadersRead).WaitAsync(Guard);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
    }
}
