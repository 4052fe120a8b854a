using System.Collections.Immutable;
using System.Text.Json;
using Steward.Core.Json;
using Steward.Core.Validation;

namespace Steward.Core.Config;

/// <summary>What reading an <c>mcp.json</c> produced: the configuration, every problem with its path, or why it could not be read.</summary>
public sealed record McpConfigReadResult(McpConfig? Config, IReadOnlyList<Problem> Problems, ReadFailure? Failure)
{
    public bool IsReadable => Failure is null && Config is not null;

    /// <summary>Read, and no problem of severity error.</summary>
    public bool IsValid => IsReadable && !Problems.HasErrors();
}

/// <summary>
/// Reads a Kiro-style <c>mcp.json</c> strictly (see <see cref="StrictJson"/>), collecting every problem with its path
/// (<c>mcpServers.github.args[2]</c>) instead of stopping at the first. Rules:
/// <list type="bullet">
/// <item><description>A <c>"type": "registry"</c> entry names a registry server by its key and may carry only the user's
/// <c>env</c>, <c>headers</c>, <c>timeout</c> and tool settings (<c>disabled</c>, <c>autoApprove</c>,
/// <c>disabledTools</c>); <c>command</c>, <c>args</c> or <c>url</c> on it are errors, since registry parameters are
/// read-only.</description></item>
/// <item><description>Any other entry has a <c>command</c> (local) or a <c>url</c> (remote), not both; an entry that only
/// says <c>"disabled": true</c> is allowed, as it disables a server of the same name defined at a lower scope.</description></item>
/// <item><description><c>timeout</c> is a positive whole number of milliseconds; a <c>url</c> without references is an
/// absolute http or https URL.</description></item>
/// <item><description>Warnings: an unknown <c>type</c>, <c>headers</c> on a local server, <c>args</c> or <c>env</c> on a
/// remote one (they are ignored).</description></item>
/// </list>
/// </summary>
public static class McpConfigReader
{
    public const string RegistryFixedField = "config.registry-fixed-field";
    public const string MissingCommandOrUrl = "config.missing-command-or-url";
    public const string CommandAndUrl = "config.command-and-url";
    public const string InvalidTimeout = "config.timeout";
    public const string InvalidUrl = "config.url";
    public const string UnknownType = "config.unknown-type";
    public const string IgnoredField = "config.ignored-field";
    public const string EmptyCommand = "config.empty-command";

    private const string ServersField = "mcpServers";

    private static readonly string[] KnownFields =
        ["type", "command", "args", "env", "url", "headers", "disabled", "autoApprove", "disabledTools", "timeout"];

    public static McpConfigReadResult Read(ReadOnlyMemory<byte> utf8, JsonLimits? limits = null)
    {
        var parsed = StrictJson.Parse(utf8, limits);
        if (parsed.Failure is not null)
        {
            return new McpConfigReadResult(null, [], parsed.Failure);
        }

        using var document = parsed.Document!;
        if (DocumentLimits.Default.CheckConfig(document.RootElement) is { } over)
        {
            return new McpConfigReadResult(null, [], over);
        }

        var problems = new List<Problem>(parsed.Duplicates);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            problems.Add(ElementReader.WrongType("", "an object with \"mcpServers\"", root));
            return new McpConfigReadResult(null, problems, null);
        }

        var servers = ImmutableArray.CreateBuilder<NamedServerConfig>();
        var unknown = ImmutableArray.CreateBuilder<KeyValuePair<string, JsonElement>>();
        var order = ImmutableArray.CreateBuilder<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                continue; // a duplicate: already reported; the first occurrence is the one read
            }

            order.Add(property.Name);
            if (property.Name != ServersField)
            {
                unknown.Add(new(property.Name, property.Value.Clone()));
                continue;
            }

            if (property.Value.ValueKind != JsonValueKind.Object)
            {
                problems.Add(ElementReader.WrongType(ServersField, "an object of servers by name", property.Value));
                continue;
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var server in property.Value.EnumerateObject())
            {
                if (!names.Add(server.Name))
                {
                    continue;
                }

                var path = JsonPath.Field(ServersField, server.Name);
                if (server.Value.ValueKind != JsonValueKind.Object)
                {
                    problems.Add(ElementReader.WrongType(path, "an object", server.Value));
                    continue;
                }

                servers.Add(new NamedServerConfig(server.Name, ReadServer(server.Value, path, problems)));
            }
        }

        var config = new McpConfig { Servers = servers.ToImmutable(), Unknown = unknown.ToImmutable(), FieldOrder = order.ToImmutable() };
        return new McpConfigReadResult(config, problems, null);
    }

    private static McpServerConfig ReadServer(JsonElement element, string path, List<Problem> problems)
    {
        var reader = new ElementReader(element, path, problems);
        var unknown = ImmutableArray.CreateBuilder<KeyValuePair<string, JsonElement>>();
        var order = ImmutableArray.CreateBuilder<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                continue;
            }

            order.Add(property.Name);
            if (!KnownFields.Contains(property.Name, StringComparer.Ordinal))
            {
                unknown.Add(new(property.Name, property.Value.Clone()));
            }
        }

        var args = reader.Strings("args");
        var autoApprove = reader.Strings("autoApprove");
        var disabledTools = reader.Strings("disabledTools");
        var config = new McpServerConfig
        {
            Type = reader.String("type"),
            Command = reader.String("command"),
            Args = args is null ? null : [.. args],
            Env = StringMap(reader, "env"),
            Url = reader.String("url"),
            Headers = StringMap(reader, "headers"),
            Disabled = reader.Bool("disabled"),
            AutoApprove = autoApprove is null ? null : [.. autoApprove],
            DisabledTools = disabledTools is null ? null : [.. disabledTools],
            Timeout = Timeout(reader, problems),
            Unknown = unknown.ToImmutable(),
            FieldOrder = order.ToImmutable(),
        };

        Check(config, reader, problems);
        return config;
    }

    private static void Check(McpServerConfig config, ElementReader reader, List<Problem> problems)
    {
        if (config.Type is { } type && !McpServerTypes.All.Contains(type, StringComparer.Ordinal))
        {
            problems.Add(Problem.Warning(reader.At("type"), UnknownType, $"\"{type}\" is not a server type Steward knows",
                "use \"registry\", \"stdio\", \"http\", \"streamable-http\" or \"sse\", or leave type out"));
        }

        if (config.IsRegistry)
        {
            foreach (var field in new[] { "command", "args", "url" })
            {
                if (reader.Has(field))
                {
                    problems.Add(Problem.Error(reader.At(field), RegistryFixedField,
                        $"a \"registry\" entry cannot set \"{field}\": the registry defines what runs",
                        "remove it; a registry entry may carry only env, headers, timeout and tool settings"));
                }
            }

            return;
        }

        if (config.Command is not null && config.Url is not null)
        {
            problems.Add(Problem.Error(reader.Path, CommandAndUrl, "the server has both \"command\" and \"url\"",
                "keep \"command\" for a local server or \"url\" for a remote one"));
        }
        else if (config.Command is null && config.Url is null && !config.IsDisableStub && !reader.Has("command") && !reader.Has("url"))
        {
            problems.Add(Problem.Error(reader.Path, MissingCommandOrUrl, "the server has neither \"command\" nor \"url\"",
                "add \"command\" (and \"args\") for a local server, \"url\" for a remote one, or \"type\": \"registry\""));
        }

        if (config.Command is { Length: 0 } || (config.Command is { } c && string.IsNullOrWhiteSpace(c)))
        {
            problems.Add(Problem.Error(reader.At("command"), EmptyCommand, "\"command\" is empty", "name the program to run"));
        }

        if (config.Url is { } url && !EnvReferences.HasReferences(url) &&
            !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)))
        {
            problems.Add(Problem.Error(reader.At("url"), InvalidUrl, $"\"{url}\" is not an absolute http or https URL",
                "write the full URL, such as https://example.com/mcp"));
        }

        if (config.Command is not null && reader.Has("headers"))
        {
            problems.Add(Problem.Warning(reader.At("headers"), IgnoredField, "headers are sent only to remote servers; this local server ignores them",
                "remove \"headers\", or use \"env\" for a local server"));
        }

        if (config.Url is not null)
        {
            foreach (var field in new[] { "args", "env" })
            {
                if (reader.Has(field))
                {
                    problems.Add(Problem.Warning(reader.At(field), IgnoredField, $"\"{field}\" is ignored for a remote server",
                        $"remove \"{field}\"; a remote server takes \"headers\""));
                }
            }
        }
    }

    private static long? Timeout(ElementReader reader, List<Problem> problems)
    {
        if (!reader.Element.TryGetProperty("timeout", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var ms) && ms > 0)
        {
            return ms;
        }

        problems.Add(Problem.Error(reader.At("timeout"), InvalidTimeout,
            $"\"timeout\" must be a positive whole number of milliseconds, found {ElementReader.Describe(value)}{(value.ValueKind == JsonValueKind.Number ? " " + value.GetRawText() : "")}",
            "write it like 60000 (one minute)"));
        return null;
    }

    /// <summary>An object whose values are all strings, in file order; other values are reported at their path.</summary>
    private static ImmutableArray<KeyValuePair<string, string>>? StringMap(ElementReader reader, string name)
    {
        if (!reader.Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            reader.Problems.Add(ElementReader.WrongType(reader.At(name), "an object of strings", value));
            return null;
        }

        var builder = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                continue;
            }

            if (property.Value.ValueKind == JsonValueKind.String)
            {
                builder.Add(new(property.Name, property.Value.GetString()!));
            }
            else
            {
                reader.Problems.Add(ElementReader.WrongType(JsonPath.Field(reader.At(name), property.Name), "a string", property.Value));
            }
        }

        return builder.ToImmutable();
    }
}
