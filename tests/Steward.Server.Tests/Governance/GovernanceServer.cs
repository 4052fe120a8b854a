using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Steward.Core.Policy;
using Steward.Server.Identity;
using Steward.Server.Storage;

namespace Steward.Server.Tests.Governance;

/// <summary>
/// A clock the test moves by hand. Its timers never fire: the server's periodic work (audit maintenance) does not run
/// behind a test's back, and a test runs it on demand.
/// </summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new Stopped();

    private sealed class Stopped : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>A real server (Kestrel on 127.0.0.1, a SQLite file) on a manual clock, with helpers that go through the admin API.</summary>
internal sealed class GovernanceServer : IAsyncDisposable
{
    public const string AdminToken = TestServer.AdminToken;

    private GovernanceServer(string root, StewardServer server, ManualTime time)
    {
        Root = root;
        Server = server;
        Time = time;
    }

    public string Root { get; }
    public string DataDir => Path.Combine(Root, "data");
    public StewardServer Server { get; private set; }
    public ManualTime Time { get; }

    public static async Task<GovernanceServer> StartAsync()
    {
        var root = Directory.CreateTempSubdirectory("steward-governance-test-").FullName;
        var time = new ManualTime(new DateTimeOffset(2026, 3, 2, 9, 30, 0, TimeSpan.Zero));
        var server = await StewardServer.StartAsync(Options(Path.Combine(root, "data"), time), CancellationToken.None);
        return new GovernanceServer(root, server, time);
    }

    public static ServeOptions Options(string dataDir, TimeProvider time) => new()
    {
        DataDir = dataDir,
        Urls = ["http://127.0.0.1:0"],
        BootstrapAdminToken = AdminToken,
        Messages = new StringWriter(),
        LogLevel = LogLevel.Warning,
        TimeProvider = time,
        // The authorization matrix alone fails 28 authentications on purpose, on one server in well under a minute;
        // the throttle itself is AuthenticationThrottleTests'.
        FailedAuthenticationsPerMinute = 100_000,
    };

    public async Task RestartAsync()
    {
        await Server.StopAsync(CancellationToken.None);
        await Server.DisposeAsync();
        Server = await StewardServer.StartAsync(Options(DataDir, Time), CancellationToken.None);
    }

    /// <summary>Starts the server again after a test stopped it (or after a start that failed).</summary>
    public async Task StartAgainAsync() => Server = await StewardServer.StartAsync(Options(DataDir, Time), CancellationToken.None);

    /// <summary>Another organisation made through <c>POST /api/v1/orgs</c>, with an account "team", its first admin token and a developer token of "team".</summary>
    public Task<(string Admin, string Developer)> AddOrganisationAsync(string slug) => TestServer.AddOrganisationAsync(Client, AdminToken, slug);

    public Task<string> AccountUrlAsync(string organisationSlug, string accountSlug, string which) =>
        TestServer.AccountUrlAsync(Client, organisationSlug, accountSlug, which, AdminToken);

    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = Server.BaseUrl };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public async Task CreateAccountAsync(string slug, string organisation = "demo", string token = AdminToken)
    {
        using var client = Client(token);
        using var response = await client.PostAsync($"/api/v1/orgs/{organisation}/accounts", Json($$"""{"slug":"{{slug}}","name":"Account {{slug}}"}"""));
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create account {slug}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>A token made through <c>POST /tokens</c>: its value and id.</summary>
    public async Task<(string Token, string Id)> CreateTokenAsync(string role, string? account, string organisation = "demo", string token = AdminToken, string expiry = "")
    {
        using var client = Client(token);
        var accountJson = account is null ? "" : $",\"account\":\"{account}\"";
        using var response = await client.PostAsync($"/api/v1/orgs/{organisation}/tokens", Json($$"""{"name":"{{role}} of {{account}}","role":"{{role}}"{{accountJson}}{{expiry}}}"""));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create token: {(int)response.StatusCode} {body}");
        var node = JsonNode.Parse(body)!;
        return ((string)node["token"]!, (string)node["id"]!);
    }

    public async Task PutProfileAsync(string path, string json)
    {
        using var client = Client(AdminToken);
        using var response = await client.PutAsync(path, Json(json));
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public async Task<IReadOnlyList<EcPublicJwk>> KeysAsync()
    {
        using var client = Client();
        return EcPublicJwk.ParseKeys(await client.GetStringAsync("/api/v1/policy/keys"));
    }

    /// <summary>GET /api/v1/policy with a token: the response (the caller disposes it) and the JWS text.</summary>
    public async Task<(HttpResponseMessage Response, string Body)> BundleAsync(string token, string? ifNoneMatch = null)
    {
        using var client = Client(token);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/policy");
        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        var response = await client.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Verifies a bundle with the given keys at the server's clock; fails the test when it does not verify.</summary>
    public JsonElement Verify(string jws, IEnumerable<EcPublicJwk> keys)
    {
        var result = PolicyBundle.Verify(jws, keys, Time.GetUtcNow());
        Assert.True(result.IsValid, result.Error);
        return JsonDocument.Parse(result.Payload).RootElement.Clone();
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
