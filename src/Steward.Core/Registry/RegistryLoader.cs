using Steward.Core.Json;
using Steward.Core.Validation;

namespace Steward.Core.Registry;

/// <summary>A document read and validated: every problem found, or why it could not be read.</summary>
public sealed record LoadResult(RegistryDocument? Document, IReadOnlyList<Problem> Problems, ReadFailure? Failure)
{
    /// <summary>Read, and no problem of severity error (warnings allowed).</summary>
    public bool IsValid => Failure is null && Document is not null && !Problems.HasErrors();
}

/// <summary>Bytes to a validated registry document: read (shape detected), then validated, all problems collected.</summary>
public static class RegistryLoader
{
    public static LoadResult Load(ReadOnlyMemory<byte> utf8, RegistryShape? shape = null, JsonLimits? limits = null, ValidationOptions? options = null)
    {
        var read = RegistryReader.Read(utf8, shape, limits);
        if (!read.IsReadable)
        {
            return new LoadResult(null, read.Problems, read.Failure);
        }

        var validation = RegistryValidator.Validate(read.Document!, options);
        return new LoadResult(read.Document, OnePerField(read.Problems, validation), null);
    }

    /// <summary>
    /// A document already parsed as part of a larger one (the registry inside a policy bundle): read and validated
    /// from its element, without turning it back into text and parsing it again.
    /// </summary>
    public static LoadResult Load(System.Text.Json.JsonElement root, RegistryShape shape, ValidationOptions? options = null)
    {
        if (DocumentLimits.Default.CheckRegistry(root) is { } over)
        {
            return new LoadResult(null, [], over);
        }

        var read = RegistryReader.Read(root, shape, []);
        if (!read.IsReadable)
        {
            return new LoadResult(null, read.Problems, read.Failure);
        }

        var validation = RegistryValidator.Validate(read.Document!, options);
        return new LoadResult(read.Document, OnePerField(read.Problems, validation), null);
    }

    /// <summary>
    /// The reader and the validator may both see a missing field (the reader: absent; the validator: empty). Say it
    /// once: a field of the wrong type keeps the reader's problem (the validator only saw a placeholder), a missing
    /// field keeps the validator's more specific one.
    /// </summary>
    private static List<Problem> OnePerField(IReadOnlyList<Problem> read, IReadOnlyList<Problem> validation)
    {
        var mistyped = read.Where(p => p.Rule == "schema.type").Select(p => p.Path).ToHashSet(StringComparer.Ordinal);
        var validated = validation.Where(p => p.IsError).Select(p => p.Path).ToHashSet(StringComparer.Ordinal);
        var problems = new List<Problem>(read.Count + validation.Count);
        problems.AddRange(read.Where(p => !(p.Rule == "schema.required" && validated.Contains(p.Path))));
        problems.AddRange(validation.Where(p => !mistyped.Contains(p.Path)));
        return problems;
    }
}
