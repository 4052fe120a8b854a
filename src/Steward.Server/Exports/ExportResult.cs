namespace Steward.Server.Exports;

/// <summary>An export: the document, what it could not express, and notes (what the profile did to it, partial entries).</summary>
public sealed record ExportResult(byte[] Document, IReadOnlyList<SkippedEntry> Skipped, IReadOnlyList<string> Notes, int Exported);
