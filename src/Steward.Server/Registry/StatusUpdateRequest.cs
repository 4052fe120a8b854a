namespace Steward.Server.Registry;

/// <summary>The body of a status change, as the official registry takes it.</summary>
public sealed record StatusUpdateRequest(string? Status, string? StatusMessage);
