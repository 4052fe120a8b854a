using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Npgsql;
using Steward.Server.Registry;

namespace Steward.Server;

/// <summary>
/// The Steward server: storage opened and migrated, Kestrel listening, the demo organisation created on first start.
/// <see cref="RunAsync"/> is <c>steward serve</c>; <see cref="StartAsync"/> starts one in-process (tests use port 0).
/// </summary>
public sealed class StewardServer : IAsyncDisposable
{
    private const string SqliteFileName = "steward.db";

    private readonly WebApplication _app;
    private readonly Database _database;

    private StewardServer(WebApplication app, Database database, IReadOnlyList<Uri> urls, FirstStartResult firstStart)
    {
        _app = app;
        _database = database;
        Urls = urls;
        FirstStart = firstStart;
    }

    /// <summary>The addresses Kestrel listens on, with the real port when 0 was asked for.</summary>
    public IReadOnlyList<Uri> Urls { get; }

    public Uri BaseUrl => Urls[0];

    /// <summary>Whether this start created the demo organisation, and the admin token it generated (null when none was).</summary>
    public FirstStartResult FirstStart { get; }

    internal Database Database => _database;

    /// <summary>The running server's services (tests reach the import gate through them).</summary>
    internal IServiceProvider Services => _app.Services;

    /// <summary>Where the data lives (a file path, or PostgreSQL host/port/database).</summary>
    public string DatabaseDescription => _database.Description;

    /// <summary>
    /// <c>steward serve</c>: starts (printing the banner to <see cref="ServeOptions.Messages"/>, serves until
    /// <paramref name="cancellationToken"/>, SIGTERM or Ctrl-C, then stops gracefully. Exit codes: 0 stopped, 2 a bad
    /// option (one line naming it), 1 an unexpected failure (one line).
    /// </summary>
    public static async Task<int> RunAsync(ServeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var messages = options.Messages ?? Console.Error;
        try
        {
            options = options.WithEnvironment();
        }
        catch (ServeException e)
        {
            await messages.WriteLineAsync("steward serve: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        StewardServer server;
        try
        {
            server = await StartAsync(options, stop.Token).ConfigureAwait(false);
        }
        catch (ServeException e)
        {
            await messages.WriteLineAsync("steward serve: " + e.Message).ConfigureAwait(false);
            return 2;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
#pragma warning disable CA1031 // The command's contract: one line and an exit code, never a stack trace.
        catch (Exception e)
#pragma warning restore CA1031
        {
            await messages.WriteLineAsync("steward serve: the server failed to start: " + e.Message).ConfigureAwait(false);
            return 1;
        }

        await using (server.ConfigureAwait(false))
        {
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>What a person needs after a start: where the console and the Registry API are, and (first start only) the admin token.</summary>
    public static string Banner(StewardServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var origin = server.BaseUrl.GetLeftPart(UriPartial.Authority);
        var text = new System.Text.StringBuilder();
        text.AppendLine("Steward server is running.");
        text.AppendLine($"  Console:      {origin}/o/{DemoRegistry.Slug}/console (sign in with the admin token)");
        text.AppendLine($"  Registry API: {origin} (the first organisation; give hosts this origin as their MCP registry URL)");
        text.AppendLine($"                {origin}/o/<org>/registry for any organisation");
        text.AppendLine($"  Admin API:    {origin}/api/v1/orgs/<org>/...");
        text.AppendLine($"  Data:         {server.DatabaseDescription}");
        if (server.FirstStart.Seeded)
        {
            text.AppendLine($"  Created the organisation \"{DemoRegistry.Slug}\" ({DemoRegistry.Name}) with a demo registry.");
            text.AppendLine(server.FirstStart.GeneratedAdminToken is { } token
                ? $"  Admin token (shown once; only its hash is stored): {token}"
                : $"  Admin token: the value of {ServeOptions.AdminTokenVariable} (only its hash is stored).");
        }

        return text.ToString();
    }

    public static async Task<StewardServer> StartAsync(ServeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = PublicAddress.ParseProxies(options.TrustedProxies);
        var allowPrivate = Core.Net.OutboundAllowList.Parse(options.OutboundAllowPrivate, out var allowError)
            ?? throw new ServeException(ServeOptions.OutboundAllowPrivateVariable, allowError!);
        Core.Net.OutboundTrust? trust = null;
        if (options.OutboundCaFile is { } caFile)
        {
            trust = Core.Net.OutboundTrust.Load(caFile, out var trustError) ?? throw new ServeException(Core.Net.OutboundTrust.Variable, trustError!);
        }

        var database = OpenDatabase(options);
        try
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
            ConfigureLogging(builder.Logging, options);
            builder.WebHost.UseUrls([.. options.Urls]);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxRequestBodySize = 4 * RequestBodies.MaxBytes;
            });
            builder.Services.AddSingleton(database);
            builder.Services.AddSingleton(options.TimeProvider);
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(new ServerOutbound(options, allowPrivate, trust));
            builder.Services.AddSingleton<LocalChanges>();
            if (Telemetry.Start(options.OtlpEndpoint, options.OtlpProtocol) is { } telemetry)
            {
                // Owned (and so flushed and disposed at shutdown) by the container.
                builder.Services.AddSingleton(_ => telemetry);
            }
            builder.Services.AddSingleton<Readiness>();
            // The console's antiforgery and OIDC-state keys live in the data directory (0700), never in the current
            // directory or a HOME that may not exist.
            builder.Services.AddDataProtection()
                .SetApplicationName("steward")
                .PersistKeysToFileSystem(PrivateDirectory(Path.Combine(Path.GetFullPath(options.DataDir), DataProtectionDirectory)));
            // Each feature's services; the hosted services among them start in this order.
            Policy.PolicyModule.AddServices(builder.Services, options);
            Models.ModelsModule.AddServices(builder.Services, options);
            AdminConsole.ConsoleModule.AddServices(builder.Services);
            AuditModule.AddServices(builder.Services);
            RegistryModule.AddServices(builder.Services);
            IdentityModule.AddServices(builder.Services, options);
            builder.Services.AddSingleton<IHostLifetime, HostedLifetime>();
            builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));
            builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServerJsonContext.Default));

            var app = builder.Build();
            _ = app.Services.GetService<Telemetry>();
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Steward.Server");
            try
            {
                var applied = await Migrations.ApplyAsync(database, options.TimeProvider, cancellationToken).ConfigureAwait(false);
                if (applied.Count > 0)
                {
                    Log.Migrated(logger, string.Join(", ", applied));
                }
            }
            catch (Exception e) when (e is DbException or SocketException or TimeoutException or IOException or UnauthorizedAccessException)
            {
                throw DatabaseFailure(options, database, e);
            }

            await Policy.PolicyModule.StartAsync(app.Services, cancellationToken).ConfigureAwait(false);
            await Models.ModelsModule.StartAsync(app.Services, cancellationToken).ConfigureAwait(false);

            Configure(app, options);
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or FormatException or UriFormatException or SocketException)
            {
                await app.DisposeAsync().ConfigureAwait(false);
                throw new ServeException("--urls", $"cannot listen on {string.Join(", ", options.Urls)}: {e.Message}", e);
            }

            FirstStartResult firstStart;
            try
            {
                firstStart = await Organisations.FirstStart.RunAsync(database, options.TimeProvider, options.BootstrapAdminToken, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            if (firstStart.Seeded)
            {
                Log.Seeded(logger, DemoRegistry.Slug);
            }

            await WarnOfTokensWithoutExpiryAsync(database, logger, cancellationToken).ConfigureAwait(false);

            app.Services.GetRequiredService<Readiness>().Ready = true;
            var urls = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
            Log.Listening(logger, string.Join(", ", urls), database.Description);
            var server = new StewardServer(app, database, urls, firstStart);
            var messages = options.Messages ?? Console.Error;
            await messages.WriteAsync(Banner(server)).ConfigureAwait(false);
            await messages.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await database.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The bootstrap token never expires: every start says so until it is revoked (the console says it too).</summary>
    private static async Task WarnOfTokensWithoutExpiryAsync(Database database, ILogger logger, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var count = Convert.ToInt64(await connection.ScalarAsync(
            "SELECT COUNT(*) FROM api_tokens WHERE expires_at IS NULL AND revoked_at IS NULL AND role = 'admin'", null, cancellationToken).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture);
        if (count > 0)
        {
            Log.TokensWithoutExpiry(logger, count);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Log.Stopping(_app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Steward.Server"));
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        await _database.DisposeAsync().ConfigureAwait(false);
    }

    private static void Configure(WebApplication app, ServeOptions options)
    {
        PublicAddress.Use(app, options);
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
            }
            catch (Exception e) when (!context.Response.HasStarted)
            {
                Log.Unhandled(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Steward.Server"), e, context.Request.Method, context.Request.Path);
                context.Response.Clear();
                await Problems.Result(StatusCodes.Status500InternalServerError, "Internal Server Error", "the server failed to answer; the error is in its log").ExecuteAsync(context).ConfigureAwait(false);
            }
        });

        app.Use(AuthenticationThrottle.Middleware);

        // A change committed through this instance makes what it remembers from the database stale at once.
        app.Use(LocalChanges.AfterWrites);

        // Every registry route answers browsers (GitHub Copilot's registry check) and OPTIONS preflights.
        app.Use(async (context, next) =>
        {
            if (RegistryApi.IsRegistryPath(context.Request.Path))
            {
                var headers = context.Response.Headers;
                headers.AccessControlAllowOrigin = "*";
                headers.AccessControlAllowMethods = "GET, OPTIONS";
                headers.AccessControlAllowHeaders = "Authorization, Content-Type";
                headers.AccessControlExposeHeaders = "ETag";
                if (HttpMethods.IsOptions(context.Request.Method))
                {
                    headers.AccessControlMaxAge = "86400";
                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                    return;
                }
            }

            await next(context).ConfigureAwait(false);
        });

        app.MapGet("/healthz", () => Results.Json(new HealthReport("ok"), ServerJsonContext.Default.HealthReport));
        app.MapGet("/readyz", ReadyAsync);
        app.MapGet("/", () => Results.Text(
            "Steward server. Registry API: /v0.1/servers (first organisation), /o/{org}/registry/v0.1/servers; admin API: /api/v1/orgs/{org}/...\n",
            "text/plain; charset=utf-8"));

        // Each feature's routes; organisationAdmin is /api/v1/orgs/{org} with the admin filter.
        var organisationAdmin = app.MapGroup("/api/v1/orgs/{org}").AddEndpointFilter(Authentication.RequireOrganisationAdmin);
        RegistryModule.Map(app, organisationAdmin);
        AuditModule.Map(app, organisationAdmin);
        OrganisationsModule.Map(app, organisationAdmin);
        Policy.PolicyModule.Map(app);
        Exports.ExportsModule.Map(app);
        IdentityModule.Map(app, organisationAdmin);
        Models.ModelsModule.Map(app, organisationAdmin);
        AdminConsole.OidcSignIn.Map(app);
        AdminConsole.ConsoleModule.Map(app);
    }

    private static async Task<IResult> ReadyAsync(Database database, Readiness readiness, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        string? reason = null;
        if (!readiness.Ready)
        {
            reason = "starting";
        }
        else
        {
            try
            {
                if (!await Migrations.IsCurrentAsync(database, cancellationToken).ConfigureAwait(false))
                {
                    reason = "the database schema is not at the version this server needs";
                }
            }
            catch (DbException e)
            {
                reason = "the database does not answer: " + e.Message;
            }
        }

        if (reason is null)
        {
            return Results.Json(new HealthReport("ready"), ServerJsonContext.Default.HealthReport);
        }

        Log.NotReady(loggers.CreateLogger("Steward.Server"), reason);
        return Results.Json(new HealthReport("not ready", reason), ServerJsonContext.Default.HealthReport, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static void ConfigureLogging(ILoggingBuilder logging, ServeOptions options)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(options.LogLevel);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // The data-protection keys sit in <data-dir>/data-protection-keys (0700), beside the key encryption key that would
        // encrypt them: ASP.NET's "No XML encryptor configured" warning at every first start would add worry, not safety.
        logging.AddFilter("Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager", LogLevel.Error);
        // A failure to start is reported once, as one line naming the option, by StewardServer.RunAsync.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        if (options.JsonLogs)
        {
            logging.AddJsonConsole(json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
            });
        }
        else
        {
            logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.UseUtcTimestamp = true;
                console.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            });
        }

        // Standard output is left to whoever runs the server; every log line goes to standard error.
        logging.Services.Configure<ConsoleLoggerOptions>(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
    }

    /// <summary>The database the options name: PostgreSQL for a connection string, else the SQLite file in the data directory.</summary>
    private static Database OpenDatabase(ServeOptions options)
    {
        if (options.Database is { Length: > 0 } connectionString)
        {
            try
            {
                return Database.Postgres(connectionString);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
            {
                throw new ServeException("--database", $"not a PostgreSQL connection string ({e.Message}); expected for example \"Host=localhost;Database=steward;Username=steward;Password=…\"", e);
            }
        }

        var directory = Path.GetFullPath(options.DataDir);
        var file = Path.Combine(directory, SqliteFileName);
        try
        {
            if (!Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(directory);
                }
                else
                {
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }

            if (!File.Exists(file))
            {
                CreateOwnerOnly(file);
            }
            else if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            // Exception texts may be resource keys in a trimmed build; say what is wrong in our own words.
            var why = e switch
            {
                UnauthorizedAccessException => "permission denied",
                DirectoryNotFoundException => "a part of the path is missing or is a file",
                IOException when FileAncestor(directory) is { } blocker => $"{blocker} is a file, not a directory",
                _ => "the directory cannot be created or written",
            };
            throw new ServeException("--data-dir", $"cannot keep the database file {SqliteFileName} in {directory}: {why}", e);
        }

        return Database.Sqlite(file);
    }

    private static string? FileAncestor(string directory)
    {
        for (var path = directory; !string.IsNullOrEmpty(path); path = Path.GetDirectoryName(path))
        {
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>Where the console's data-protection keys are kept, inside the data directory.</summary>
    internal const string DataProtectionDirectory = "data-protection-keys";

    private static DirectoryInfo PrivateDirectory(string path)
    {
        try
        {
            return OperatingSystem.IsWindows()
                ? Directory.CreateDirectory(path)
                : Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServeException("--data-dir", $"cannot keep the console's keys in {path}: {(e is UnauthorizedAccessException ? "permission denied" : "the directory cannot be created")}", e);
        }
    }

    /// <summary>Creates an empty file readable and writable by its owner only (0600), before SQLite opens it.</summary>
    private static void CreateOwnerOnly(string file)
    {
        if (OperatingSystem.IsWindows())
        {
            using var plain = new FileStream(file, FileMode.CreateNew, FileAccess.ReadWrite);
            return;
        }

        using var created = new FileStream(file, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
    }

    private static ServeException DatabaseFailure(ServeOptions options, Database database, Exception e) => database.Dialect == Dialect.Sqlite
        ? new ServeException("--data-dir", $"cannot open the database {database.Description}: {(e as SqliteException)?.Message ?? e.Message}", e)
        : e is SchemaTooNewException
            ? new ServeException("--database", e.Message, e)
            : new ServeException("--database", $"cannot use PostgreSQL at {database.Description}: {(e as NpgsqlException)?.Message ?? e.Message}", e);
}

/// <summary>Ready once migrations ran and the first start finished.</summary>
internal sealed class Readiness
{
    private volatile bool _ready;

    public bool Ready
    {
        get => _ready;
        set => _ready = value;
    }
}

/// <summary>Start and stop are driven by <see cref="StewardServer"/>, which owns the signal handling; the host registers none.</summary>
internal sealed class HostedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
