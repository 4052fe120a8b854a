using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Steward.Server.Storage;

/// <summary>One numbered schema change: its statements, written once with a few dialect tokens.</summary>
/// <remarks>
/// Tokens: <c>{identity}</c> an auto-numbered primary key; <c>{ordered}</c> text compared and sorted byte by byte
/// (PostgreSQL's default collation would order names and timestamps by locale rules). Statements listed in
/// <see cref="SqliteOnly"/> or <see cref="PostgresOnly"/> exist on one database only (triggers are written differently).
/// </remarks>
internal sealed record Migration(int Version, string Name, IReadOnlyList<string> Statements)
{
    public IReadOnlyList<string> SqliteOnly { get; init; } = [];
    public IReadOnlyList<string> PostgresOnly { get; init; } = [];

    /// <summary>Work that SQL alone cannot do (computing hashes), run after the statements in the same transaction.</summary>
    public Func<DbConnection, DbTransaction, Dialect, CancellationToken, Task>? Code { get; init; }

    public IEnumerable<string> For(Dialect dialect)
    {
        var identity = dialect == Dialect.Sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
        var ordered = dialect == Dialect.Sqlite ? "TEXT" : "TEXT COLLATE \"C\"";
        foreach (var statement in Statements)
        {
            yield return statement.Replace("{identity}", identity, StringComparison.Ordinal).Replace("{ordered}", ordered, StringComparison.Ordinal);
        }

        foreach (var statement in dialect == Dialect.Sqlite ? SqliteOnly : PostgresOnly)
        {
            yield return statement;
        }
    }
}

/// <summary>Applies the numbered migrations not yet recorded in <c>schema_migrations</c>, all in one transaction, at start.</summary>
internal static class Migrations
{
    public static IReadOnlyList<Migration> All { get; } =
    [
        new(1, "organisations, accounts, profiles, registry, tokens, audit",
        [
            """
            CREATE TABLE organisations (
                id TEXT PRIMARY KEY,
                slug {ordered} NOT NULL UNIQUE,
                name TEXT NOT NULL,
                created_at {ordered} NOT NULL
            )
            """,
            """
            CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                slug {ordered} NOT NULL,
                name TEXT NOT NULL,
                created_at {ordered} NOT NULL,
                UNIQUE (organisation_id, slug)
            )
            """,
            """
            CREATE TABLE profiles (
                id TEXT PRIMARY KEY,
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                account_id TEXT NULL REFERENCES accounts (id),
                mcp_enabled BOOLEAN NOT NULL DEFAULT TRUE,
                web_tools_enabled BOOLEAN NOT NULL DEFAULT TRUE,
                registry_mode TEXT NOT NULL DEFAULT 'hosted' CHECK (registry_mode IN ('none', 'hosted', 'external')),
                registry_url TEXT NULL,
                sync_interval_seconds BIGINT NOT NULL DEFAULT 86400 CHECK (sync_interval_seconds > 0),
                max_offline_seconds BIGINT NULL CHECK (max_offline_seconds IS NULL OR max_offline_seconds > 0),
                model_control_enabled BOOLEAN NOT NULL DEFAULT FALSE,
                revision BIGINT NOT NULL DEFAULT 1,
                updated_at {ordered} NOT NULL,
                CHECK (registry_mode <> 'external' OR registry_url IS NOT NULL)
            )
            """,
            "CREATE UNIQUE INDEX profiles_scope ON profiles (organisation_id, COALESCE(account_id, ''))",
            """
            CREATE TABLE registry_entries (
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                name {ordered} NOT NULL,
                version {ordered} NOT NULL,
                server_json TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('active', 'deprecated', 'deleted')),
                status_message TEXT NULL,
                status_changed_at {ordered} NOT NULL,
                published_at {ordered} NOT NULL,
                updated_at {ordered} NOT NULL,
                is_latest BOOLEAN NOT NULL,
                PRIMARY KEY (organisation_id, name, version)
            )
            """,
            "CREATE INDEX registry_entries_updated ON registry_entries (organisation_id, updated_at)",
            """
            CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY,
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                account_id TEXT NULL REFERENCES accounts (id),
                role TEXT NOT NULL CHECK (role IN ('admin', 'developer')),
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at {ordered} NOT NULL,
                expires_at {ordered} NULL,
                revoked_at {ordered} NULL
            )
            """,
            """
            CREATE TABLE audit (
                id {identity},
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                at {ordered} NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                object TEXT NOT NULL,
                before_json TEXT NULL,
                after_json TEXT NULL,
                revision BIGINT NULL
            )
            """,
            "CREATE INDEX audit_organisation ON audit (organisation_id, id)",
        ])
        {
            SqliteOnly =
            [
                "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
                "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
            ],
            PostgresOnly =
            [
                "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$",
                "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
            ],
        },
        new(2, "registry import sources, registry publish tokens with namespace permissions",
        [
            """
            CREATE TABLE registry_import_sources (
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                url TEXT NOT NULL,
                last_import_at {ordered} NOT NULL,
                updated_since {ordered} NOT NULL,
                PRIMARY KEY (organisation_id, url)
            )
            """,
            """
            CREATE TABLE registry_publish_tokens (
                id TEXT PRIMARY KEY,
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                namespaces TEXT NOT NULL,
                created_at {ordered} NOT NULL,
                expires_at {ordered} NOT NULL,
                revoked_at {ordered} NULL
            )
            """,
            "CREATE INDEX registry_publish_tokens_expiry ON registry_publish_tokens (organisation_id, expires_at)",
        ]),
        new(3, "policy signing keys",
        [
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY,
                public_jwk TEXT NOT NULL,
                private_key TEXT NOT NULL,
                created_at {ordered} NOT NULL,
                retired_at {ordered} NULL,
                published_until {ordered} NULL,
                endorsement TEXT NULL
            )
            """,
            "CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (COALESCE(retired_at, '')) WHERE retired_at IS NULL",
        ]),
        new(4, "model catalog, model policies, group rules, token groups, model upstreams",
        [
            """
            CREATE TABLE model_catalog (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                catalog_json TEXT NOT NULL,
                revision BIGINT NOT NULL,
                source TEXT NOT NULL,
                updated_at {ordered} NOT NULL
            )
            """,
            """
            CREATE TABLE model_policies (
                profile_id TEXT PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
                policy_json TEXT NOT NULL,
                updated_at {ordered} NOT NULL
            )
            """,
            """
            CREATE TABLE model_group_rules (
                organisation_id TEXT PRIMARY KEY REFERENCES organisations (id),
                rules_json TEXT NOT NULL,
                updated_at {ordered} NOT NULL
            )
            """,
            """
            CREATE TABLE api_token_groups (
                token_id TEXT NOT NULL REFERENCES api_tokens (id),
                group_name {ordered} NOT NULL,
                PRIMARY KEY (token_id, group_name)
            )
            """,
            """
            CREATE TABLE model_upstreams (
                provider {ordered} NOT NULL,
                placement {ordered} NOT NULL,
                base_url TEXT NOT NULL,
                api_key_sealed TEXT NULL,
                updated_at {ordered} NOT NULL,
                PRIMARY KEY (provider, placement)
            )
            """,
        ]),
        new(5, "console sessions",
        [
            """
            CREATE TABLE console_sessions (
                session_hash {ordered} NOT NULL,
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                token_id TEXT NOT NULL REFERENCES api_tokens (id),
                created_at {ordered} NOT NULL,
                last_seen_at {ordered} NOT NULL,
                PRIMARY KEY (session_hash, organisation_id)
            )
            """,
        ]),
        new(6, "audit hash chain",
        [
            "ALTER TABLE audit ADD COLUMN prev_hash TEXT NULL",
            "ALTER TABLE audit ADD COLUMN hash TEXT NULL",
        ])
        {
            Code = Audit.AuditChain.ChainExistingAsync,
        },
        new(7, "oidc configuration",
        [
            """
            CREATE TABLE oidc_configurations (
                organisation_id TEXT PRIMARY KEY REFERENCES organisations (id),
                issuer TEXT NOT NULL,
                client_id TEXT NOT NULL,
                client_secret_sealed TEXT NULL,
                account_claim TEXT NOT NULL,
                groups_claim TEXT NOT NULL,
                admin_groups TEXT NOT NULL,
                updated_at {ordered} NOT NULL
            )
            """,
        ]),
        new(8, "tool-call events uploaded by gateways",
        [
            """
            CREATE TABLE tool_call_events (
                id {identity},
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                event_id {ordered} NOT NULL,
                account_id TEXT NULL REFERENCES accounts (id),
                token_id TEXT NOT NULL REFERENCES api_tokens (id),
                at {ordered} NOT NULL,
                received_at {ordered} NOT NULL,
                server {ordered} NOT NULL,
                tool {ordered} NOT NULL,
                decision {ordered} NOT NULL,
                because TEXT NOT NULL,
                duration_ms DOUBLE PRECISION NOT NULL,
                outcome {ordered} NOT NULL,
                arguments_json TEXT NULL,
                UNIQUE (organisation_id, event_id)
            )
            """,
            "CREATE INDEX tool_call_events_organisation ON tool_call_events (organisation_id, id)",
            "CREATE INDEX tool_call_events_time ON tool_call_events (organisation_id, at)",
        ])
        {
            SqliteOnly =
            [
                "CREATE TRIGGER tool_call_events_no_update BEFORE UPDATE ON tool_call_events BEGIN SELECT RAISE(ABORT, 'tool-call events are append-only'); END",
                "CREATE TRIGGER tool_call_events_no_delete BEFORE DELETE ON tool_call_events BEGIN SELECT RAISE(ABORT, 'tool-call events are append-only'); END",
            ],
            PostgresOnly =
            [
                "CREATE TRIGGER tool_call_events_no_change BEFORE UPDATE OR DELETE ON tool_call_events FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
            ],
        },
        new(9, "profile setting: audit tool-call argument values",
        [
            "ALTER TABLE profiles ADD COLUMN audit_tool_arguments BOOLEAN NOT NULL DEFAULT FALSE",
        ]),
        new(10, "tool-call event retention: the setting, the pruning watermark, deletes only below it",
        [
            """
            CREATE TABLE tool_call_retention (
                organisation_id TEXT PRIMARY KEY REFERENCES organisations (id),
                days INTEGER NULL CHECK (days IS NULL OR (days >= 1 AND days <= 3650)),
                pruned_before {ordered} NULL,
                pruned_at {ordered} NULL,
                updated_at {ordered} NOT NULL
            )
            """,
            "CREATE INDEX tool_call_events_received ON tool_call_events (organisation_id, received_at)",
        ])
        {
            // An event may be deleted only when it was received before its organisation's pruning watermark, which
            // the pruner moves in the transaction that deletes; every other DELETE (and every UPDATE) is still refused.
            SqliteOnly =
            [
                "DROP TRIGGER tool_call_events_no_delete",
                """
                CREATE TRIGGER tool_call_events_no_delete BEFORE DELETE ON tool_call_events
                WHEN NOT EXISTS (SELECT 1 FROM tool_call_retention r WHERE r.organisation_id = OLD.organisation_id AND r.pruned_before IS NOT NULL AND OLD.received_at < r.pruned_before)
                BEGIN SELECT RAISE(ABORT, 'tool-call events are append-only: only events received before the retention cutoff may be deleted'); END
                """,
            ],
            PostgresOnly =
            [
                "DROP TRIGGER tool_call_events_no_change ON tool_call_events",
                "CREATE TRIGGER tool_call_events_no_update BEFORE UPDATE ON tool_call_events FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
                """
                CREATE FUNCTION tool_call_events_prune_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM tool_call_retention r WHERE r.organisation_id = OLD.organisation_id AND r.pruned_before IS NOT NULL AND OLD.received_at < r.pruned_before) THEN
                        RETURN OLD;
                    END IF;
                    RAISE EXCEPTION 'tool-call events are append-only: only events received before the retention cutoff may be deleted';
                END $$
                """,
                "CREATE TRIGGER tool_call_events_no_delete BEFORE DELETE ON tool_call_events FOR EACH ROW EXECUTE FUNCTION tool_call_events_prune_only()",
                // TRUNCATE fires no row trigger: refuse it on both append-only tables.
                "CREATE TRIGGER tool_call_events_no_truncate BEFORE TRUNCATE ON tool_call_events FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
                "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
            ],
        },
        new(11, "external registries of profiles: the last good copy, its ETag and the last attempt",
        [
            """
            CREATE TABLE external_registries (
                profile_id TEXT PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                url TEXT NOT NULL,
                good_url TEXT NULL,
                etag TEXT NULL,
                shape TEXT NULL,
                content_hash TEXT NULL,
                entries BIGINT NOT NULL DEFAULT 0,
                fetched_at {ordered} NULL,
                confirmed_at {ordered} NULL,
                attempted_at {ordered} NULL,
                outcome TEXT NULL,
                failure TEXT NULL,
                problems_json TEXT NULL
            )
            """,
            """
            CREATE TABLE external_registry_entries (
                profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
                name {ordered} NOT NULL,
                version {ordered} NOT NULL,
                server_json TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('active', 'deprecated', 'deleted')),
                status_message TEXT NULL,
                status_changed_at {ordered} NOT NULL,
                published_at {ordered} NOT NULL,
                updated_at {ordered} NOT NULL,
                is_latest BOOLEAN NOT NULL,
                PRIMARY KEY (profile_id, name, version)
            )
            """,
        ]),
        new(12, "sandbox profiles: per registry entry, organisation and account defaults",
        [
            """
            CREATE TABLE sandbox_profiles (
                organisation_id TEXT NOT NULL REFERENCES organisations (id),
                subject {ordered} NOT NULL,
                account_id TEXT NULL REFERENCES accounts (id),
                profile_json TEXT NOT NULL,
                updated_at {ordered} NOT NULL,
                PRIMARY KEY (organisation_id, subject)
            )
            """,
        ]),
        new(13, "organisation emergency stop: MCP off for every account until lifted",
        [
            """
            CREATE TABLE emergency_stops (
                organisation_id TEXT PRIMARY KEY REFERENCES organisations (id),
                reason TEXT NOT NULL,
                stopped_at {ordered} NOT NULL,
                stopped_by TEXT NOT NULL
            )
            """,
        ]),
        new(14, "tool rules of profiles: an ordered JSON list of {pattern, effect, reason}",
        [
            "ALTER TABLE profiles ADD COLUMN tool_rules TEXT NOT NULL DEFAULT '[]'",
        ]),
        new(15, "deleted accounts: kept as tombstones so their tokens, tool calls and audit rows keep their account",
        [
            "ALTER TABLE accounts ADD COLUMN deleted_at TEXT NULL",
        ]),
    ];

    public static int Latest => All[^1].Version;

    /// <summary>Applies what is missing; returns the versions applied. Refuses a database newer than this build.</summary>
    public static async Task<IReadOnlyList<int>> ApplyAsync(Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (database.Dialect == Dialect.Sqlite)
        {
            // Persistent in the file: readers never block the writer, and commits are appended to the log.
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL", null, cancellationToken).ConfigureAwait(false);
        }

        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        if (database.Dialect == Dialect.Postgres)
        {
            // Several instances starting at once: one migrates, the others wait and then find nothing to do.
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(5480001)", transaction, cancellationToken).ConfigureAwait(false);
        }

        await connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            transaction, cancellationToken).ConfigureAwait(false);
        var applied = (await connection.QueryAsync("SELECT version FROM schema_migrations", transaction, r => (int)r.Int64(0), cancellationToken).ConfigureAwait(false)).ToHashSet();
        if (applied.Count > 0 && applied.Max() > Latest)
        {
            throw new SchemaTooNewException(applied.Max(), Latest);
        }

        var done = new List<int>();
        foreach (var migration in All.Where(m => !applied.Contains(m.Version)))
        {
            foreach (var statement in migration.For(database.Dialect))
            {
                await connection.ExecuteAsync(statement, transaction, cancellationToken).ConfigureAwait(false);
            }

            if (migration.Code is { } code)
            {
                await code(connection, transaction, database.Dialect, cancellationToken).ConfigureAwait(false);
            }

            await connection.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @at)", transaction, cancellationToken,
                ("version", migration.Version), ("name", migration.Name), ("at", Timestamps.ToText(time.GetUtcNow()))).ConfigureAwait(false);
            done.Add(migration.Version);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return done;
    }

    /// <summary>For <c>/readyz</c>: the database answers and has every migration this build knows.</summary>
    public static async Task<bool> IsCurrentAsync(Database database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var max = await connection.ScalarAsync("SELECT MAX(version) FROM schema_migrations", null, cancellationToken).ConfigureAwait(false);
        return max is not null && Convert.ToInt32(max, CultureInfo.InvariantCulture) == Latest;
    }

    /// <summary>True for the error SQLite or PostgreSQL raise when a table is missing (a database never migrated).</summary>
    public static bool IsMissingTable(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: 1 } || exception.SqlState == "42P01";
}

public sealed class SchemaTooNewException(int found, int known)
    : Exception($"the database schema is at version {found}, newer than this steward knows ({known}); run a newer steward");
