using System.Text.Json;
using System.Text.Json.Serialization;

namespace Steward.Core.Registry;

/// <summary>
/// One version of one MCP server, as the official server.json (schema 2025-12-11) describes it.
/// Absent fields stay null so that a document written back out carries exactly what was read.
/// </summary>
public sealed record ServerDetail
{
    [JsonPropertyName("$schema")] public string? Schema { get; init; }
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required string Version { get; init; }
    public string? Title { get; init; }
    public Repository? Repository { get; init; }
    public string? WebsiteUrl { get; init; }
    public IReadOnlyList<Icon>? Icons { get; init; }
    public IReadOnlyList<Package>? Packages { get; init; }
    public IReadOnlyList<RemoteTransport>? Remotes { get; init; }

    /// <summary>The server.json <c>_meta</c> object as written by the publisher (publisher-provided block kept).</summary>
    [JsonPropertyName("_meta")] public JsonElement? Meta { get; init; }

    /// <summary>The publisher-provided extension block of <c>_meta</c>, when present.</summary>
    [JsonIgnore]
    public JsonElement? PublisherProvided =>
        Meta is { ValueKind: JsonValueKind.Object } meta && meta.TryGetProperty(MetaKeys.PublisherProvided, out var block)
            ? block
            : null;
}

public static class MetaKeys
{
    public const string PublisherProvided = "io.modelcontextprotocol.registry/publisher-provided";
    public const string Official = "io.modelcontextprotocol.registry/official";
}

public sealed record Repository
{
    public string? Url { get; init; }
    public string? Source { get; init; }
    public string? Id { get; init; }
    public string? Subfolder { get; init; }

    [JsonIgnore] public bool IsEmpty => Url is null && Source is null && Id is null && Subfolder is null;
}

public sealed record Icon
{
    public required string Src { get; init; }
    public string? MimeType { get; init; }
    public IReadOnlyList<string>? Sizes { get; init; }
    public string? Theme { get; init; }
}

public sealed record Package
{
    public required string RegistryType { get; init; }
    public string? RegistryBaseUrl { get; init; }
    public required string Identifier { get; init; }
    public string? Version { get; init; }
    public string? FileSha256 { get; init; }
    public string? RuntimeHint { get; init; }
    public required Transport Transport { get; init; }
    public IReadOnlyList<Argument>? RuntimeArguments { get; init; }
    public IReadOnlyList<Argument>? PackageArguments { get; init; }
    public IReadOnlyList<KeyValueInput>? EnvironmentVariables { get; init; }
}

public static class RegistryTypes
{
    public const string Npm = "npm";
    public const string Pypi = "pypi";
    public const string Oci = "oci";
    public const string Nuget = "nuget";
    public const string Mcpb = "mcpb";
    public const string Cargo = "cargo";

    public static readonly IReadOnlyList<string> All = [Npm, Pypi, Oci, Nuget, Mcpb, Cargo];
}

public static class TransportTypes
{
    public const string Stdio = "stdio";
    public const string StreamableHttp = "streamable-http";
    public const string Sse = "sse";
}

/// <summary>A package's transport: stdio, or streamable-http / sse with a URL (which may hold <c>{variables}</c>).</summary>
public sealed record Transport
{
    public required string Type { get; init; }
    public string? Url { get; init; }
    public IReadOnlyList<KeyValueInput>? Headers { get; init; }
}

/// <summary>A remote endpoint: streamable-http or sse, its URL template, headers and URL variables.</summary>
public sealed record RemoteTransport
{
    public required string Type { get; init; }
    public required string Url { get; init; }
    public IReadOnlyList<KeyValueInput>? Headers { get; init; }
    public IReadOnlyDictionary<string, Input>? Variables { get; init; }
}

/// <summary>A user-suppliable or fixed value: the common part of arguments, env vars, headers and URL variables.</summary>
public record Input
{
    public string? Description { get; init; }
    public bool? IsRequired { get; init; }
    public string? Format { get; init; }
    public string? Value { get; init; }
    public bool? IsSecret { get; init; }
    public string? Default { get; init; }
    public string? Placeholder { get; init; }
    public IReadOnlyList<string>? Choices { get; init; }

    [JsonIgnore] public bool Required => IsRequired == true;
    [JsonIgnore] public bool Secret => IsSecret == true;
}

public static class InputFormats
{
    public const string String = "string";
    public const string Number = "number";
    public const string Boolean = "boolean";
    public const string Filepath = "filepath";

    public static readonly IReadOnlyList<string> All = [String, Number, Boolean, Filepath];
}

public record InputWithVariables : Input
{
    public IReadOnlyDictionary<string, Input>? Variables { get; init; }
}

/// <summary>An environment variable or an HTTP header.</summary>
public sealed record KeyValueInput : InputWithVariables
{
    public required string Name { get; init; }
}

/// <summary>A positional argument (<c>value</c> or <c>valueHint</c>) or a named one (<c>--flag</c> with a value).</summary>
public sealed record Argument : InputWithVariables
{
    public required string Type { get; init; }
    public string? Name { get; init; }
    public string? ValueHint { get; init; }
    public bool? IsRepeated { get; init; }

    [JsonIgnore] public bool IsNamed => Type == ArgumentTypes.Named;
    [JsonIgnore] public bool Repeated => IsRepeated == true;
}

public static class ArgumentTypes
{
    public const string Positional = "positional";
    public const string Named = "named";
}
