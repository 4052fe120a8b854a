using System.Text.Json;
using System.Text.Json.Nodes;

namespace Steward.Agent.Sources;

/// <summary>What <c>POST /api/v1/auth/oidc/exchange</c> gave: a developer token (never printed) and what it is for.</summary>
public sealed record OidcExchangeResult(string? Token, string? Account, DateTimeOffset? ExpiresAt, IReadOnlyList<string> Groups, string? Error);

public sealed partial class PolicyFetcher
{
    /// <summary>The largest answer of the token exchange read: 1 MiB, far more than a token, its account and groups take.</summary>
    private const int MaxExchangeAnswerBytes = 1024 * 1024;

    /// <summary>
    /// Exchanges an ID token from the organisation's identity provider for a Steward developer token at
    /// <paramref name="serverUrl"/> (same transport rules as a policy source). The ID token is sent once and not kept.
    /// </summary>
    public async Task<OidcExchangeResult> ExchangeOidcAsync(string serverUrl, string? organisation, string idToken, bool allowHttp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(idToken);
        if (!Uri.TryCreate(serverUrl, UriKind.Absolute, out var uri))
        {
            return new OidcExchangeResult(null, null, null, [], $"\"{serverUrl}\" is not a Steward server URL");
        }

        if (SourceAddress.Check(uri, allowHttp) is { } refused)
        {
            return new OidcExchangeResult(null, null, null, [], refused);
        }

        var body = new JsonObject { ["id_token"] = idToken.Trim() };
        if (organisation is { Length: > 0 })
        {
            body["org"] = organisation;
        }

        var endpoint = new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/api/v1/auth/oidc/exchange");
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            if (await Core.Net.BoundedReader.ReadAsync(stream, MaxExchangeAnswerBytes, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false) is not { } answer)
            {
                return new OidcExchangeResult(null, null, null, [], $"{endpoint} sent more than {MaxExchangeAnswerBytes:N0} bytes, the limit for the token exchange's answer");
            }

            var json = answer.Length > 0 ? JsonNode.Parse(answer) as JsonObject : null;
            if (!response.IsSuccessStatusCode)
            {
                var detail = json?["detail"]?.GetValue<string>() ?? $"HTTP {(int)response.StatusCode}";
                return new OidcExchangeResult(null, null, null, [], $"{endpoint.GetLeftPart(UriPartial.Authority)} refused the ID token: {detail}");
            }

            if (json?["token"]?.GetValue<string>() is not { Length: > 0 } token)
            {
                return new OidcExchangeResult(null, null, null, [], $"{endpoint} answered without a token");
            }

            DateTimeOffset? expires = json["expiresAt"]?.GetValue<string>() is { } at && DateTimeOffset.TryParse(at, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;
            var groups = json["groups"] is JsonArray array ? array.Select(g => g?.GetValue<string>() ?? "").Where(g => g.Length > 0).ToList() : [];
            return new OidcExchangeResult(token, json["account"]?.GetValue<string>(), expires, groups, null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or InvalidOperationException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new OidcExchangeResult(null, null, null, [], $"{endpoint.GetLeftPart(UriPartial.Authority)} cannot be reached for the token exchange: {NetErrors.Message(e, endpoint)}");
        }
    }
}
