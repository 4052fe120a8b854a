namespace Steward.Server.Registry;

/// <summary>
/// The body of <c>POST …/versions/{version}/deprecate</c>, when there is one: <c>{"statusMessage"?}</c>, read by
/// <see cref="RequestRecord"/>. Its message's length is checked by <see cref="RegistryOperations.DeprecateAsync"/>,
/// which the console calls too.
/// </summary>
internal sealed record DeprecationRequest(string? StatusMessage)
{
    /// <summary>The body itself once its shape is right: it has no field whose value needs more than its type.</summary>
    public DeprecationRequest? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        return check.Count > 0 ? null : this;
    }
}
