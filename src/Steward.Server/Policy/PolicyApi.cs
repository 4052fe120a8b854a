using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Core.Policy;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Identity;
using Steward.Server.Organisations;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Policy;

/// <summary>
/// The signed policy bundle (<c>GET /api/v1/policy</c>), the keys that verify it (<c>GET /api/v1/policy/keys</c>) and
/// key rotation (<c>POST /api/v1/admin/keys/rotate</c>). See docs/policy-bundle.md.
/// </summary>
internal static class PolicyApi
{
    public const int MaxRotateBodyBytes = 4 * 1024;
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromDays(30);
    public static readonly TimeSpan MinimumGrace = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaximumGrace = TimeSpan.FromDays(365);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/policy", BundleAsync);
        app.MapGet("/api/v1/policy/keys", KeysAsync);
        app.MapPost("/api/v1/admin/keys/rotate", RotateAsync);
    }

    /// <summary>
    /// The effective profile of the caller's account (the organisation's for a token without an account), signed.
    /// 200 <c>application/jose</c> with the compact JWS and an ETag; 304 when <c>If-None-Match</c> names it; 401 without a valid token.
    /// </summary>
    internal static async Task<IResult> BundleAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, BundleCache cache, CancellationToken cancellationToken)
    {
        var caller = await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return Authentication.Unauthorized(context);
        }

        byte[] payload;
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            var organisation = await Profiles.FindOrganisationByIdAsync(connection, caller.OrganisationId, cancellationToken).ConfigureAwait(false);
            if (organisation is null)
            {
                return Authentication.Unauthorized(context);
            }

            var account = caller.AccountId is { } accountId ? await Profiles.FindAccountByIdAsync(connection, accountId, cancellationToken).ConfigureAwait(false) : null;
            var effective = await Profiles.EffectiveAsync(connection, organisation, account, cancellationToken).ConfigureAwait(false);
            var entries = effective.Settings.McpEnabled && effective.Settings.RegistryMode == RegistryModes.Hosted
                ? await AdmittedEntries.LoadAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false)
                : [];
            var models = await Models.ModelBundle.ForAsync(connection, context.RequestServices, caller, organisation.Slug, account?.Slug, cancellationToken).ConfigureAwait(false);
            payload = Payload(effective, entries, time.GetUtcNow(), models);
        }

        var (kid, key) = await keys.ActiveAsync(cancellationToken).ConfigureAwait(false);
        var signingInput = PolicyBundle.SigningInput(payload, kid);
        var etag = ETags.Of(Encoding.ASCII.GetBytes(signingInput));
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = "private, no-cache";
        if (ETags.Matches(context.Request.Headers.IfNoneMatch.ToString(), etag))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        var jws = cache.GetOrSign(etag, signingInput, key);
        return Results.Bytes(Encoding.ASCII.GetBytes(jws), PolicyBundle.MediaType);
    }

    /// <summary>
    /// The bundle's payload. Its times are aligned to a window (the sync interval, or half the validity when that is
    /// shorter), so that every request and every instance in one window produce the same bytes, hence the same ETag,
    /// and a bundle fetched at any moment stays valid for at least half its validity.
    /// </summary>
    internal static byte[] Payload(EffectiveProfile effective, IReadOnlyList<StoredEntry> entries, DateTimeOffset now, Action<Utf8JsonWriter>? models = null)
    {
        var settings = effective.Settings;
        var validity = settings.MaxOfflineAgeSeconds ?? (2 * settings.SyncIntervalSeconds);
        var window = Math.Max(1, Math.Min(settings.SyncIntervalSeconds, validity / 2));
        var issuedAt = now.ToUnixTimeSeconds() / window * window;
        return RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("sub", effective.Account is { } a ? $"{effective.Organisation.Slug}/a/{a.Slug}" : effective.Organisation.Slug);
            w.WriteNumber("iat", issuedAt);
            w.WriteNumber("exp", issuedAt + validity);
            w.WriteString("revision", effective.Revision);
            w.WriteString("organisation", effective.Organisation.Slug);
            if (effective.Account is { } account)
            {
                w.WriteString("account", account.Slug);
            }
            else
            {
                w.WriteNull("account");
            }

            w.WriteStartObject("profile");
            w.WriteString("scope", effective.AccountProfile is null ? "organisation" : "account");
            settings.WriteTo(w);
            w.WriteEndObject();
            if (settings.RegistryMode == RegistryModes.Hosted)
            {
                w.WriteStartObject("registry");
                w.WriteStartArray("servers");
                foreach (var entry in entries)
                {
                    RegistryJson.WriteItem(w, entry);
                }

                w.WriteEndArray();
                w.WriteStartObject("metadata");
                w.WriteNumber("count", entries.Count);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("registry");
            }

            w.WriteStartArray("models");
            models?.Invoke(w);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary><c>GET /api/v1/policy/keys</c>: the JWK Set (active key first) and the endorsements of each successor key by its predecessor.</summary>
    internal static async Task<IResult> KeysAsync(HttpContext context, SigningKeys keys, TimeProvider time, CancellationToken cancellationToken)
    {
        var published = await keys.PublishedAsync(time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var body = RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("keys");
            foreach (var key in published)
            {
                key.Jwk.WriteTo(w);
            }

            w.WriteEndArray();
            w.WriteStartArray("endorsements");
            foreach (var key in published.Where(k => k.Endorsement is not null))
            {
                w.WriteStringValue(key.Endorsement);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        context.Response.Headers.CacheControl = "public, max-age=300";
        return ETags.Json(context, body);
    }

    /// <summary>
    /// <c>POST /api/v1/admin/keys/rotate</c> (an admin of the first organisation), optional body <c>{"graceSeconds": n}</c>:
    /// a new active key; the previous one stays in the JWKS for the grace period (default 30 days) and endorses the new one.
    /// </summary>
    internal static async Task<IResult> RotateAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, CancellationToken cancellationToken)
    {
        var caller = await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return Authentication.Unauthorized(context);
        }

        var first = await Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false);
        if (caller.Role != Roles.Admin || first is null || first.Id != caller.OrganisationId)
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "Forbidden", "rotating the server's signing key needs an admin token of the first organisation");
        }

        var body = await RequestBodies.ReadAsync(context.Request, MaxRotateBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(MaxRotateBodyBytes);
        }

        var grace = DefaultGrace;
        if (body.Length > 0)
        {
            var form = JsonForm.Parse(body, ["graceSeconds"]);
            if (form.Problem is { } problem)
            {
                return problem;
            }

            if (form.Root.TryGetProperty("graceSeconds", out var value))
            {
                if (!JsonForm.TryInteger(value, out var seconds) || seconds < MinimumGrace.TotalSeconds || seconds > MaximumGrace.TotalSeconds)
                {
                    return JsonForm.Invalid("graceSeconds", $"expected whole seconds from {MinimumGrace.TotalSeconds:0} to {MaximumGrace.TotalSeconds:0}", value.GetRawText());
                }

                grace = TimeSpan.FromSeconds(seconds);
            }
        }

        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var (previous, next) = await keys.RotateAsync(connection, transaction, now, now + grace, cancellationToken).ConfigureAwait(false);
        var before = JsonSerializer.Serialize(new Dictionary<string, string> { ["activeKid"] = previous.Jwk.Kid }, ServerJsonContext.Default.DictionaryStringString);
        var after = JsonSerializer.Serialize(new Dictionary<string, string> { ["activeKid"] = next.Jwk.Kid, ["previousKid"] = previous.Jwk.Kid, ["previousPublishedUntil"] = previous.PublishedUntil! },
            ServerJsonContext.Default.DictionaryStringString);
        await AuditLog.WriteAsync(connection, transaction, first.Id, now, caller.Actor, "signing-key.rotate", "signing-key:" + next.Jwk.Kid, before, after, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        var response = RegistryJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("kid", next.Jwk.Kid);
            w.WritePropertyName("jwk");
            next.Jwk.WriteTo(w);
            w.WriteString("previousKid", previous.Jwk.Kid);
            w.WriteString("previousPublishedUntil", previous.PublishedUntil);
            w.WriteString("endorsement", next.Endorsement);
            w.WriteEndObject();
        });
        return new JsonBytes(response, StatusCodes.Status201Created);
    }
}

/// <summary>Signed bundles by ETag: the same content is signed once per instance, not once per request.</summary>
internal sealed class BundleCache
{
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, string> _signed = new(StringComparer.Ordinal);

    public string GetOrSign(string etag, string signingInput, System.Security.Cryptography.ECDsa key)
    {
        if (_signed.TryGetValue(etag, out var jws))
        {
            return jws;
        }

        if (_signed.Count >= MaxEntries)
        {
            _signed.Clear();
        }

        jws = PolicyBundle.SignInput(signingInput, key);
        _signed[etag] = jws;
        return jws;
    }
}

/// <summary>Reading a small JSON request body field by field, so that every problem names its field (422) and a body that is not JSON is a 400.</summary>
internal sealed class JsonForm
{
    private JsonForm(JsonElement root, IResult? problem)
    {
        Root = root;
        Problem = problem;
    }

    public JsonElement Root { get; }
    public IResult? Problem { get; }

    /// <summary>The body as a JSON object whose members are all among <paramref name="known"/>; else a problem naming what is wrong.</summary>
    public static JsonForm Parse(byte[] body, IReadOnlyCollection<string> known)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return new JsonForm(default, Problems.BadRequest("the body is not JSON: " + e.Message));
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return new JsonForm(root, Problems.BadRequest("the body must be a JSON object"));
        }

        foreach (var member in root.EnumerateObject())
        {
            if (!known.Contains(member.Name))
            {
                return new JsonForm(root, Invalid(member.Name, $"unknown field; expected one of {string.Join(", ", known)}", null));
            }
        }

        return new JsonForm(root, null);
    }

    public static IResult Invalid(string field, string message, string? value) =>
        Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", $"{field}: {message}",
            [new ProblemItem { Location = "body." + field, Message = message, Value = value }]);

    public static bool TryInteger(JsonElement value, out long result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out result);
    }
}
