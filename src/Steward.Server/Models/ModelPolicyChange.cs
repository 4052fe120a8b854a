namespace Steward.Server.Models;

/// <summary>
/// A replacement of a profile's model policy: the body's fields (read against the catalog inside the write, since a
/// state or default must name a catalog model) and whether model control is on.
/// </summary>
internal sealed record ModelPolicyChange(ModelPolicyBody Fields, bool ControlEnabled);
