using System.Globalization;
using System.Reflection;
using Steward.Core.Json;
using Steward.Core.Validation;

namespace Steward.Core.Models;

public sealed record CatalogReadResult(ModelCatalog? Catalog, IReadOnlyList<Problem> Problems, ReadFailure? Failure)
{
    public bool IsValid => Catalog is not null && Failure is null && !Problems.HasErrors();
}

/// <summary>
/// Reads a model catalog from JSON (<c>{"models": [...]}</c>), collecting every problem with its path. The catalog is
/// replaced whole by an import, and only when it has no error.
/// </summary>
public static class ModelCatalogReader
{
    private static readonly Dictionary<string, ModelStatus> Statuses = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ga"] = ModelStatus.GA,
        ["preview"] = ModelStatus.Preview,
        ["experimental"] = ModelStatus.Experimental,
        ["deprecated"] = ModelStatus.Deprecated,
        ["retired"] = ModelStatus.Retired,
    };

    /// <summary>The catalog Steward ships with: the models of the Kiro announcement with their status and inference scope.</summary>
    public static ModelCatalog Default { get; } = LoadDefault();

    public static CatalogReadResult Read(ReadOnlyMemory<byte> utf8, JsonLimits? limits = null)
    {
        var parsed = StrictJson.Parse(utf8, limits);
        if (parsed.Failure is not null)
        {
            return new CatalogReadResult(null, [], parsed.Failure);
        }

        using var document = parsed.Document!;
        var problems = new List<Problem>(parsed.Duplicates);
        var root = new ElementReader(document.RootElement, "", problems);
        if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            problems.Add(ElementReader.WrongType("", "an object with \"models\"", document.RootElement));
            return new CatalogReadResult(null, problems, null);
        }

        if (!root.Has("models"))
        {
            problems.Add(ElementReader.Missing("models", "models"));
        }

        var models = root.Objects("models", ReadModel) ?? [];
        CheckReferences(models, problems);
        return new CatalogReadResult(new ModelCatalog(models), problems, null);
    }

    private static ModelEntry ReadModel(ElementReader r)
    {
        var statusText = r.String("status") ?? "ga";
        if (!Statuses.TryGetValue(statusText, out var status))
        {
            r.Problems.Add(Problem.Error(r.At("status"), "model.status", $"unknown status \"{statusText}\"", "use one of ga, preview, experimental, deprecated, retired"));
        }

        var scope = InferenceScope.Regional;
        IReadOnlyList<string> geographies = [];
        if (r.Object("inference") is { } inference)
        {
            var scopeText = inference.String("scope", required: true) ?? "regional";
            if (scopeText.Equals("global", StringComparison.OrdinalIgnoreCase))
            {
                scope = InferenceScope.Global;
            }
            else if (!scopeText.Equals("regional", StringComparison.OrdinalIgnoreCase))
            {
                r.Problems.Add(Problem.Error(inference.At("scope"), "model.scope", $"unknown inference scope \"{scopeText}\"", "use regional or global"));
            }

            geographies = inference.Strings("geographies") ?? [];
            if (scope == InferenceScope.Regional && geographies.Count == 0 && r.Element.TryGetProperty("resolvesTo", out _) is false)
            {
                r.Problems.Add(Problem.Error(inference.At("geographies"), "model.geographies", "a regional model needs at least one geography", "list where its inference runs, such as [\"US\", \"EU\"]"));
            }
        }

        var providerIds = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (r.Object("providerModelIds") is { } ids)
        {
            foreach (var property in ids.Element.EnumerateObject())
            {
                if (property.Value.ValueKind == System.Text.Json.JsonValueKind.String)
                {
                    providerIds[property.Name] = property.Value.GetString()!;
                }
                else
                {
                    r.Problems.Add(ElementReader.WrongType(ids.At(property.Name), "a string", property.Value));
                }
            }
        }

        return new ModelEntry
        {
            Id = r.String("id", required: true) ?? "",
            DisplayName = r.String("displayName", required: true) ?? "",
            Description = r.String("description") ?? "",
            Provider = r.String("provider") ?? "",
            Status = status,
            Scope = scope,
            Geographies = geographies,
            ProviderModelIds = providerIds,
            OpenWeights = r.Bool("openWeights") ?? false,
            Aliases = r.Strings("aliases") ?? [],
            ReleasedOn = Date(r, "releasedOn"),
            DeprecatedOn = Date(r, "deprecatedOn"),
            RetiresOn = Date(r, "retiresOn"),
            SuccessorId = r.String("successor"),
            ResolvesTo = r.Strings("resolvesTo"),
        };
    }

    private static DateOnly? Date(ElementReader r, string name)
    {
        var text = r.String(name);
        if (text is null)
        {
            return null;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return date;
        }

        r.Problems.Add(Problem.Error(r.At(name), "model.date", $"\"{text}\" is not a date", "write it as YYYY-MM-DD"));
        return null;
    }

    /// <summary>Ids and aliases are unique; successors and Auto candidates name models in the catalog.</summary>
    private static void CheckReferences(IReadOnlyList<ModelEntry> models, List<Problem> problems)
    {
        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < models.Count; i++)
        {
            foreach (var name in models[i].Aliases.Prepend(models[i].Id).Where(n => n.Length > 0))
            {
                if (!names.TryAdd(name, i))
                {
                    problems.Add(Problem.Error(JsonPath.Index("models", i), "model.duplicate-name", $"\"{name}\" already names models[{names[name]}]", "give every model a unique id and unique aliases"));
                }
            }
        }

        for (var i = 0; i < models.Count; i++)
        {
            var path = JsonPath.Index("models", i);
            if (models[i].SuccessorId is { } successor && !names.ContainsKey(successor))
            {
                problems.Add(Problem.Error(JsonPath.Field(path, "successor"), "model.unknown-successor", $"the successor \"{successor}\" is not in the catalog", "name a model id from this catalog"));
            }

            foreach (var candidate in models[i].ResolvesTo ?? [])
            {
                if (!names.TryGetValue(candidate, out var target) || models[target].IsAuto)
                {
                    problems.Add(Problem.Error(JsonPath.Field(path, "resolvesTo"), "model.unknown-candidate", $"\"{candidate}\" is not a concrete model in the catalog", "list the ids of concrete models Auto may choose"));
                }
            }
        }
    }

    private static ModelCatalog LoadDefault()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Steward.Core.Models.default-catalog.json")
            ?? throw new InvalidOperationException("the default model catalog is missing from Steward.Core");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var result = Read(buffer.ToArray());
        return result.IsValid
            ? result.Catalog!
            : throw new InvalidOperationException("the default model catalog is invalid: " + string.Join("; ", result.Problems));
    }
}
