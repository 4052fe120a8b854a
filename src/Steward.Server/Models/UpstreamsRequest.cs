namespace Steward.Server.Models;

/// <summary>
/// The body of <c>PUT /api/v1/models/upstreams</c> as it arrives: <c>{"upstreams": [{"provider", "placement", "baseUrl",
/// "apiKey"?}]}</c>, read by <see cref="RequestRecord"/>. The entries are kept as they came, so that every problem inside
/// them is reported in the body's order and an API key, a secret, is never read into a problem
/// (<see cref="UpstreamsApi.Read"/>).
/// </summary>
internal sealed record UpstreamsRequest(JsonElement? Upstreams)
{
    /// <summary>The upstreams this body sets, or null with every problem added to <paramref name="check"/> at its path.</summary>
    public List<UpstreamsApi.Entry>? Validate(BodyCheck check, ServeOptions options)
    {
        ArgumentNullException.ThrowIfNull(check);
        var entries = UpstreamsApi.Read(Upstreams, options, check);
        return check.Count > 0 ? null : entries;
    }
}
