using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.DependencyInjection;
using Steward.Server.Exports;

namespace Steward.Server.AdminConsole;

/// <summary>Who is using a console page: the session, the organisation it is for, its accounts and the account chosen (null: the organisation's profile).</summary>
internal sealed record ConsoleUser(ConsoleSession Session, SessionGrant Grant, IReadOnlyList<ConsoleAccount> Accounts, ConsoleAccount? Account)
{
    public Organisation Organisation => Grant.Organisation;

    /// <summary>The query string that keeps the chosen account on links between pages.</summary>
    public string AccountQuery => Account is null ? "" : "?account=" + Uri.EscapeDataString(Account.Slug);

    public string Base => "/o/" + Uri.EscapeDataString(Organisation.Slug) + "/console";
}

/// <param name="RegistryPath">The account's anonymous Registry API base and <paramref name="KiroPath"/> its Kiro file, as the listing gives them (keyed: Organisations.AccountUrls).</param>
internal sealed record ConsoleAccount(string Slug, string Name, bool HasProfile, string RegistryPath, string KiroPath);

/// <summary>
/// The admin console: server-rendered Razor components (static rendering, enhanced forms) under <c>/o/{org}/console</c>,
/// sign-in and sign-out under <c>/console</c>. Every console response carries a strict Content-Security-Policy and
/// the other security headers; every form is protected by antiforgery tokens; every page needs a live session.
/// </summary>
internal static partial class ConsoleModule
{
    public const string AntiforgeryCookie = "steward_console_csrf";

    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

    public static void AddServices(IServiceCollection services)
    {
        services.AddRazorComponents();
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = AntiforgeryCookie;
            options.Cookie.SameSite = SameSiteMode.Strict;
            // Secure on https requests (through a trusted proxy too); the session cookie follows the public URL as well.
            options.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            options.Cookie.HttpOnly = true;
        });
    }

    public static void Map(WebApplication app)
    {
        app.UseWhen(context => IsConsolePath(context.Request.Path), console => console.Use(GateAsync));
        app.UseAntiforgery();
        app.MapGet("/console", RootAsync);
        app.MapGet("/console/console.css", Stylesheet);
        app.MapGet("/o/{org}/console/exports/{format}/download", DownloadAsync);
        app.MapRazorComponents<App>();
    }

    /// <summary>The console's paths: <c>/console…</c>, <c>/o/{org}/console…</c> and the framework script the pages load.</summary>
    public static bool IsConsolePath(PathString path) =>
        path.StartsWithSegments("/console") || path.StartsWithSegments("/_framework") || OrganisationPath().IsMatch(path.Value ?? "");

    [GeneratedRegex("^/o/[^/]+/console(/|$)", RegexOptions.CultureInvariant)]
    private static partial Regex OrganisationPath();

    [GeneratedRegex("^/o/([^/]+)/console(/|$)", RegexOptions.CultureInvariant)]
    private static partial Regex OrganisationSlug();

    private static async Task GateAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        if (context.Request.Path.StartsWithSegments("/_framework") || context.Request.Path.StartsWithSegments("/console/console.css"))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        headers.CacheControl = "no-store";
        var services = context.RequestServices;
        var database = services.GetRequiredService<Database>();
        var time = services.GetRequiredService<TimeProvider>();
        var session = await ConsoleSessions.FindAsync(context, database, time, context.RequestAborted).ConfigureAwait(false);
        if (session is not null)
        {
            context.Items[typeof(ConsoleSession)] = session;
        }

        var match = OrganisationSlug().Match(context.Request.Path.Value ?? "");
        if (!match.Success)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var slug = Uri.UnescapeDataString(match.Groups[1].Value);
        if (session?.For(slug) is not { } grant)
        {
            var expired = session is null && context.Request.Cookies.ContainsKey(ConsoleSessions.CookieName);
            var back = context.Request.Path + context.Request.QueryString;
            context.Response.Redirect($"/console/sign-in?returnUrl={Uri.EscapeDataString(back)}{(expired ? "&expired=1" : "")}");
            return;
        }

        var accounts = (await AccountOperations.ListAsync(database, grant.Organisation, services.GetRequiredService<Identity.SecretBox>(), context.RequestAborted).ConfigureAwait(false))
            .Select(a => new ConsoleAccount(a.Account.Slug, a.Account.Name, a.HasProfile, a.RegistryPath, a.KiroPath))
            .ToList();
        var chosen = context.Request.Query["account"].ToString() is { Length: > 0 } accountSlug ? accounts.FirstOrDefault(a => a.Slug == accountSlug) : null;
        context.Items[typeof(ConsoleUser)] = new ConsoleUser(session, grant, accounts, chosen);
        await next(context).ConfigureAwait(false);
    }

    /// <summary><c>/console</c>: the first organisation's console when signed in, else the sign-in page.</summary>
    private static IResult RootAsync(HttpContext context)
    {
        if (context.Items[typeof(ConsoleSession)] is not ConsoleSession session)
        {
            return Results.Redirect("/console/sign-in");
        }

        var grant = session.For(context.Request.Query["org"].ToString()) ?? session.Grants[0];
        return Results.Redirect("/o/" + Uri.EscapeDataString(grant.Organisation.Slug) + "/console");
    }

    private static IResult Stylesheet(HttpContext context)
    {
        context.Response.Headers.CacheControl = "public, max-age=3600";
        return Results.Bytes(StylesheetBytes.Value, "text/css; charset=utf-8");
    }

    private static readonly Lazy<byte[]> StylesheetBytes = new(() =>
    {
        using var stream = typeof(ConsoleModule).Assembly.GetManifestResourceStream("Steward.Server.Console.console.css")
            ?? throw new InvalidOperationException("the console stylesheet is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>An export as a file download, for the signed-in admin (the export API itself needs a bearer token): built by <see cref="ExportOperations"/>, as the API builds it.</summary>
    private static async Task<IResult> DownloadAsync(HttpContext context, Database database)
    {
        if (context.Items[typeof(ConsoleUser)] is not ConsoleUser user)
        {
            return Results.NotFound();
        }

        var format = context.GetRouteValue("format") as string ?? "";
        if (!ExportFormats.All.Contains(format, StringComparer.Ordinal))
        {
            return Results.NotFound();
        }

        var request = ExportRequest.Read(format, "", "");
        var built = request.Ok
            ? await ExportOperations.BuildAsync(database, user.Organisation, user.Account?.Slug ?? "", request.Value, context.RequestAborted).ConfigureAwait(false)
            : Http.Outcome<BuiltExport>.Refused(request.Problem);
        if (!built.Ok)
        {
            return Results.Text(ConsoleProblems.Describe(built.Problem).Detail, "text/plain; charset=utf-8", statusCode: built.Status);
        }

        var pretty = JsonNode.Parse(built.Value.Result.Document)!.ToJsonString(ConsoleJson.Indented);
        return Results.File(System.Text.Encoding.UTF8.GetBytes(pretty + "\n"), "application/json", ExportFileName(format, user.Account?.Slug));
    }

    public static string ExportFileName(string format, string? account) => (format switch
    {
        ExportFormats.Kiro => "registry",
        ExportFormats.ClaudeManagedMcp => "managed-mcp",
        ExportFormats.ClaudeSettings => "claude-managed-settings",
        ExportFormats.Copilot => "managed-settings",
        ExportFormats.Cursor => "cursor-allowlist",
        ExportFormats.Gemini => "gemini-settings",
        _ => format,
    }) + (account is null ? "" : "." + account) + ".json";
}

internal static class ConsoleJson
{
    public static readonly System.Text.Json.JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>JSON text pretty-printed (two spaces), or the text as it is when it is not JSON.</summary>
    public static string Pretty(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return "";
        }

        try
        {
            return JsonNode.Parse(json)?.ToJsonString(Indented) ?? "null";
        }
        catch (System.Text.Json.JsonException)
        {
            return json;
        }
    }
}
