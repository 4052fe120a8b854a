using System.Text.Json;

namespace Steward.Core.Registry;

/// <summary>The four shapes a registry document arrives in.</summary>
public enum RegistryShape
{
    /// <summary>One server.json object.</summary>
    ServerJson,
    /// <summary>A JSON array of server.json objects (the official seed format), or of <c>{server,_meta}</c> items.</summary>
    ServerJsonArray,
    /// <summary>A Registry API list page: <c>{servers:[{server,_meta}], metadata}</c>.</summary>
    RegistryApiPage,
    /// <summary>A Kiro registry file: <c>{servers:[{server}]}</c> with flat names (the Kiro subset).</summary>
    KiroFile,
}

/// <summary>The registry's own bookkeeping for one server version (<c>_meta["io.modelcontextprotocol.registry/official"]</c>).</summary>
public sealed record OfficialMeta
{
    public string? Status { get; init; }
    public string? StatusMessage { get; init; }
    public DateTimeOffset? StatusChangedAt { get; init; }
    public DateTimeOffset? PublishedAt { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
    public bool? IsLatest { get; init; }
}

public static class ServerStatuses
{
    public const string Active = "active";
    public const string Deprecated = "deprecated";
    public const string Deleted = "deleted";

    public static readonly IReadOnlyList<string> All = [Active, Deprecated, Deleted];
}

/// <summary>One server version in a document, with where it sits in the document (its JSON path).</summary>
public sealed record RegistryEntry(ServerDetail Server, string Path, OfficialMeta? Official = null, JsonElement? ResponseMeta = null)
{
    /// <summary>The path prefix of fields of <see cref="Server"/>: <c>servers[3].server</c>, <c>[2]</c>, or empty for a lone server.json.</summary>
    public string ServerPath => Path;
}

/// <summary>A parsed registry document: its shape and its entries, in document order.</summary>
public sealed record RegistryDocument(RegistryShape Shape, IReadOnlyList<RegistryEntry> Entries, string? NextCursor = null)
{
    public static RegistryDocument Empty(RegistryShape shape) => new(shape, []);
}
