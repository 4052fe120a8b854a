using System.Text;
using Steward.Core.Registry;
using Steward.Core.Validation;
using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>What the first start did: nothing (already set up), or the demo organisation and its admin token.</summary>
public sealed record FirstStartResult(bool Seeded, string? GeneratedAdminToken);

/// <summary>
/// On an empty database: the demo organisation, its profile (MCP on, hosted registry), its registry and a bootstrap
/// admin token, in one transaction. On any later start, nothing.
/// </summary>
internal static class FirstStart
{
    public const string Actor = "system:first-start";

    public static async Task<FirstStartResult> RunAsync(Database database, TimeProvider time, string? adminToken, CancellationToken cancellationToken)
    {
        if (adminToken is not null && Tokens.Weakness(adminToken) is { } weakness)
        {
            throw new ServeException(ServeOptions.AdminTokenVariable, $"{weakness}; generate one with: openssl rand -base64 32");
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        if (database.Dialect == Dialect.Postgres)
        {
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(5480002)", transaction, cancellationToken).ConfigureAwait(false);
        }

        var organisations = await connection.ScalarAsync("SELECT COUNT(*) FROM organisations", transaction, cancellationToken).ConfigureAwait(false);
        if (Convert.ToInt64(organisations, System.Globalization.CultureInfo.InvariantCulture) > 0)
        {
            return new FirstStartResult(false, null);
        }

        var now = Timestamps.Now(time);
        var at = Timestamps.ToText(now);
        var organisationId = Tokens.NewId("org");
        await connection.ExecuteAsync("INSERT INTO organisations (id, slug, name, created_at) VALUES (@id, @slug, @name, @at)", transaction, cancellationToken,
            ("id", organisationId), ("slug", DemoRegistry.Slug), ("name", DemoRegistry.Name), ("at", at)).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO profiles (id, organisation_id, account_id, mcp_enabled, web_tools_enabled, registry_mode, sync_interval_seconds, model_control_enabled, revision, updated_at) VALUES (@id, @org, NULL, TRUE, TRUE, 'hosted', 86400, FALSE, 1, @at)",
            transaction, cancellationToken, ("id", Tokens.NewId("prf")), ("org", organisationId), ("at", at)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisationId, now, Actor, "organisation.create", "organisation:" + DemoRegistry.Slug, null,
            JsonSerializer.Serialize(new Dictionary<string, string> { ["slug"] = DemoRegistry.Slug, ["name"] = DemoRegistry.Name }, ServerJsonContext.Default.DictionaryStringString), 1, cancellationToken).ConfigureAwait(false);

        foreach (var (text, index) in DemoRegistry.Servers.Select((t, i) => (t, i)))
        {
            var loaded = RegistryLoader.Load(Encoding.UTF8.GetBytes(text), RegistryShape.ServerJson);
            if (!loaded.IsValid)
            {
                var problems = loaded.Failure?.ToString() ?? string.Join("; ", loaded.Problems.Where(p => p.IsError));
                throw new InvalidOperationException($"demo registry entry {index} is not a valid server.json: {problems}");
            }

            var server = loaded.Document!.Entries[0].Server;
            var entry = await Publishing.InsertAsync(connection, transaction, organisationId, server, RegistryJson.Canonical(server), now, cancellationToken).ConfigureAwait(false);
            await AuditLog.WriteAsync(connection, transaction, organisationId, now, Actor, "registry.publish", $"registry:{entry.Name}@{entry.Version}", null, RegistryJson.AuditView(entry), 1, cancellationToken).ConfigureAwait(false);
        }

        var generated = adminToken is null ? Tokens.Generate() : null;
        var tokenId = await Authentication.CreateTokenAsync(connection, transaction, organisationId, null, Roles.Admin, "bootstrap admin", adminToken ?? generated!, now, null, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisationId, now, Actor, "token.create", "token:" + tokenId, null,
            JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = tokenId, ["role"] = Roles.Admin, ["name"] = "bootstrap admin", ["source"] = adminToken is null ? "generated" : "STEWARD_ADMIN_TOKEN" }, ServerJsonContext.Default.DictionaryStringString),
            1, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new FirstStartResult(true, generated);
    }
}
