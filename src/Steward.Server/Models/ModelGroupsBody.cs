using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// The body of <c>PUT …/models/groups</c> as it arrives: <c>{"rules": [{"group", "effect", "models"}]}</c>, read by
/// <see cref="RequestRecord"/>. The rules are kept as they came, so that every problem inside them is reported in the
/// body's order, each model name checked against the catalog (<see cref="ModelPolicyJson.ReadGroups"/>).
/// </summary>
internal sealed record ModelGroupsBody(JsonElement? Rules)
{
    /// <summary>The rules this body sets, or null with every problem added to <paramref name="check"/> at its path.</summary>
    public List<GroupModelRule>? Validate(BodyCheck check, ModelCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(check);
        var rules = ModelPolicyJson.ReadGroups(Rules, catalog, check);
        return check.Count > 0 ? null : rules;
    }
}
