namespace Steward.Server.Models;

/// <summary>
/// A replacement of a profile's model policy: the body's fields (read against the catalog inside the write, since a
/// state or default must name a catalog model) and whether model control is on.
/// </summary>
internal sealed record ModelPolicyChange(JsonElement Fields, bool ControlEnabled)
{
    /// <summary>The change a body asks for, or why it is not one: 413, 400, or 422 for an unknown field or a <c>controlEnabled</c> that is not a boolean.</summary>
    public static Outcome<ModelPolicyChange> Read(JsonForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (form.Problem is { } problem)
        {
            return Outcome<ModelPolicyChange>.Refused(Problems.BodyOf(problem));
        }

        var controlEnabled = false;
        if (form.Root.TryGetProperty("controlEnabled", out var controlElement))
        {
            if (controlElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return Outcome<ModelPolicyChange>.Refused(JsonForm.FieldProblem("controlEnabled", "expected true or false", controlElement.GetRawText()));
            }

            controlEnabled = controlElement.GetBoolean();
        }

        return Outcome<ModelPolicyChange>.Done(new ModelPolicyChange(form.Root, controlEnabled));
    }
}
