using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Core.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Tests;

public sealed class FirstStartTests
{
    [Fact]
    public async Task The_consoles_data_protection_keys_are_kept_in_the_data_directory_readable_by_its_owner_only()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client();

        using var page = await client.GetAsync("/console/sign-in");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var keys = Path.Combine(server.DataDir, "data-protection-keys");
        Assert.NotEmpty(Directory.GetFiles(keys, "key-*.xml"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
        }
    }

    [Fact]
    public async Task The_first_start_seeds_the_demo_organisation_once_and_the_second_start_seeds_nothing()
    {
        await using var server = await TestServer.StartAsync(adminToken: null);
        Assert.True(server.Server.FirstStart.Seeded);
        var token = server.Server.FirstStart.GeneratedAdminToken;
        Assert.NotNull(token);
        Assert.StartsWith("stw_", token, StringComparison.Ordinal);
        Assert.Contains(token, server.Messages.ToString(), StringComparison.Ordinal);
        Assert.Contains("/o/demo", server.Messages.ToString(), StringComparison.Ordinal);

        using (var admin = server.Client(token))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/orgs/demo/audit")).StatusCode);
        }

        var before = await CountsAsync(server);
        await server.RestartAsync();
        Assert.False(server.Server.FirstStart.Seeded);
        Assert.Null(server.Server.FirstStart.GeneratedAdminToken);
        Assert.Equal(before, await CountsAsync(server));
        using (var admin = server.Client(token))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/orgs/demo/audit")).StatusCode);
        }
    }

    private static async Task<(long, long, long)> CountsAsync(TestServer server)
    {
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        async Task<long> Count(string table) => (long)(await connection.ScalarAsync($"SELECT COUNT(*) FROM {table}", null, CancellationToken.None))!;
        return (await Count("organisations"), await Count("registry_entries"), await Count("api_tokens"));
    }

    [Fact]
    public async Task The_demo_registry_holds_valid_npm_servers_that_npx_runs_and_nothing_else()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client();
        var body = await client.GetByteArrayAsync("/v0.1/servers?limit=100");
        var loaded = RegistryLoader.Load(body);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Problems));
        var servers = loaded.Document!.Entries.Select(e => e.Server).ToList();
        Assert.Equal(
            ["io.github.modelcontextprotocol/server-everything", "io.github.modelcontextprotocol/server-filesystem", "io.github.modelcontextprotocol/server-memory"],
            servers.Select(s => s.Name).Order(StringComparer.Ordinal));
        // Nothing needs uv, Docker or a remote service: each server is one npm package npx runs.
        Assert.All(servers, s => Assert.Empty(s.Remotes ?? []));
        var packages = servers.SelectMany(s => s.Packages ?? []).ToList();
        Assert.Equal(servers.Count, packages.Count);
        Assert.All(packages, p => Assert.Equal(("npm", "npx"), (p.RegistryType, p.RuntimeHint)));
        Assert.Contains(packages, p => p.Identifier == "@modelcontextprotocol/server-everything");
        var filesystem = packages.Single(p => p.Identifier == "@modelcontextprotocol/server-filesystem");
        Assert.Contains(filesystem.PackageArguments!, a => a.Type == "positional" && a.Required);
        Assert.All(loaded.Document.Entries, e => Assert.Equal(true, e.Official!.IsLatest));
    }

    [Fact]
    public async Task The_registry_examples_import_into_the_demo_organisation_as_valid_pypi_oci_and_remote_servers()
    {
        await using var server = await TestServer.StartAsync();
        using (var admin = server.Client(TestServer.AdminToken))
        {
            await RegistryExamples.ImportAsync(admin);
        }

        using var client = server.Client();
        var loaded = RegistryLoader.Load(await client.GetByteArrayAsync("/v0.1/servers?limit=100"));
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Problems));
        var servers = loaded.Document!.Entries.Select(e => e.Server).ToList();
        Assert.Equal(6, servers.Count);
        Assert.All(RegistryExamples.Names, name => Assert.Contains(servers, s => s.Name == name));
        var packages = servers.SelectMany(s => s.Packages ?? []).ToList();
        Assert.Contains(packages, p => p.RegistryType == "npm" && p.Identifier == "@modelcontextprotocol/server-everything");
        Assert.Contains(packages, p => p.RegistryType == "pypi");
        Assert.Contains(packages, p => p.RegistryType == "oci");
        Assert.Contains(servers, s => s.Remotes?.Any(r => r.Type == "streamable-http" && r.Url.StartsWith("https://", StringComparison.Ordinal)) == true);
        Assert.All(loaded.Document.Entries, e => Assert.Equal(true, e.Official!.IsLatest));
    }

    [Fact]
    public async Task STEWARD_ADMIN_TOKEN_becomes_the_admin_token_and_is_stored_only_as_its_hash()
    {
        const string token = "stw_chosen-by-automation-0123456789";
        await using var server = await TestServer.StartAsync(adminToken: token);
        Assert.True(server.Server.FirstStart.Seeded);
        Assert.Null(server.Server.FirstStart.GeneratedAdminToken);
        Assert.DoesNotContain(token, server.Messages.ToString(), StringComparison.Ordinal);
        Assert.Contains("STEWARD_ADMIN_TOKEN", server.Messages.ToString(), StringComparison.Ordinal);
        using (var admin = server.Client(token))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/orgs/demo/audit")).StatusCode);
        }

        await server.RestartAsync();
        var bytes = new List<byte>();
        foreach (var file in Directory.GetFiles(server.DataDir))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            bytes.AddRange(copy.ToArray());
        }

        var text = Encoding.Latin1.GetString(bytes.ToArray());
        Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        Assert.Contains(Identity.Tokens.Hash(token), text, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_data_directory_is_0700_and_the_database_file_0600()
    {
        await using var server = await TestServer.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(server.DataDir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.DatabaseFile));
    }

    [Fact]
    public async Task The_schema_is_migrated_once_and_recorded()
    {
        await using var server = await TestServer.StartAsync();
        await server.RestartAsync();
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        var versions = await connection.QueryAsync("SELECT version FROM schema_migrations ORDER BY version", null, r => r.Int64(0), CancellationToken.None);
        Assert.Equal(Migrations.All.Select(m => (long)m.Version), versions);
        Assert.Equal("wal", (string)(await connection.ScalarAsync("PRAGMA journal_mode", null, CancellationToken.None))!);
        Assert.Equal(2L, (long)(await connection.ScalarAsync("PRAGMA synchronous", null, CancellationToken.None))!);
    }

    [Fact]
    public async Task The_audit_table_refuses_updates_and_deletes()
    {
        await using var server = await TestServer.StartAsync();
        await using var connection = await server.Server.Database.OpenAsync(CancellationToken.None);
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => connection.ExecuteAsync("UPDATE audit SET actor = 'someone else'", null, CancellationToken.None));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => connection.ExecuteAsync("DELETE FROM audit", null, CancellationToken.None));
    }

    [Fact]
    public async Task Demo_entries_have_an_audit_trail_from_the_first_start()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = server.Client(TestServer.AdminToken);
        var rows = JsonNode.Parse(await admin.GetStringAsync("/api/v1/orgs/demo/audit?limit=100"))!["audit"]!.AsArray();
        Assert.Contains(rows, r => r!["action"]!.GetValue<string>() == "organisation.create");
        Assert.Contains(rows, r => r!["action"]!.GetValue<string>() == "token.create");
        // One a seeded server: the three npm servers of the demo registry.
        Assert.Equal(3, rows.Count(r => r!["action"]!.GetValue<string>() == "registry.publish"));
    }
}
