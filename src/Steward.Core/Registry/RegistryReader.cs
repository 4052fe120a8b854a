using System.Text.Json;
using Steward.Core.Json;
using Steward.Core.Validation;

namespace Steward.Core.Registry;

/// <summary>What reading a document produced: the document (when it could be read), the structural problems found, or why it could not be read.</summary>
public sealed record ReadResult(RegistryDocument? Document, IReadOnlyList<Problem> Problems, ReadFailure? Failure)
{
    public bool IsReadable => Failure is null && Document is not null;
}

/// <summary>
/// Turns bytes into a <see cref="RegistryDocument"/>, detecting which of the four shapes it is. Every wrong type
/// and missing required field is collected with its path; nothing throws on bad input.
/// </summary>
public static class RegistryReader
{
    public static ReadResult Read(ReadOnlyMemory<byte> utf8, RegistryShape? shape = null, JsonLimits? limits = null)
    {
        var parsed = StrictJson.Parse(utf8, limits);
        if (parsed.Failure is not null)
        {
            return new ReadResult(null, [], parsed.Failure);
        }

        using var document = parsed.Document!;
        if (DocumentLimits.Default.CheckRegistry(document.RootElement) is { } over)
        {
            return new ReadResult(null, [], over);
        }

        var problems = new List<Problem>(parsed.Duplicates);
        var result = Read(document.RootElement, shape, problems);
        return result;
    }

    internal static ReadResult Read(JsonElement root, RegistryShape? shape, List<Problem> problems)
    {
        var detected = shape ?? Detect(root);
        if (detected is null)
        {
            var failure = new ReadFailure(ReadFailureKind.Unreadable,
                $"the document is {ElementReader.Describe(root)}, not a registry document; expected a server.json object, an array of server.json, a Registry API page {{\"servers\": [...]}} or a Kiro registry file");
            return new ReadResult(null, problems, failure);
        }

        var entries = new List<RegistryEntry>();
        string? nextCursor = null;
        switch (detected.Value)
        {
            case RegistryShape.ServerJson:
                if (root.ValueKind != JsonValueKind.Object)
                {
                    problems.Add(ElementReader.WrongType("", "a server.json object", root));
                    break;
                }

                entries.Add(new RegistryEntry(ReadServer(new ElementReader(root, "", problems)), ""));
                break;

            case RegistryShape.ServerJsonArray:
                if (root.ValueKind != JsonValueKind.Array)
                {
                    problems.Add(ElementReader.WrongType("", "an array of server.json", root));
                    break;
                }

                var index = 0;
                foreach (var item in root.EnumerateArray())
                {
                    var path = JsonPath.Index("", index++);
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        problems.Add(ElementReader.WrongType(path, "an object", item));
                        continue;
                    }

                    entries.Add(IsResponseItem(item)
                        ? ReadResponseItem(new ElementReader(item, path, problems))
                        : new RegistryEntry(ReadServer(new ElementReader(item, path, problems)), path));
                }

                break;

            case RegistryShape.RegistryApiPage:
            case RegistryShape.KiroFile:
                if (root.ValueKind != JsonValueKind.Object)
                {
                    problems.Add(ElementReader.WrongType("", "an object with \"servers\"", root));
                    break;
                }

                var page = new ElementReader(root, "", problems);
                if (!page.Has("servers"))
                {
                    problems.Add(ElementReader.Missing("servers", "servers"));
                }

                var items = page.Objects("servers", item => ReadResponseItem(item));
                entries.AddRange(items ?? []);
                if (page.Object("metadata") is { } metadata)
                {
                    nextCursor = metadata.String("nextCursor");
                }

                break;
        }

        return new ReadResult(new RegistryDocument(detected.Value, entries, nextCursor), problems, null);
    }

    /// <summary>
    /// Which shape a document is. An object with "servers" is a Kiro file when no entry's name holds a slash
    /// and nothing carries the registry's own <c>_meta</c> or paging metadata; otherwise a Registry API page.
    /// </summary>
    public static RegistryShape? Detect(JsonElement root)
    {
        switch (root.ValueKind)
        {
            case JsonValueKind.Array:
                return RegistryShape.ServerJsonArray;
            case JsonValueKind.Object when root.TryGetProperty("servers", out var servers):
                if (root.TryGetProperty("metadata", out _) || servers.ValueKind != JsonValueKind.Array)
                {
                    return RegistryShape.RegistryApiPage;
                }

                foreach (var item in servers.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    if (item.TryGetProperty("_meta", out _))
                    {
                        return RegistryShape.RegistryApiPage;
                    }

                    if (item.TryGetProperty("server", out var server) && server.ValueKind == JsonValueKind.Object &&
                        server.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String &&
                        name.GetString()!.Contains('/', StringComparison.Ordinal))
                    {
                        return RegistryShape.RegistryApiPage;
                    }
                }

                return RegistryShape.KiroFile;
            case JsonValueKind.Object:
                return RegistryShape.ServerJson;
            default:
                return null;
        }
    }

    private static bool IsResponseItem(JsonElement item) =>
        item.TryGetProperty("server", out var server) && server.ValueKind == JsonValueKind.Object && !item.TryGetProperty("name", out _);

    private static RegistryEntry ReadResponseItem(ElementReader item)
    {
        var serverReader = item.Object("server", required: true);
        var server = serverReader is { } s ? ReadServer(s) : Placeholder;
        OfficialMeta? official = null;
        JsonElement? meta = item.RawObject("_meta");
        if (item.Object("_meta") is { } metaReader && metaReader.Object(MetaKeys.Official) is { } o)
        {
            official = new OfficialMeta
            {
                Status = o.String("status"),
                StatusMessage = o.String("statusMessage"),
                StatusChangedAt = o.Timestamp("statusChangedAt"),
                PublishedAt = o.Timestamp("publishedAt"),
                UpdatedAt = o.Timestamp("updatedAt"),
                IsLatest = o.Bool("isLatest"),
            };
        }

        return new RegistryEntry(server, item.At("server"), official, meta);
    }

    private static readonly ServerDetail Placeholder = new() { Name = "", Description = "", Version = "" };

    internal static ServerDetail ReadServer(ElementReader r) => new()
    {
        Schema = r.String("$schema"),
        Name = r.String("name", required: true) ?? "",
        Description = r.String("description", required: true) ?? "",
        Version = r.String("version", required: true) ?? "",
        Title = r.String("title"),
        Repository = r.Object("repository") is { } repo ? ReadRepository(repo) : null,
        WebsiteUrl = r.String("websiteUrl"),
        Icons = r.Objects("icons", ReadIcon),
        Packages = r.Objects("packages", ReadPackage),
        Remotes = r.Objects("remotes", ReadRemote),
        Meta = r.RawObject("_meta"),
    };

    private static Repository ReadRepository(ElementReader r) => new()
    {
        Url = r.String("url"),
        Source = r.String("source"),
        Id = r.String("id"),
        Subfolder = r.String("subfolder"),
    };

    private static Icon ReadIcon(ElementReader r) => new()
    {
        Src = r.String("src", required: true) ?? "",
        MimeType = r.String("mimeType"),
        Sizes = r.Strings("sizes"),
        Theme = r.String("theme"),
    };

    private static Package ReadPackage(ElementReader r) => new()
    {
        RegistryType = r.String("registryType", required: true) ?? "",
        RegistryBaseUrl = r.String("registryBaseUrl"),
        Identifier = r.String("identifier", required: true) ?? "",
        Version = r.String("version"),
        FileSha256 = r.String("fileSha256"),
        RuntimeHint = r.String("runtimeHint"),
        Transport = r.Object("transport", required: true) is { } t ? ReadTransport(t) : new Transport { Type = "" },
        RuntimeArguments = r.Objects("runtimeArguments", ReadArgument),
        PackageArguments = r.Objects("packageArguments", ReadArgument),
        EnvironmentVariables = r.Objects("environmentVariables", ReadKeyValue),
    };

    private static Transport ReadTransport(ElementReader r) => new()
    {
        Type = r.String("type", required: true) ?? "",
        Url = r.String("url"),
        Headers = r.Objects("headers", ReadKeyValue),
    };

    private static RemoteTransport ReadRemote(ElementReader r) => new()
    {
        Type = r.String("type", required: true) ?? "",
        Url = r.String("url", required: true) ?? "",
        Headers = r.Objects("headers", ReadKeyValue),
        Variables = r.Map("variables", ReadInput),
    };

    private static Input ReadInput(ElementReader r) => new()
    {
        Description = r.String("description"),
        IsRequired = r.Bool("isRequired"),
        Format = r.String("format"),
        Value = r.String("value"),
        IsSecret = r.Bool("isSecret"),
        Default = r.String("default"),
        Placeholder = r.String("placeholder"),
        Choices = r.Strings("choices"),
    };

    private static KeyValueInput ReadKeyValue(ElementReader r)
    {
        var input = ReadInput(r);
        return new KeyValueInput
        {
            Name = r.String("name", required: true, allowEmpty: true) ?? "",
            Description = input.Description,
            IsRequired = input.IsRequired,
            Format = input.Format,
            Value = input.Value,
            IsSecret = input.IsSecret,
            Default = input.Default,
            Placeholder = input.Placeholder,
            Choices = input.Choices,
            Variables = r.Map("variables", ReadInput),
        };
    }

    private static Argument ReadArgument(ElementReader r)
    {
        var input = ReadInput(r);
        return new Argument
        {
            Type = r.String("type", required: true, allowEmpty: true) ?? "",
            Name = r.String("name"),
            ValueHint = r.String("valueHint"),
            IsRepeated = r.Bool("isRepeated"),
            Description = input.Description,
            IsRequired = input.IsRequired,
            Format = input.Format,
            Value = input.Value,
            IsSecret = input.IsSecret,
            Default = input.Default,
            Placeholder = input.Placeholder,
            Choices = input.Choices,
            Variables = r.Map("variables", ReadInput),
        };
    }
}
