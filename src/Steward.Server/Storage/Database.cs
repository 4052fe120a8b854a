using Microsoft.Data.Sqlite;
using Npgsql;

namespace Steward.Server.Storage;

public enum Dialect
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The server's database: an embedded SQLite file (WAL, <c>synchronous=FULL</c>, so an acknowledged write survives
/// <c>kill -9</c>) or a PostgreSQL server. Connections come out ready to use; the SQL is the same on both except
/// where <see cref="Dialect"/> says otherwise.
/// </summary>
public sealed class Database : IAsyncDisposable
{
    private readonly string? _sqlite;
    private readonly NpgsqlDataSource? _postgres;

    private Database(Dialect dialect, string description, string? sqlite, NpgsqlDataSource? postgres)
    {
        Dialect = dialect;
        Description = description;
        _sqlite = sqlite;
        _postgres = postgres;
    }

    public Dialect Dialect { get; }

    /// <summary>Where the data lives, for people: a file path or host/port/database, never a password.</summary>
    public string Description { get; }

    /// <summary>Milliseconds a SQLite writer waits for another writer before giving up.</summary>
    public const int SqliteBusyTimeoutMilliseconds = 10_000;

    public static Database Sqlite(string path)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        };
        return new Database(Dialect.Sqlite, path, builder.ConnectionString, null);
    }

    /// <summary>A PostgreSQL connection string (<c>Host=…;Database=…;Username=…</c>); throws <see cref="ArgumentException"/> when it is not one.</summary>
    public static Database Postgres(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new ArgumentException("the connection string has no Host", nameof(connectionString));
        }

        if (builder.MaxAutoPrepare == 0)
        {
            // The same few statements run on every request: let Npgsql prepare them once per physical connection.
            builder.MaxAutoPrepare = 64;
        }

        var description = $"postgresql://{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username ?? ""}";
        return new Database(Dialect.Postgres, description, null, NpgsqlDataSource.Create(builder));
    }

    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => OpenAsync(forWrites: true, cancellationToken);

    /// <summary>
    /// A connection for reads only (the Registry API's hot path): on SQLite it skips the per-connection write settings
    /// (durability, busy wait, foreign keys), which only writes need; readers of a WAL database never wait for a writer.
    /// </summary>
    public Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken) => OpenAsync(forWrites: false, cancellationToken);

    private async Task<DbConnection> OpenAsync(bool forWrites, CancellationToken cancellationToken)
    {
        if (_postgres is not null)
        {
            return await _postgres.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }

        var connection = new SqliteConnection(_sqlite);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (!forWrites)
            {
                return connection;
            }

            // Per-connection settings: FULL makes every commit durable before it is acknowledged.
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={SqliteBusyTimeoutMilliseconds}; PRAGMA foreign_keys=ON;";
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Begins a write transaction. On SQLite it is <c>BEGIN IMMEDIATE</c> (the write lock is taken at once, so two writers
    /// never deadlock upgrading a read lock); on PostgreSQL, READ COMMITTED with explicit row locks where order matters.
    /// </summary>
    public static async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return connection is SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: false)
            : await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="LockOrganisationAsync(DbConnection, DbTransaction, string, CancellationToken)"/> for code that has the
    /// connection but not the database. Take it before inserting a row that references the organisation when the
    /// transaction then writes an audit row: the insert's foreign key holds a share lock on the organisation's row, and
    /// two such transactions each waiting to upgrade theirs to the audit chain's lock deadlock on PostgreSQL (40P01).
    /// </summary>
    public static async Task LockOrganisationOfAsync(DbConnection connection, DbTransaction transaction, string organisationId, CancellationToken cancellationToken)
    {
        if (connection is NpgsqlConnection)
        {
            await connection.ExecuteAsync("SELECT id FROM organisations WHERE id = @id FOR UPDATE", transaction, cancellationToken, ("id", organisationId)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A write transaction (<see cref="BeginWriteAsync"/>) that holds the organisation's lock
    /// (<see cref="LockOrganisationAsync"/>) from its first statement: how a handler that changes one organisation's data
    /// begins, so that no other writer of that organisation comes between what it reads and what it writes.
    /// </summary>
    public async Task<DbTransaction> BeginOrganisationWriteAsync(DbConnection connection, string organisationId, CancellationToken cancellationToken)
    {
        var transaction = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        try
        {
            await LockOrganisationAsync(connection, transaction, organisationId, cancellationToken).ConfigureAwait(false);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Serialises writers of one organisation's data (PostgreSQL row lock; SQLite already has one writer at a time).</summary>
    public async Task LockOrganisationAsync(DbConnection connection, DbTransaction transaction, string organisationId, CancellationToken cancellationToken)
    {
        if (Dialect == Dialect.Postgres)
        {
            await connection.ExecuteAsync("SELECT id FROM organisations WHERE id = @id FOR UPDATE", transaction, cancellationToken, ("id", organisationId)).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync().ConfigureAwait(false);
        }
        else if (_sqlite is not null)
        {
            // Closes pooled handles so the file (and its -wal) are released when the server stops.
            SqliteConnection.ClearAllPools();
        }
    }
}
