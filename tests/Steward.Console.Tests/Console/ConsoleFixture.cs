using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Steward.Server;
using Steward.Server.Storage;

namespace Steward.Console.Tests.Console;

/// <summary>
/// A fact that drives Debian's chromium (<c>/usr/bin/chromium</c>, installed by test.sh): skipped with the reason when it
/// is missing, except under CI (<c>CI=true</c>), where the test runs and fails.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Chromium = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Chromium) && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"{Chromium} is missing: install Debian's chromium (test.sh does, as root) to run the console's browser tests";
        }
    }
}

/// <summary>A clock the tests move forward (session expiry) without waiting.</summary>
public sealed class ManualClock : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}

/// <summary>
/// One real server (Kestrel on 127.0.0.1, a SQLite file in a fresh directory, a clock the tests control) and one headless
/// chromium for a test class; each test gets its own browser context (its own cookies).
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    public const string AdminToken = "stw_console-test-admin-token-of-the-demo-organisation";

    private string _root = "";

    public ManualClock Clock { get; } = new();

    public StewardServer Server { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public Uri BaseUrl => Server.BaseUrl;

    /// <summary>A test CA the server's outbound clients trust (given explicitly), for HTTPS registries on 127.0.0.1.</summary>
    internal Steward.Tests.Tls.TestCa Ca { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumFactAttribute.Chromium) && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        // Playwright before any server of this process logs: see SharedPlaywright.
        Playwright = await SharedPlaywright.Value;
        _root = Directory.CreateTempSubdirectory("steward-console-test-").FullName;
        Ca = Steward.Tests.Tls.TestCa.Create(Path.Combine(_root, "ca"));
        Server = await StewardServer.StartAsync(new ServeOptions
        {
            OutboundCaFile = Ca.CaFile,
            DataDir = Path.Combine(_root, "data"),
            Urls = ["http://127.0.0.1:0"],
            BootstrapAdminToken = AdminToken,
            Messages = new StringWriter(),
            LogLevel = LogLevel.Warning,
            TimeProvider = Clock,
            AllowHttpLoopbackImport = true,
            AllowHttpLoopbackOidc = true,
        }, CancellationToken.None);
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumFactAttribute.Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
        });
    }

    /// <summary>
    /// One Playwright driver for the test process, started before the first fixture starts its server. Starting the
    /// driver sets <see cref="Console.OutputEncoding"/>, which takes the console's lock and then flushes its writers,
    /// while a server's console logger writing at that moment holds a writer and waits for the console's lock: each
    /// waits for the other for ever (seen as a test run that stopped). Once, with no server logging yet, it cannot.
    /// </summary>
    private static readonly Lazy<Task<IPlaywright>> SharedPlaywright = new(() =>
    {
        if (Environment.GetEnvironmentVariable("PLAYWRIGHT_NODEJS_PATH") is null && !File.Exists(BundledNode) && File.Exists("/usr/bin/node"))
        {
            Environment.SetEnvironmentVariable("PLAYWRIGHT_NODEJS_PATH", "/usr/bin/node");
        }

        return Microsoft.Playwright.Playwright.CreateAsync();
    });

    private static string BundledNode => Path.Combine(AppContext.BaseDirectory, ".playwright", "node", "linux-x64", "node");

    /// <summary>
    /// A fresh browser context (no cookies) and a page in it, with links resolved against the server; with
    /// <paramref name="javaScript"/> false, the context runs no script (plain form posts and full page loads).
    /// </summary>
    public async Task<IPage> NewPageAsync(bool javaScript = true)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl.ToString().TrimEnd('/'),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            JavaScriptEnabled = javaScript,
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    /// <summary>Signs in through the form, as a person would; lands on the organisation's shared settings.</summary>
    public static async Task SignInAsync(IPage page, string token = AdminToken)
    {
        ArgumentNullException.ThrowIfNull(page);
        await page.GotoAsync("/console/sign-in");
        await page.GetByLabel("Admin token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    public HttpClient Api(string token = AdminToken)
    {
        var client = new HttpClient { BaseAddress = BaseUrl };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A developer token of the demo organisation, made through the admin API (a developer token belongs to an account).</summary>
    public async Task<string> DeveloperTokenAsync()
    {
        using var api = Api();
        using (var account = await api.PostAsync("/api/v1/orgs/demo/accounts", Json("""{"slug":"devs","name":"Developers"}""")))
        {
            Assert.True(account.IsSuccessStatusCode || account.StatusCode == System.Net.HttpStatusCode.Conflict, await account.Content.ReadAsStringAsync());
        }

        using var created = await api.PostAsync("/api/v1/orgs/demo/tokens", Json("""{"name":"a developer","role":"developer","account":"devs"}"""));
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        Assert.True(created.IsSuccessStatusCode, body.ToJsonString());
        return body["token"]!.GetValue<string>();
    }

    /// <summary>
    /// Adds an organisation with an admin token, straight in the database (test setup: the server has no organisation API
    /// yet); returns the admin token.
    /// </summary>
    public async Task<string> AddOrganisationAsync(string slug, string name)
    {
        var database = Server.Database;
        await using var connection = await database.OpenAsync(CancellationToken.None);
        await using var transaction = await Steward.Server.Storage.Database.BeginWriteAsync(connection, CancellationToken.None);
        var id = Steward.Server.Identity.Tokens.NewId("org");
        var now = Clock.GetUtcNow();
        await connection.ExecuteAsync("INSERT INTO organisations (id, slug, name, created_at) VALUES (@id, @slug, @name, @at)", transaction, CancellationToken.None,
            ("id", id), ("slug", slug), ("name", name), ("at", Steward.Server.Storage.Timestamps.ToText(now)));
        await connection.ExecuteAsync(
            "INSERT INTO profiles (id, organisation_id, registry_mode, updated_at) VALUES (@id, @org, 'hosted', @at)", transaction, CancellationToken.None,
            ("id", Steward.Server.Identity.Tokens.NewId("prf")), ("org", id), ("at", Steward.Server.Storage.Timestamps.ToText(now)));
        var admin = Steward.Server.Identity.Tokens.Generate();
        await Steward.Server.Identity.Authentication.CreateTokenAsync(connection, transaction, id, null, Steward.Server.Identity.Roles.Admin, "admin of " + slug, admin, now, null, CancellationToken.None);
        await transaction.CommitAsync();
        return admin;
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>
    /// A screenshot of the page: into docs/images when STEWARD_CONSOLE_SCREENSHOTS=1 (how the README's images are made),
    /// else into a temporary directory (the step still runs).
    /// </summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        ArgumentNullException.ThrowIfNull(page);
        var directory = Environment.GetEnvironmentVariable("STEWARD_CONSOLE_SCREENSHOTS") == "1" && RepositoryRoot() is { } root
            ? Path.Combine(root, "docs", "images")
            : Path.Combine(Path.GetTempPath(), "steward-console-screenshots");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, name + ".png"), FullPage = true });
    }

    private static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        // The shared Playwright driver (SharedPlaywright) lives as long as the test process.
        Ca?.Dispose();
        if (Server is not null)
        {
            await Server.StopAsync(CancellationToken.None);
            await Server.DisposeAsync();
        }

        if (_root.Length > 0)
        {
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
