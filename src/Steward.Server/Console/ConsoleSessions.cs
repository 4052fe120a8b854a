using System.Buffers.Text;
using System.Security.Cryptography;

namespace Steward.Server.AdminConsole;

/// <summary>
/// One organisation a console session is signed in to, with the admin token that signed it in (its id, never its value);
/// <paramref name="NeverExpires"/> for a token without expiry (the bootstrap token), which the console asks to replace.
/// </summary>
internal sealed record SessionGrant(Organisation Organisation, Caller Caller, bool NeverExpires = false);

/// <summary>A live console session: the organisations it is signed in to.</summary>
internal sealed record ConsoleSession(string Hash, DateTimeOffset CreatedAt, IReadOnlyList<SessionGrant> Grants)
{
    public SessionGrant? For(string organisationSlug) => Grants.FirstOrDefault(g => g.Organisation.Slug == organisationSlug);
}

/// <summary>
/// Console sessions. The browser holds an opaque random id in an HttpOnly, SameSite=Strict cookie (Secure over https);
/// the server keeps only its SHA-256. A session ends after <see cref="IdleTimeout"/> without a request, after
/// <see cref="AbsoluteLifetime"/> whatever happens, at sign-out, and for an organisation when its token is revoked or expires.
/// </summary>
internal static class ConsoleSessions
{
    public const string CookieName = "steward_console";
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);
    public static readonly TimeSpan AbsoluteLifetime = TimeSpan.FromHours(8);

    /// <summary>How often a session's last-seen time is written (not on every request).</summary>
    private static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);

    private static string Hash(string id) => Tokens.Hash(id);

    /// <summary>The session named by the request's cookie; null when there is none or it has expired (the expired rows are deleted).</summary>
    public static async Task<ConsoleSession?> FindAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        if (context.Request.Cookies[CookieName] is not { Length: > 20 and < 100 } id)
        {
            return null;
        }

        var hash = Hash(id);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            "SELECT s.session_hash, s.created_at, s.last_seen_at, t.id, t.name, t.organisation_id, t.account_id, t.role, t.expires_at, t.revoked_at, o.slug, o.name " +
            "FROM console_sessions s JOIN api_tokens t ON t.id = s.token_id JOIN organisations o ON o.id = s.organisation_id WHERE s.session_hash = @hash ORDER BY o.slug",
            null,
            r => (Hash: r.GetString(0), Created: Timestamps.Parse(r.GetString(1)), LastSeen: Timestamps.Parse(r.GetString(2)),
                Caller: new Caller(r.GetString(3), r.GetString(4), r.GetString(5), r.NullableString(6), r.GetString(7)),
                Expires: r.NullableString(8), Revoked: r.NullableString(9), Organisation: new Organisation(r.GetString(5), r.GetString(10), r.GetString(11))),
            cancellationToken, ("hash", hash)).ConfigureAwait(false);
        if (rows.Count == 0 || !Tokens.Matches(hash, rows[0].Hash))
        {
            return null;
        }

        var created = rows.Min(r => r.Created);
        var lastSeen = rows.Max(r => r.LastSeen);
        if (now - lastSeen >= IdleTimeout || now - created >= AbsoluteLifetime)
        {
            await connection.ExecuteAsync("DELETE FROM console_sessions WHERE session_hash = @hash", null, cancellationToken, ("hash", hash)).ConfigureAwait(false);
            return null;
        }

        var grants = rows
            .Where(r => r.Revoked is null && r.Caller.Role == Roles.Admin && (r.Expires is null || Timestamps.Parse(r.Expires) > now))
            .Select(r => new SessionGrant(r.Organisation, r.Caller, r.Expires is null))
            .ToList();
        if (grants.Count == 0)
        {
            await connection.ExecuteAsync("DELETE FROM console_sessions WHERE session_hash = @hash", null, cancellationToken, ("hash", hash)).ConfigureAwait(false);
            return null;
        }

        if (now - lastSeen >= TouchInterval)
        {
            await connection.ExecuteAsync("UPDATE console_sessions SET last_seen_at = @at WHERE session_hash = @hash", null, cancellationToken,
                ("at", Timestamps.ToText(now)), ("hash", hash)).ConfigureAwait(false);
        }

        return new ConsoleSession(hash, created, grants);
    }

    /// <summary>
    /// Signs <paramref name="caller"/>'s organisation in, always under a new session id whose cookie is set on the response:
    /// a session id that existed before sign-in never gains a grant (an id planted in the browser by someone else — session
    /// fixation — is worthless), and the old id ends. With <paramref name="addToCurrent"/> (the console's "sign in to another
    /// organisation", asked for from inside a session) the organisations the current session holds move to the new id, so
    /// the switcher lists them all; any other sign-in starts a session with this organisation alone.
    /// </summary>
    public static async Task SignInAsync(HttpContext context, Database database, TimeProvider time, ConsoleSession? current, bool addToCurrent, Caller caller, CancellationToken cancellationToken)
    {
        var now = Timestamps.Now(time);
        var at = Timestamps.ToText(now);
        var newId = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(newId);
        var created = current is not null && addToCurrent ? Timestamps.ToText(current.CreatedAt) : at;

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM console_sessions WHERE last_seen_at < @idle OR created_at < @absolute", transaction, cancellationToken,
            ("idle", Timestamps.ToText(now - IdleTimeout)), ("absolute", Timestamps.ToText(now - AbsoluteLifetime))).ConfigureAwait(false);
        if (current is not null)
        {
            await connection.ExecuteAsync(
                addToCurrent ? "DELETE FROM console_sessions WHERE session_hash = @old AND organisation_id = @org" : "DELETE FROM console_sessions WHERE session_hash = @old",
                transaction, cancellationToken, ("old", current.Hash), ("org", caller.OrganisationId)).ConfigureAwait(false);
            if (addToCurrent)
            {
                await connection.ExecuteAsync("UPDATE console_sessions SET session_hash = @hash WHERE session_hash = @old", transaction, cancellationToken,
                    ("hash", hash), ("old", current.Hash)).ConfigureAwait(false);
            }
        }

        await connection.ExecuteAsync(
            "INSERT INTO console_sessions (session_hash, organisation_id, token_id, created_at, last_seen_at) VALUES (@hash, @org, @token, @created, @at)",
            transaction, cancellationToken, ("hash", hash), ("org", caller.OrganisationId), ("token", caller.TokenId), ("created", created), ("at", at)).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE console_sessions SET last_seen_at = @at WHERE session_hash = @hash", transaction, cancellationToken,
            ("at", at), ("hash", hash)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        context.Response.Cookies.Append(CookieName, newId, CookieOptions(context));
    }

    /// <summary>Ends the session everywhere (every organisation) and clears the cookie.</summary>
    public static async Task SignOutAsync(HttpContext context, Database database, ConsoleSession? session, CancellationToken cancellationToken)
    {
        if (session is not null)
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await connection.ExecuteAsync("DELETE FROM console_sessions WHERE session_hash = @hash", null, cancellationToken, ("hash", session.Hash)).ConfigureAwait(false);
        }

        context.Response.Cookies.Delete(CookieName, CookieOptions(context));
    }

    private static CookieOptions CookieOptions(HttpContext context) => new()
    {
        HttpOnly = true,
        Secure = Hosting.PublicAddress.SecureCookies(context),
        SameSite = SameSiteMode.Strict,
        Path = "/",
        IsEssential = true,
    };
}
