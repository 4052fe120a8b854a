using Npgsql;
using Steward.Core.Audit;

namespace Steward.Server.Audit;

/// <summary>
/// The append-only record of admin changes. It is written in the transaction of the change it records, so a change
/// whose audit row cannot be written is not made. Rows hold ids and digests, never a token or a secret value.
/// </summary>
/// <remarks>
/// Each organisation's rows form a <see cref="HashChain"/> in id order: a row stores <c>prev_hash</c> (the hash of the
/// organisation's previous row) and <c>hash</c> over <see cref="Canonical"/>. The chain head is read with the write lock
/// held (SQLite: the <c>BEGIN IMMEDIATE</c> transaction every writer holds; PostgreSQL: the organisation's row locked
/// <c>FOR UPDATE</c>, the lock writers of one organisation already take), so two concurrent appends never link to the
/// same row.
/// </remarks>
internal static class AuditLog
{
    public static async Task WriteAsync(DbConnection connection, DbTransaction transaction, string organisationId, DateTimeOffset at, string actor, string action, string subject, string? before, string? after, long? revision, CancellationToken cancellationToken)
    {
        if (connection is NpgsqlConnection)
        {
            await connection.ExecuteAsync("SELECT id FROM organisations WHERE id = @org FOR UPDATE", transaction, cancellationToken, ("org", organisationId)).ConfigureAwait(false);
            if (!ChangesNothingServed(action))
            {
                // Every admin change writes its audit row in its own transaction: the one place every instance hears of it.
                // PostgreSQL delivers the notification on commit, never for a change rolled back (Policy/ChangeListener).
                await connection.ExecuteAsync("SELECT pg_notify(@channel, @org)", transaction, cancellationToken,
                    ("channel", Policy.ChangeListener.Channel), ("org", organisationId)).ConfigureAwait(false);
            }
        }

        var previous = await connection.ScalarAsync(
            "SELECT hash FROM audit WHERE organisation_id = @org ORDER BY id DESC LIMIT 1", transaction, cancellationToken, ("org", organisationId)).ConfigureAwait(false) as string
            ?? HashChain.Genesis;
        var when = Timestamps.ToText(at);
        var hash = HashChain.Link(previous, Canonical(organisationId, when, actor, action, subject, before, after, revision));
        var written = await connection.ExecuteAsync(
            "INSERT INTO audit (organisation_id, at, actor, action, object, before_json, after_json, revision, prev_hash, hash) VALUES (@org, @at, @actor, @action, @object, @before, @after, @revision, @prev, @hash)",
            transaction, cancellationToken,
            ("org", organisationId), ("at", when), ("actor", actor), ("action", action), ("object", subject), ("before", before), ("after", after), ("revision", revision),
            ("prev", previous), ("hash", hash)).ConfigureAwait(false);
        if (written != 1)
        {
            throw new InvalidOperationException("the audit row was not written");
        }
    }

    /// <summary>Rows that record what happened (refusals, sign-ins, pruning), not a change to anything a gateway or host is served.</summary>
    private static bool ChangesNothingServed(string action) =>
        action is "model.request.refused" or "model.access-denied" or "console.sign-in" or "console.sign-in-refused" or "tool-calls.pruned" or "token.oidc-exchange";

    /// <summary>
    /// The canonical JSON a row's hash covers: every column but <c>id</c> and the hashes, <c>before</c> and <c>after</c>
    /// as the exact text stored. The id is left out because the database assigns it on insert; the order is the chain's.
    /// </summary>
    public static string Canonical(string organisationId, string at, string actor, string action, string subject, string? before, string? after, long? revision)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("organisation", organisationId);
            writer.WriteString("at", at);
            writer.WriteString("actor", actor);
            writer.WriteString("action", action);
            writer.WriteString("object", subject);
            writer.WriteString("before", before);
            writer.WriteString("after", after);
            if (revision is { } r)
            {
                writer.WriteNumber("revision", r);
            }
            else
            {
                writer.WriteNull("revision");
            }

            writer.WriteEndObject();
        }

        return HashChain.Canonical(stream.ToArray());
    }
}
