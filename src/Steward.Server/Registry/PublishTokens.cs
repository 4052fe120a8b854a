using System.Text.RegularExpressions;

namespace Steward.Server.Registry;

/// <summary>
/// Registry publish tokens: bearer tokens for the mcp-publisher endpoints that carry a list of name patterns
/// (<c>com.acme/*</c>, an exact name, or <c>*</c>) and may publish and change the status of matching servers only.
/// Shown once, stored as their SHA-256, expiring. An organisation's admin API tokens publish anything in it.
/// </summary>
internal static partial class PublishTokens
{
    public const string AnonymousNamespace = "io.modelcontextprotocol.anonymous/*";
    public static readonly TimeSpan AnonymousLifetime = TimeSpan.FromMinutes(5);
    public const int DefaultLifetimeDays = 90;
    public const int MaxLifetimeDays = 365;

    internal sealed record PublishToken(string Id, string Name, string OrganisationId, IReadOnlyList<string> Namespaces)
    {
        public string Actor => $"publish-token:{Id} ({Name})";
    }

    /// <summary>True when one of <paramref name="patterns"/> covers the server name: <c>*</c>, a prefix ending in <c>*</c>, or the exact name.</summary>
    public static bool Permits(IEnumerable<string> patterns, string name)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        foreach (var pattern in patterns)
        {
            if (pattern == "*" ||
                (pattern.EndsWith('*') && name.StartsWith(pattern[..^1], StringComparison.Ordinal)) ||
                string.Equals(pattern, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="pattern"/> is a name pattern a publish token may carry.</summary>
    public static bool IsPattern(string pattern) => PatternSyntax().IsMatch(pattern);

    [GeneratedRegex(@"^(\*|[a-zA-Z0-9][a-zA-Z0-9.-]*(\*|/\*|/[a-zA-Z0-9._-]*\*?))$", RegexOptions.CultureInvariant)]
    private static partial Regex PatternSyntax();

    public static async Task<PublishToken?> FindAsync(Database database, string token, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var hash = Tokens.Hash(token);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            "SELECT id, name, organisation_id, namespaces, token_hash, expires_at, revoked_at FROM registry_publish_tokens WHERE token_hash = @hash",
            null,
            r => (Token: new PublishToken(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3).Split('\n', StringSplitOptions.RemoveEmptyEntries)),
                Hash: r.GetString(4), Expires: r.GetString(5), Revoked: r.NullableString(6)),
            cancellationToken, ("hash", hash)).ConfigureAwait(false);
        if (rows.Count != 1 || !Tokens.Matches(hash, rows[0].Hash) || rows[0].Revoked is not null || Timestamps.Parse(rows[0].Expires) <= now)
        {
            return null;
        }

        return rows[0].Token;
    }

    /// <summary>Records a token; the value is returned to the caller once and only its hash is kept.</summary>
    public static async Task<(string Id, string Token)> InsertAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, string organisationId, string name,
        IReadOnlyList<string> namespaces, DateTimeOffset now, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        var id = Tokens.NewId("ptk");
        var token = Tokens.Generate();
        // Before the insert, as for API tokens (Authentication.CreateTokenAsync): the audit row's lock in the other order deadlocks.
        await Database.LockOrganisationOfAsync(connection, transaction, organisationId, cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO registry_publish_tokens (id, organisation_id, name, token_hash, namespaces, created_at, expires_at) VALUES (@id, @org, @name, @hash, @namespaces, @at, @expires)",
            transaction, cancellationToken, ("id", id), ("org", organisationId), ("name", name), ("hash", Tokens.Hash(token)),
            ("namespaces", string.Join('\n', namespaces)), ("at", Timestamps.ToText(now)), ("expires", Timestamps.ToText(expires))).ConfigureAwait(false);
        return (id, token);
    }

    /// <summary>An anonymous token for <c>POST /v0/auth/none</c>; expired anonymous tokens of the organisation are removed on the way.</summary>
    public static async Task<(string Token, DateTimeOffset Expires)> IssueAnonymousAsync(Database database, string organisationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM registry_publish_tokens WHERE organisation_id = @org AND name = 'anonymous' AND expires_at < @now",
            transaction, cancellationToken, ("org", organisationId), ("now", Timestamps.ToText(now))).ConfigureAwait(false);
        var expires = now + AnonymousLifetime;
        var (_, token) = await InsertAsync(connection, transaction, organisationId, "anonymous", [AnonymousNamespace], now, expires, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (token, expires);
    }

    /// <summary>
    /// <c>POST /api/v1/orgs/{org}/registry/publish-tokens</c> with <c>{"name": "ci", "namespaces": ["com.acme/*"], "expiresInDays": 90}</c>:
    /// 201 with the token (shown once), its id, namespaces and expiry. Audited without the token.
    /// </summary>
    internal static async Task<IResult> CreateAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var read = await RequestRecord.ReadAsync(context.Request, RequestBodies.MaxBytes, ServerJsonContext.Default.NewPublishToken,
            (body, check) => body.Validate(check), cancellationToken).ConfigureAwait(false);
        if (read.Value is not { } request)
        {
            return Problems.Of(read.Problem!);
        }

        var now = Timestamps.Now(time);
        var expires = now.AddDays(request.ExpiresInDays);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var (id, token) = await InsertAsync(connection, transaction, organisation.Id, request.Name, request.Namespaces, now, expires, cancellationToken).ConfigureAwait(false);
        var view = TokenView(secret: null);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "registry.publish-token.create", "publish-token:" + id, null,
            System.Text.Encoding.UTF8.GetString(view), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(TokenView(token), StatusCodes.Status201Created);

        // The audit row records the token as its creator is shown it, less the secret and the expiry's Unix form.
        byte[] TokenView(string? secret) => ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("name", request.Name);
            if (secret is not null)
            {
                w.WriteString("token", secret);
            }

            w.WriteStartArray("namespaces");
            foreach (var pattern in request.Namespaces)
            {
                w.WriteStringValue(pattern);
            }

            w.WriteEndArray();
            w.WriteString("expiresAt", Timestamps.ToText(expires));
            if (secret is not null)
            {
                w.WriteNumber("expiresAtUnix", expires.ToUnixTimeSeconds());
            }

            w.WriteEndObject();
        });
    }
}
