using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Tests;

/// <summary>
/// An official-style registry on a real Kestrel at 127.0.0.1: <c>GET /v0.1/servers</c> with limit, cursor
/// (<c>name:version</c>), updated_since (strict, deleted included) and include_deleted, as the official registry pages.
/// Items are <c>{server, _meta}</c> and can be changed between requests.
/// </summary>
internal sealed class FakeUpstreamRegistry : IAsyncDisposable
{
    private const string Official = "io.modelcontextprotocol.registry/official";
    private readonly WebApplication _app;
    private readonly List<JsonObject> _items;
    private readonly object _gate = new();

    private FakeUpstreamRegistry(WebApplication app, List<JsonObject> items)
    {
        _app = app;
        _items = items;
    }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>The query strings of every list request, in order.</summary>
    public List<string> Queries { get; } = [];

    public static async Task<FakeUpstreamRegistry> StartAsync(IEnumerable<JsonObject> items)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var registry = new FakeUpstreamRegistry(app, items.OrderBy(i => Name(i), StringComparer.Ordinal).ThenBy(i => Version(i), StringComparer.Ordinal).ToList());
        app.MapGet("/v0.1/servers", registry.List);
        await app.StartAsync();
        registry.BaseUrl = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return registry;
    }

    /// <summary>The snapshot's items, then the seed's server.json with official metadata added.</summary>
    public static List<JsonObject> SnapshotAndSeed(int? take = null)
    {
        var snapshot = JsonNode.Parse(File.ReadAllText(FixturePaths.Snapshot))!.AsArray().Select(n => n!.AsObject()).ToList();
        if (take is { } t)
        {
            snapshot = snapshot.Take(t).ToList();
        }

        foreach (var server in JsonNode.Parse(File.ReadAllText(FixturePaths.Seed))!.AsArray())
        {
            snapshot.Add(new JsonObject
            {
                ["server"] = server!.DeepClone(),
                ["_meta"] = new JsonObject
                {
                    [Official] = new JsonObject
                    {
                        ["status"] = "active",
                        ["publishedAt"] = "2025-12-01T00:00:00Z",
                        ["updatedAt"] = "2025-12-01T00:00:00Z",
                        ["isLatest"] = true,
                    },
                },
            });
        }

        // The seed's servers may be in the snapshot too: one item per name and version, as a registry holds.
        return snapshot.DistinctBy(i => (Name(i), Version(i))).ToList();
    }

    public static string Name(JsonObject item) => item["server"]!["name"]!.GetValue<string>();

    public static string Version(JsonObject item) => item["server"]!["version"]!.GetValue<string>();

    /// <summary>Sets one version's status upstream, with a new updatedAt (as the official registry does).</summary>
    public void SetStatus(string name, string version, string status, DateTimeOffset at)
    {
        lock (_gate)
        {
            var item = _items.Single(i => Name(i) == name && Version(i) == version);
            var meta = item["_meta"]![Official]!.AsObject();
            meta["status"] = status;
            meta["statusChangedAt"] = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
            meta["updatedAt"] = meta["statusChangedAt"]!.GetValue<string>();
        }
    }

    private IResult List(HttpContext context)
    {
        var query = context.Request.Query;
        lock (_gate)
        {
            Queries.Add(context.Request.QueryString.Value ?? "");
            var limit = int.TryParse(query["limit"], out var l) ? l : 30;
            DateTimeOffset? since = query["updated_since"].ToString() is { Length: > 0 } s ? DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : null;
            var includeDeleted = since is not null || query["include_deleted"] == "true";
            IEnumerable<JsonObject> rows = _items;
            if (!includeDeleted)
            {
                rows = rows.Where(i => i["_meta"]![Official]!["status"]!.GetValue<string>() != "deleted");
            }

            if (since is { } after)
            {
                rows = rows.Where(i => DateTimeOffset.Parse(i["_meta"]![Official]!["updatedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) > after);
            }

            if (query["cursor"].ToString() is { Length: > 0 } cursor)
            {
                var colon = cursor.IndexOf(':', StringComparison.Ordinal);
                var (cn, cv) = (cursor[..colon], cursor[(colon + 1)..]);
                rows = rows.Where(i => string.CompareOrdinal(Name(i), cn) > 0 || (Name(i) == cn && string.CompareOrdinal(Version(i), cv) > 0));
            }

            var page = rows.Take(limit + 1).ToList();
            var metadata = new JsonObject();
            if (page.Count > limit)
            {
                page.RemoveAt(limit);
                metadata["nextCursor"] = Name(page[^1]) + ":" + Version(page[^1]);
            }

            metadata["count"] = page.Count;
            var body = new JsonObject { ["servers"] = new JsonArray(page.Select(p => (JsonNode)p.DeepClone()).ToArray()), ["metadata"] = metadata };
            return Results.Text(body.ToJsonString(), "application/json");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
