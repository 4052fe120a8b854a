using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Server.Registry;

/// <summary>One stored server version: its canonical server.json and the registry's bookkeeping for it.</summary>
internal sealed record StoredEntry(
    string Name,
    string Version,
    string ServerJson,
    string Status,
    string? StatusMessage,
    string StatusChangedAt,
    string PublishedAt,
    string UpdatedAt,
    bool IsLatest)
{
    public const string Columns = "name, version, server_json, status, status_message, status_changed_at, published_at, updated_at, is_latest";

    public static StoredEntry Read(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4), r.GetString(5), r.GetString(6), r.GetString(7), r.Boolean(8));

    /// <summary>The stored server.json, read back into Core's model.</summary>
    public ServerDetail Server() =>
        JsonSerializer.Deserialize(ServerJson, CoreJsonContext.Default.ServerDetail) ?? throw new InvalidOperationException($"the stored server.json of {Name}@{Version} is null");
}
