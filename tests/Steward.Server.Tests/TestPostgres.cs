using Microsoft.Extensions.Logging;
using Npgsql;
using Steward.Server.Policy;

namespace Steward.Server.Tests;

/// <summary>
/// A throwaway database on the PostgreSQL server named by <c>STEWARD_TEST_POSTGRES</c>, dropped (with any open
/// connections) when disposed. In CI a missing server fails the test instead of skipping it.
/// </summary>
internal sealed class TestPostgres : IAsyncDisposable
{
    private readonly string _admin;

    private TestPostgres(string admin, string name, string connectionString)
    {
        _admin = admin;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<TestPostgres> CreateAsync(string prefix, bool pooling = true)
    {
        var admin = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable(PostgresFactAttribute.Variable) is { Length: > 0 } configured
            ? configured
            : throw new InvalidOperationException($"CI runs the PostgreSQL tests: {PostgresFactAttribute.Variable} must name a server (test.sh starts one)"));
        var name = prefix + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var target = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = name, Pooling = pooling };
        return new TestPostgres(admin.ConnectionString, name, target.ConnectionString);
    }

    /// <summary>
    /// Two server instances on this database, seeded by the first. They share the key that seals the policy signing
    /// keys, as a deployment must (docs/policy-bundle.md).
    /// </summary>
    public async Task<(StewardServer First, StewardServer Second)> StartTwoInstancesAsync()
    {
        ServeOptions Options(string dataDir, string? token) => new()
        {
            DataDir = dataDir,
            Urls = ["http://127.0.0.1:0"],
            Database = ConnectionString,
            BootstrapAdminToken = token,
            Messages = new StringWriter(),
            LogLevel = LogLevel.Warning,
        };

        var firstDir = Directory.CreateTempSubdirectory("steward-pg-test-").FullName;
        var secondDir = Directory.CreateTempSubdirectory("steward-pg-test-").FullName;
        var first = await StewardServer.StartAsync(Options(firstDir, TestServer.AdminToken), CancellationToken.None);
        File.Copy(Path.Combine(firstDir, KeyEncryptionKey.FileName), Path.Combine(secondDir, KeyEncryptionKey.FileName));
        try
        {
            return (first, await StewardServer.StartAsync(Options(secondDir, null), CancellationToken.None));
        }
        catch
        {
            await first.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_admin);
        await connection.OpenAsync();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (attempt < 5 && e.SqlState is PostgresErrorCodes.InsufficientPrivilege or PostgresErrorCodes.ObjectInUse)
            {
                // An autovacuum worker in the database, which a role without pg_signal_backend cannot end: it finishes soon.
                await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt));
            }
        }
    }
}
