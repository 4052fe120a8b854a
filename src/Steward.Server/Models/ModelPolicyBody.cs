namespace Steward.Server.Models;

/// <summary>
/// The body of <c>PUT …/models/policy</c> as it arrives: <c>{"controlEnabled"?, "states"?, "defaultModel"?, "newModels"?,
/// "residency"?}</c>, read by <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here).
/// The states and the residency rule are kept as they came: each of their entries is checked against the catalog, in
/// the body's order, inside the write (<see cref="ModelPolicyJson.Read"/>).
/// </summary>
internal sealed record ModelPolicyBody(bool? ControlEnabled, JsonElement? States, string? DefaultModel, string? NewModels, JsonElement? Residency)
{
    /// <summary>The change this body asks for (control off when left out), or null with the problem added to <paramref name="check"/>.</summary>
    public ModelPolicyChange? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var control = check.Flag("controlEnabled", ControlEnabled);
        return check.Count > 0 ? null : new ModelPolicyChange(this, control ?? false);
    }
}
