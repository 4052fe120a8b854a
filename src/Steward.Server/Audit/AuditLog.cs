using System.Data.Common;
using Steward.Server.Storage;

namespace Steward.Server.Audit;

/// <summary>
/// The append-only record of admin changes. It is written in the transaction of the change it records, so a change
/// whose audit row cannot be written is not made. Rows hold ids and digests, never a token or a secret value.
/// </summary>
internal static class AuditLog
{
    public static async Task WriteAsync(DbConnection connection, DbTransaction transaction, string organisationId, DateTimeOffset at, string actor, string action, string subject, string? before, string? after, long? revision, CancellationToken cancellationToken)
    {
        var written = await connection.ExecuteAsync(
            "INSERT INTO audit (organisation_id, at, actor, action, object, before_json, after_json, revision) VALUES (@org, @at, @actor, @action, @object, @before, @after, @revision)",
            transaction, cancellationToken,
            ("org", organisationId), ("at", Timestamps.ToText(at)), ("actor", actor), ("action", action), ("object", subject), ("before", before), ("after", after), ("revision", revision)).ConfigureAwait(false);
        if (written != 1)
        {
            throw new InvalidOperationException("the audit row was not written");
        }
    }
}
