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

        var problems = new List<Problem>(read.Problems);
        // Where the reader already reported a field as missing or of the wrong type, the validator's own
        // complaint about the same field (an empty name, say) would only repeat it: one problem per field.
        var structural = read.Problems.Where(p => p.IsError).Select(p => p.Path).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(RegistryValidator.Validate(read.Document!, options).Where(p => !structural.Contains(p.Path)));
        return new LoadResult(read.Document, problems, null);
    }
}
