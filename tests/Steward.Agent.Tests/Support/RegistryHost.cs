using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Steward.Agent.Tests.Support;

/// <summary>
/// A real Kestrel on 127.0.0.1 serving a Kiro registry file at <c>/kiro.json</c> (with an ETag and 304) and an
/// official-style paged Registry API at <c>/v0.1/servers</c> (also under <c>/steward</c>, where a bearer token is required).
/// </summary>
internal sealed class RegistryHost : IAsyncDisposable
{
    private readonly WebApplication app;

    private RegistryHost(WebApplication app) => this.app = app;

    public byte[] KiroFile { get; set; } = File.ReadAllBytes(FixturePaths.Kiro);

    /// <summary>The items the Registry API pages through, raw.</summary>
    public List<string> ApiItems { get; set; } = [];

    public string? RequiredToken { get; set; }

    public int KiroRequests { get; private set; }

    public int NotModifiedAnswers { get; private set; }

    public List<string> ApiRequests { get; } = [];

    public List<string?> AuthorizationHeaders { get; } = [];

    public string BaseUrl { get; private set; } = "";

    public static async Task<RegistryHost> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var host = new RegistryHost(app);
        app.MapGet("/kiro.json", (HttpContext context) => host.Kiro(context));
        app.MapGet("/v0.1/servers", (HttpContext context) => host.Page(context, requireToken: false));
        app.MapGet("/steward/v0.1/servers", (HttpContext context) => host.Page(context, requireToken: true));
        await app.StartAsync();
        host.BaseUrl = app.Urls.First().TrimEnd('/');
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private IResult Kiro(HttpContext context)
    {
        KiroRequests++;
        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(KiroFile))[..16] + "\"";
        if (context.Request.Headers.IfNoneMatch.ToString() == etag)
        {
            NotModifiedAnswers++;
            context.Response.Headers.ETag = etag;
            return Results.StatusCode(304);
        }

        context.Response.Headers.ETag = etag;
        return Results.Bytes(KiroFile, "application/json");
    }

    private IResult Page(HttpContext context, bool requireToken)
    {
        ApiRequests.Add(context.Request.QueryString.Value ?? "");
        AuthorizationHeaders.Add(context.Request.Headers.Authorization.FirstOrDefault());
        if (requireToken && context.Request.Headers.Authorization.ToString() != "Bearer " + RequiredToken)
        {
            return Results.StatusCode(401);
        }

        var limit = int.Parse(context.Request.Query["limit"].FirstOrDefault() ?? "30", System.Globalization.CultureInfo.InvariantCulture);
        var start = int.Parse(context.Request.Query["cursor"].FirstOrDefault() ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var items = ApiItems.Skip(start).Take(limit).ToList();
        var next = start + items.Count < ApiItems.Count ? (start + items.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        var body = "{\"servers\":[" + string.Join(",", items) + "],\"metadata\":{" + (next is null ? "" : "\"nextCursor\":\"" + next + "\",") + "\"count\":" + items.Count + "}}";
        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(",", ApiItems))))[..16] + "\"";
        if (start == 0)
        {
            if (context.Request.Headers.IfNoneMatch.ToString() == etag)
            {
                NotModifiedAnswers++;
                return Results.StatusCode(304);
            }

            context.Response.Headers.ETag = etag;
        }

        return Results.Text(body, "application/json");
    }

    /// <summary>The first <paramref name="count"/> items of the official registry snapshot fixture, raw.</summary>
    public static List<string> SnapshotItems(int count)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(FixturePaths.Snapshot).AsMemory(3));
        return document.RootElement.EnumerateArray()
            .Select(e => e.GetRawText())
            .Where(item => Steward.Core.Registry.RegistryLoader.Load(Encoding.UTF8.GetBytes("{\"servers\":[" + item + "],\"metadata\":{}}"), Steward.Core.Registry.RegistryShape.RegistryApiPage).IsValid)
            .Take(count)
            .ToList();
    }
}

/// <summary>Kiro registry files built for a test: npm servers <c>@acme/&lt;name&gt;</c> at the given versions.</summary>
internal static class KiroFiles
{
    public static byte[] With(params (string Name, string Version)[] servers)
    {
        var array = new JsonArray();
        foreach (var (name, version) in servers)
        {
            array.Add(new JsonObject
            {
                ["server"] = new JsonObject
                {
                    ["name"] = name,
                    ["description"] = "The " + name + " server",
                    ["version"] = version,
                    ["packages"] = new JsonArray(new JsonObject
                    {
                        ["registryType"] = "npm",
                        ["identifier"] = "@acme/" + name + "@" + version,
                        ["transport"] = new JsonObject { ["type"] = "stdio" },
                    }),
                },
            });
        }

        return Encoding.UTF8.GetBytes(new JsonObject { ["servers"] = array }.ToJsonString());
    }
}

/// <summary>A private configuration directory for one test, deleted afterwards.</summary>
internal sealed class TempConfig : IDisposable
{
    public TempConfig()
    {
        Root = Directory.CreateTempSubdirectory("steward-agent-").FullName;
        Paths = new StewardPaths(Path.Combine(Root, "config"));
        Workspace = Directory.CreateDirectory(Path.Combine(Root, "work")).FullName;
        Home = Directory.CreateDirectory(Path.Combine(Root, "home")).FullName;
    }

    public string Root { get; }

    public StewardPaths Paths { get; }

    public string Workspace { get; }

    public string Home { get; }

    public string Write(string relative, string content)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset now = start;

    public override DateTimeOffset GetUtcNow() => now;

    public void Advance(TimeSpan by) => now += by;
}

/// <summary>File modes, for the 0600 / 0700 checks (Steward's files are Unix-permission files).</summary>
internal static class Modes
{
    public const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode Directory0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static UnixFileMode Of(string path) =>
        OperatingSystem.IsWindows() ? throw new PlatformNotSupportedException("file modes are checked on Unix") : File.GetUnixFileMode(path);
}
