using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Steward.Server;
using Steward.Server.Identity;
using Steward.Server.Storage;

namespace Steward.Server.Tests;

/// <summary>A real server: Kestrel on 127.0.0.1 port 0 and a SQLite file in a fresh temporary directory.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    public const string AdminToken = "stw_test-admin-token-of-the-demo-organisation";

    private TestServer(string root, string dataDir, StewardServer server, StringWriter messages)
    {
        Root = root;
        DataDir = dataDir;
        Server = server;
        Messages = messages;
    }

    public string Root { get; }
    public string DataDir { get; }
    public StewardServer Server { get; private set; }
    public StringWriter Messages { get; }
    public Uri BaseUrl => Server.BaseUrl;
    public string DatabaseFile => Path.Combine(DataDir, "steward.db");

    public static async Task<TestServer> StartAsync(string? adminToken = AdminToken)
    {
        var root = Directory.CreateTempSubdirectory("steward-server-test-").FullName;
        var dataDir = Path.Combine(root, "data");
        var messages = new StringWriter();
        var server = await StewardServer.StartAsync(Options(dataDir, adminToken, messages), CancellationToken.None);
        return new TestServer(root, dataDir, server, messages);
    }

    /// <summary>A server with options changed from the test defaults (anonymous publishing, loopback imports, …).</summary>
    public static async Task<TestServer> StartAsync(Func<ServeOptions, ServeOptions> configure, string? adminToken = AdminToken)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var root = Directory.CreateTempSubdirectory("steward-server-test-").FullName;
        var dataDir = Path.Combine(root, "data");
        var messages = new StringWriter();
        var server = await StewardServer.StartAsync(configure(Options(dataDir, adminToken, messages)), CancellationToken.None);
        return new TestServer(root, dataDir, server, messages);
    }

    public static ServeOptions Options(string dataDir, string? adminToken, TextWriter messages) => new()
    {
        DataDir = dataDir,
        Urls = ["http://127.0.0.1:0"],
        BootstrapAdminToken = adminToken,
        Messages = messages,
        LogLevel = LogLevel.Warning,
    };

    /// <summary>Stops this server and starts a new one on the same data directory.</summary>
    public async Task RestartAsync(string? adminToken = null)
    {
        await Server.StopAsync(CancellationToken.None);
        await Server.DisposeAsync();
        Server = await StewardServer.StartAsync(Options(DataDir, adminToken, Messages), CancellationToken.None);
    }

    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseUrl };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>Another organisation made through <c>POST /api/v1/orgs</c>, with an account "team", its first admin token and a developer token of "team".</summary>
    public Task<(string Admin, string Developer)> AddOrganisationAsync(string slug) => AddOrganisationAsync(Client, AdminToken, slug);

    /// <summary>Makes organisation <paramref name="slug"/> through the API as the server administrator <paramref name="administratorToken"/>, on clients from <paramref name="client"/>.</summary>
    public static async Task<(string Admin, string Developer)> AddOrganisationAsync(Func<string?, HttpClient> client, string administratorToken, string slug)
    {
        using var administrator = client(administratorToken);
        using var created = await administrator.PostAsync("/api/v1/orgs", Json($$"""{"slug":"{{slug}}","name":"{{slug}}","adminTokenName":"admin"}"""));
        var createdBody = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"create organisation {slug}: {(int)created.StatusCode} {createdBody}");
        var admin = (string)JsonNode.Parse(createdBody)!["adminToken"]!["token"]!;
        using var organisationAdmin = client(admin);
        using var account = await organisationAdmin.PostAsync($"/api/v1/orgs/{slug}/accounts", Json("""{"slug":"team","name":"team"}"""));
        Assert.True(account.StatusCode == HttpStatusCode.Created, $"create account team: {(int)account.StatusCode} {await account.Content.ReadAsStringAsync()}");
        using var token = await organisationAdmin.PostAsync($"/api/v1/orgs/{slug}/tokens", Json("""{"name":"developer","role":"developer","account":"team"}"""));
        var tokenBody = await token.Content.ReadAsStringAsync();
        Assert.True(token.StatusCode == HttpStatusCode.Created, $"create developer token: {(int)token.StatusCode} {tokenBody}");
        return (admin, (string)JsonNode.Parse(tokenBody)!["token"]!);
    }

    /// <summary>A developer token of the demo organisation.</summary>
    public async Task<string> AddDemoDeveloperAsync()
    {
        var demo = await Organisations.Organisation.FindAsync(Server.Database, "demo", CancellationToken.None);
        await using var connection = await Server.Database.OpenAsync(CancellationToken.None);
        await using var transaction = await Database.BeginWriteAsync(connection, CancellationToken.None);
        var token = Tokens.Generate();
        await Authentication.CreateTokenAsync(connection, transaction, demo!.Id, null, Roles.Developer, "developer", token, DateTimeOffset.UtcNow, null, CancellationToken.None);
        await transaction.CommitAsync();
        return token;
    }

    public async Task AddAccountAsync(string organisationSlug, string accountSlug)
    {
        var organisation = await Organisations.Organisation.FindAsync(Server.Database, organisationSlug, CancellationToken.None);
        await using var connection = await Server.Database.OpenAsync(CancellationToken.None);
        await connection.ExecuteAsync("INSERT INTO accounts (id, organisation_id, slug, name, created_at) VALUES (@id, @org, @slug, @slug, @at) ON CONFLICT DO NOTHING", null, CancellationToken.None,
            ("id", Tokens.NewId("acc")), ("org", organisation!.Id), ("slug", accountSlug), ("at", Timestamps.ToText(DateTimeOffset.UtcNow)));
    }

    /// <summary>An account's anonymous URL (<c>registry</c> or <c>kiro</c>), as <c>GET …/accounts</c> gives it to an admin.</summary>
    public Task<string> AccountUrlAsync(string organisationSlug, string accountSlug, string which, string token = AdminToken) =>
        AccountUrlAsync(Client, organisationSlug, accountSlug, which, token);

    public static async Task<string> AccountUrlAsync(Func<string?, HttpClient> clients, string organisationSlug, string accountSlug, string which, string token = AdminToken)
    {
        ArgumentNullException.ThrowIfNull(clients);
        using var client = clients(token);
        var accounts = System.Text.Json.Nodes.JsonNode.Parse(await client.GetStringAsync($"/api/v1/orgs/{organisationSlug}/accounts"))!["accounts"]!.AsArray();
        return (string)accounts.Single(a => (string)a!["slug"]! == accountSlug)!["urls"]![which]!;
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>A minimal valid server.json.</summary>
    public static string ServerJson(string name, string version, string description = "A test server") =>
        $$$"""{"$schema":"https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json","name":"{{{name}}}","description":"{{{description}}}","version":"{{{version}}}","packages":[{"registryType":"npm","registryBaseUrl":"https://registry.npmjs.org","identifier":"@example/test","version":"{{{version}}}","transport":{"type":"stdio"}}]}""";

    public async Task PublishAsync(string name, string version, string organisation = "demo", string token = AdminToken)
    {
        using var client = Client(token);
        using var response = await client.PostAsync($"/api/v1/orgs/{organisation}/registry/servers", Json(ServerJson(name, version)));
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"publish {name} {version}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public async Task SetStatusAsync(string name, string version, string status, string? message = null)
    {
        using var client = Client(AdminToken);
        var body = message is null ? $$"""{"status":"{{status}}"}""" : $$"""{"status":"{{status}}","statusMessage":"{{message}}"}""";
        using var response = await client.PatchAsync($"/api/v1/orgs/demo/registry/servers/{Uri.EscapeDataString(name)}/versions/{Uri.EscapeDataString(version)}/status", Json(body));
        Assert.True(response.IsSuccessStatusCode, $"status {name} {version}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(CancellationToken.None);
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One server per test class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    internal TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// One server per test class, the registry examples imported into its demo organisation: a server of every kind
/// (npm, PyPI, OCI, remote), as an admin who imported them has.
/// </summary>
public sealed class ExamplesServerFixture : IAsyncLifetime
{
    internal TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync();
        using var admin = Server.Client(TestServer.AdminToken);
        await RegistryExamples.ImportAsync(admin);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
