using System.Globalization;
using System.Text.RegularExpressions;
using Steward.Core.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Registry;

/// <summary>
/// The generic Registry API (v0.1, and v0 identical) that VS Code, GitHub Copilot and other hosts read, for the first
/// organisation at the root and for each organisation (and account) under its own base URL.
/// </summary>
internal static partial class RegistryApi
{
    public const int DefaultLimit = 30;
    public const int MaxLimit = 100;

    public static readonly string[] BasePaths = ["", "/o/{org}/registry", "/o/{org}/a/{account}/registry"];
    public static readonly string[] ApiVersions = ["/v0.1", "/v0"];

    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var basePath in BasePaths)
        {
            foreach (var version in ApiVersions)
            {
                var group = app.MapGroup(basePath + version);
                group.MapGet("/servers", ListServers);
                group.MapGet("/servers/{**path}", ServerRoute);
                group.MapGet("/health", () => Results.Json(new HealthReport("ok"), ServerJsonContext.Default.HealthReport));
                group.MapGet("/ping", () => Results.Bytes("{\"pong\":true}"u8.ToArray(), "application/json"));
            }
        }
    }

    /// <summary>True for every path the registry routes serve: they all carry the CORS headers hosts need.</summary>
    public static bool IsRegistryPath(PathString path) => path.HasValue && RegistryPathPattern().IsMatch(path.Value!);

    [GeneratedRegex(@"^(/o/[^/]+(/a/[^/]+)?/registry)?/v0(\.1)?(/|$)", RegexOptions.CultureInvariant)]
    private static partial Regex RegistryPathPattern();

    /// <summary>The cached answer for this request's query at this revision, with ETag and 304 handling.</summary>
    private static IResult Cached(HttpContext context, RegistryPageCache.Page page)
    {
        context.Response.Headers.ETag = page.ETag;
        return ETags.Matches(context.Request.Headers.IfNoneMatch.ToString(), page.ETag)
            ? Results.StatusCode(StatusCodes.Status304NotModified)
            : new JsonBytes(page.Body, StatusCodes.Status200OK);
    }

    private static string CacheKey(HttpContext context, string what) => what + "\n" + context.Request.QueryString.Value;

    private static IResult OrganisationNotFound(HttpContext context) =>
        Problems.Result(StatusCodes.Status404NotFound, "Organisation not found",
            context.GetRouteValue("org") is string slug ? $"there is no registry for \"{slug}\"" : "this server has no organisation yet");

    /// <summary><c>GET /servers</c>: cursor, limit, search, updated_since, version, include_deleted; ordered by name then version (<see cref="RegistryReads.ListAsync"/>).</summary>
    internal static async Task<IResult> ListServers(HttpContext context, Database database, RegistryPageCache cache, RegistryRevisions revisions, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var limit = DefaultLimit;
        if (query.TryGetValue("limit", out var limitValues) && limitValues.ToString() is { Length: > 0 } limitText)
        {
            if (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit))
            {
                return Problems.Query("limit", $"expected an integer from 1 to {MaxLimit}", limitText);
            }

            if (limit is < 1 or > MaxLimit)
            {
                return Problems.Query("limit", limit < 1 ? "expected number >= 1" : $"expected number <= {MaxLimit}", limitText);
            }
        }

        bool? includeDeleted = null;
        if (query.TryGetValue("include_deleted", out var includeValues) && includeValues.ToString() is { Length: > 0 } includeText)
        {
            if (!TryParseBool(includeText, out var include))
            {
                return Problems.Query("include_deleted", "expected true or false", includeText);
            }

            includeDeleted = include;
        }

        DateTimeOffset? since = null;
        if (query.TryGetValue("updated_since", out var sinceValues) && sinceValues.ToString() is { Length: > 0 } sinceText)
        {
            if (!Rfc3339.TryParse(sinceText, out var parsed))
            {
                return Problems.BadRequest("Invalid updated_since format: expected RFC3339 timestamp (e.g., 2025-08-07T13:15:04.280Z)");
            }

            if (includeDeleted == false)
            {
                return Problems.BadRequest("include_deleted cannot be false when updated_since is given: an incremental read always includes deleted servers");
            }

            since = parsed;
        }

        if (await revisions.ResolveAsync(context, cancellationToken).ConfigureAwait(false) is not { } organisation)
        {
            return OrganisationNotFound(context);
        }

        var list = new ServerListQuery(limit, query["search"].ToString(), query["version"].ToString(), RawQueryValue(context.Request.QueryString, "cursor"), since, includeDeleted);
        var caller = await ReaderAsync(context, database, list.AsksDeleted, cancellationToken).ConfigureAwait(false);
        var key = CacheKey(context, RegistryReads.SeesDeleted(list.AsksDeleted, caller, organisation) ? "servers\nadmin" : "servers");
        if (cache.Find(organisation.Source.CacheId, organisation.Revision, key) is { } cached)
        {
            return Cached(context, cached);
        }

        var servers = await RegistryReads.ListAsync(database, organisation, caller, list, cancellationToken).ConfigureAwait(false);
        return Cached(context, cache.Add(organisation.Source.CacheId, organisation.Revision, key, servers.ToJson()));
    }

    /// <summary><c>GET /servers/{name}/versions</c> and <c>GET /servers/{name}/versions/{version|latest}</c> (<see cref="RegistryReads.VersionsAsync"/>, <see cref="RegistryReads.VersionAsync"/>).</summary>
    internal static async Task<IResult> ServerRoute(HttpContext context, Database database, RegistryPageCache cache, RegistryRevisions revisions, CancellationToken cancellationToken)
    {
        var path = ServerPath.Parse(context.GetRouteValue("path") as string);
        if (path is null || (!path.IsVersionList && path.Version is null))
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found",
                "use /servers/{serverName}/versions or /servers/{serverName}/versions/{version|latest}, with the name URL-encoded");
        }

        var includeDeleted = false;
        if (context.Request.Query["include_deleted"].ToString() is { Length: > 0 } includeText && !TryParseBool(includeText, out includeDeleted))
        {
            return Problems.Query("include_deleted", "expected true or false", includeText);
        }

        if (await revisions.ResolveAsync(context, cancellationToken).ConfigureAwait(false) is not { } organisation)
        {
            return OrganisationNotFound(context);
        }

        var caller = await ReaderAsync(context, database, includeDeleted, cancellationToken).ConfigureAwait(false);
        var source = organisation.Source;
        var key = CacheKey(context, (RegistryReads.SeesDeleted(includeDeleted, caller, organisation) ? "server-admin\n" : "server\n") + path.Name + "\n" + string.Join('\n', path.Rest));
        if (cache.Find(source.CacheId, organisation.Revision, key) is { } cached)
        {
            return Cached(context, cached);
        }

        if (path.IsVersionList)
        {
            var versions = await RegistryReads.VersionsAsync(database, organisation, caller, path.Name, includeDeleted, cancellationToken).ConfigureAwait(false);
            return versions.Ok ? Cached(context, cache.Add(source.CacheId, organisation.Revision, key, versions.Value.ToJson())) : Problems.Of(versions.Problem);
        }

        var version = await RegistryReads.VersionAsync(database, organisation, caller, path.Name, path.Version!, includeDeleted, cancellationToken).ConfigureAwait(false);
        return version.Ok ? Cached(context, cache.Add(source.CacheId, organisation.Revision, key, RegistryJson.Item(version.Value))) : Problems.Of(version.Problem);
    }

    /// <summary>
    /// Who reads, when it matters: a request that asks for deleted versions is answered with them only when it is an
    /// admin of the registry's organisation (an admin bearer token, or the console's signed-in admin); null when it does not ask.
    /// </summary>
    private static async Task<Caller?> ReaderAsync(HttpContext context, Database database, bool asksDeleted, CancellationToken cancellationToken) =>
        !asksDeleted ? null
            : context.Items[typeof(Caller)] as Caller
                ?? await Authentication.AuthenticateAsync(context, database, context.RequestServices.GetRequiredService<TimeProvider>(), cancellationToken).ConfigureAwait(false);

    private static bool TryParseBool(string text, out bool value)
    {
        switch (text.ToLowerInvariant())
        {
            case "true" or "1":
                value = true;
                return true;
            case "false" or "0":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>
    /// A query parameter read from the raw query string and percent-decoded once, without turning <c>+</c> into a space:
    /// hosts send the cursor raw (<c>name:1.0.0+build</c>) or URL-encoded, and both must give the same cursor.
    /// </summary>
    internal static string? RawQueryValue(QueryString queryString, string name)
    {
        var text = queryString.Value;
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        foreach (var pair in text.TrimStart('?').Split('&'))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? pair : pair[..equals];
            if (key != name)
            {
                continue;
            }

            var raw = equals < 0 ? "" : pair[(equals + 1)..];
            try
            {
                return Uri.UnescapeDataString(raw);
            }
            catch (UriFormatException)
            {
                return raw;
            }
        }

        return null;
    }
}
