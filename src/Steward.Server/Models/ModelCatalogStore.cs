using System.Security.Cryptography;
using System.Text;
using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>The installation's catalog as stored: its JSON, its revision, where it came from.</summary>
internal sealed record StoredCatalog(ModelCatalog Catalog, byte[] Json, long Revision, string Source, string UpdatedAt)
{
    public string Digest => Convert.ToHexStringLower(SHA256.HashData(Json));
}

/// <summary>
/// The model catalog of the installation: one row, seeded from the catalog Steward ships with on first start and
/// replaced whole by an import. Parsed catalogs are kept by revision, so a request reads one number, not the catalog.
/// </summary>
internal sealed class ModelCatalogStore
{
    public const string DefaultSource = "default";
    public const string ImportSource = "import";

    private volatile StoredCatalog? _cached;

    /// <summary>Seeds the default catalog when there is none (first start, or a database that predates the models).</summary>
    public static async Task<bool> SeedAsync(Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        if (await connection.ScalarAsync("SELECT 1 FROM model_catalog WHERE id = 1", transaction, cancellationToken).ConfigureAwait(false) is not null)
        {
            return false;
        }

        var inserted = await connection.ExecuteAsync(
            database.Dialect == Dialect.Postgres
                ? "INSERT INTO model_catalog (id, catalog_json, revision, source, updated_at) VALUES (1, @json, 1, @source, @at) ON CONFLICT (id) DO NOTHING"
                : "INSERT OR IGNORE INTO model_catalog (id, catalog_json, revision, source, updated_at) VALUES (1, @json, 1, @source, @at)",
            transaction, cancellationToken, ("json", Encoding.UTF8.GetString(DefaultJson())), ("source", DefaultSource), ("at", Timestamps.ToText(Timestamps.Now(time)))).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return inserted == 1;
    }

    /// <summary>The catalog at <paramref name="revision"/> (read with the rest of a request's data); loads it when this instance has another.</summary>
    public async Task<StoredCatalog> GetAsync(DbConnection connection, long? revision, CancellationToken cancellationToken)
    {
        if (_cached is { } cached && revision is { } wanted && cached.Revision == wanted)
        {
            return cached;
        }

        var rows = await connection.QueryAsync("SELECT catalog_json, revision, source, updated_at FROM model_catalog WHERE id = 1", null,
            r => (Json: r.GetString(0), Revision: r.Int64(1), Source: r.GetString(2), UpdatedAt: r.GetString(3)), cancellationToken).ConfigureAwait(false);
        if (rows.Count == 0)
        {
            return new StoredCatalog(ModelCatalogReader.Default, DefaultJson(), 0, DefaultSource, "");
        }

        var row = rows[0];
        if (_cached is { } current && current.Revision == row.Revision)
        {
            return current;
        }

        var bytes = Encoding.UTF8.GetBytes(row.Json);
        var read = ModelCatalogReader.Read(bytes);
        if (!read.IsValid)
        {
            throw new InvalidOperationException($"the stored model catalog (revision {row.Revision}) is not valid; import a valid catalog");
        }

        var loaded = new StoredCatalog(read.Catalog!, bytes, row.Revision, row.Source, row.UpdatedAt);
        _cached = loaded;
        return loaded;
    }

    public static byte[] DefaultJson()
    {
        using var stream = typeof(ModelCatalogReader).Assembly.GetManifestResourceStream("Steward.Core.Models.default-catalog.json")
            ?? throw new InvalidOperationException("the default model catalog is missing from Steward.Core");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
