using System.Globalization;
using Steward.Core.Audit;

namespace Steward.Server.Audit;

/// <summary>Where an organisation's audit chain first breaks: the row id, its position, and what differs.</summary>
internal sealed record AuditBreak(long RowId, long Index, string Reason);

/// <summary>The outcome of verifying an organisation's audit chain.</summary>
internal sealed record AuditVerification(long Rows, string Head, AuditBreak? Break);

/// <summary>Verifying the audit chain, and chaining the rows written before the chain existed (migration 6).</summary>
internal static class AuditChain
{
    private const string Columns = "id, organisation_id, at, actor, action, object, before_json, after_json, revision, prev_hash, hash";

    /// <summary>Reads the organisation's rows in id order and stops at the first broken link.</summary>
    public static async Task<AuditVerification> VerifyAsync(DbConnection connection, string organisationId, CancellationToken cancellationToken)
    {
        var verifier = new HashChain.Verifier();
        await using var command = connection.Command($"SELECT {Columns} FROM audit WHERE organisation_id = @org ORDER BY id", null, ("org", organisationId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var (id, canonical) = Row(reader);
            if (verifier.Add(canonical, reader.NullableString(9), reader.NullableString(10)) is { } broken)
            {
                return new AuditVerification(verifier.Count, verifier.Head, new AuditBreak(id, broken.Index, $"row {id.ToString(CultureInfo.InvariantCulture)}: {broken.Reason}"));
            }
        }

        return new AuditVerification(verifier.Count, verifier.Head, null);
    }

    /// <summary>
    /// Migration 6: gives every existing row its <c>prev_hash</c> and <c>hash</c>, per organisation in id order. The
    /// append-only trigger is lifted for this one update, inside the migration's transaction, and put back.
    /// </summary>
    public static async Task ChainExistingAsync(DbConnection connection, DbTransaction transaction, Dialect dialect, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(dialect == Dialect.Sqlite ? "DROP TRIGGER audit_no_update" : "DROP TRIGGER audit_no_change ON audit", transaction, cancellationToken).ConfigureAwait(false);
        var rows = new List<(long Id, string Organisation, string Canonical)>();
        await using (var command = connection.Command($"SELECT {Columns} FROM audit ORDER BY organisation_id, id", transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var (id, canonical) = Row(reader);
                rows.Add((id, reader.GetString(1), canonical));
            }
        }

        string? organisation = null;
        var previous = HashChain.Genesis;
        foreach (var row in rows)
        {
            if (row.Organisation != organisation)
            {
                organisation = row.Organisation;
                previous = HashChain.Genesis;
            }

            var hash = HashChain.Link(previous, row.Canonical);
            await connection.ExecuteAsync("UPDATE audit SET prev_hash = @prev, hash = @hash WHERE id = @id", transaction, cancellationToken,
                ("prev", previous), ("hash", hash), ("id", row.Id)).ConfigureAwait(false);
            previous = hash;
        }

        await connection.ExecuteAsync(dialect == Dialect.Sqlite
            ? "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END"
            : "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
            transaction, cancellationToken).ConfigureAwait(false);
    }

    private static (long Id, string Canonical) Row(DbDataReader reader) =>
        (reader.Int64(0), AuditLog.Canonical(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.NullableString(6), reader.NullableString(7), reader.NullableInt64(8)));
}
