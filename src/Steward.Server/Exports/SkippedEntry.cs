namespace Steward.Server.Exports;

/// <summary>An admitted entry that a host's format cannot express, and every reason.</summary>
public sealed record SkippedEntry(string Name, string Version, IReadOnlyList<string> Reasons);
