using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Server.Registry;

/// <summary>
/// What <see cref="RegistryImport.ImportAsync"/> reads: the document, or <c>{"url": "https://…"}</c> (<see cref="RegistryImport.UrlBody"/>);
/// with <paramref name="Atomic"/>, an entry that cannot be imported refuses the whole import; <paramref name="Namespace"/>
/// names Kiro entries (null: <c>local.{org}</c>, <see cref="RegistryImport.DefaultNamespace"/>).
/// </summary>
internal sealed record ImportRequest(byte[] Body, bool Atomic = false, string? Namespace = null);

/// <summary>What an import wrote: versions created, whose status was updated, unchanged; the new revision (null when nothing changed) and the URL import's next <c>updated_since</c>.</summary>
internal sealed record ImportCounts(int Created, int Updated, int Unchanged, long? Revision, DateTimeOffset? UpdatedSince = null);

/// <summary>
/// An import's report, as the API answers it (200, or 422 "Import refused" when nothing was imported) and the console
/// shows it: where from, the shapes read, the counts when it was imported, and every entry skipped or imported with a
/// warning, each with its problems by JSON path; and the problems that belong to no single entry, which refuse it all.
/// </summary>
internal sealed record ImportReport(
    string Source,
    IReadOnlyList<RegistryShape> Shapes,
    bool Atomic,
    ImportCounts? Counts,
    int Entries,
    IReadOnlyList<RegistryImport.Skipped> Skipped,
    IReadOnlyList<RegistryImport.Warned> Warnings,
    IReadOnlyList<Problem> DocumentProblems)
{
    /// <summary>Whether the import was written (else nothing was: <see cref="Detail"/> says why).</summary>
    public bool Imported => Counts is not null;

    /// <summary>Why nothing was imported; null when it was.</summary>
    public string? Detail => Imported ? null
        : DocumentProblems.Count > 0 ? "the document has problems that belong to no single entry; nothing was imported"
        : $"{Skipped.Count} entr{(Skipped.Count == 1 ? "y" : "ies")} cannot be imported and atomic=true; nothing was imported";

    /// <summary>The report of what <paramref name="collected"/> holds now; <paramref name="counts"/> null when nothing was imported.</summary>
    internal static ImportReport Of(string source, bool atomic, RegistryImport.Collected collected, ImportCounts? counts) => new(
        source, [.. collected.Shapes.Distinct()], atomic, counts, collected.Candidates.Count + collected.Skipped.Count(s => s.Reason != "conflict"),
        [.. collected.Skipped], [.. collected.Warnings], [.. collected.DocumentProblems]);

    public byte[] ToJson() => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        if (!Imported)
        {
            w.WriteString("type", "about:blank");
            w.WriteString("title", "Import refused");
            w.WriteNumber("status", StatusCodes.Status422UnprocessableEntity);
            w.WriteString("detail", Detail);
        }

        w.WriteString("source", Source);
        w.WriteStartArray("shapes");
        foreach (var shape in Shapes)
        {
            w.WriteStringValue(shape switch
            {
                RegistryShape.ServerJson => "server.json",
                RegistryShape.ServerJsonArray => "array",
                RegistryShape.RegistryApiPage => "registry-api-page",
                _ => "kiro",
            });
        }

        w.WriteEndArray();
        w.WriteBoolean("atomic", Atomic);
        w.WriteBoolean("imported", Imported);
        if (Counts is { } counts)
        {
            if (counts.UpdatedSince is { } since)
            {
                w.WriteString("updatedSince", Timestamps.ToText(since));
            }

            w.WriteNumber("created", counts.Created);
            w.WriteNumber("updated", counts.Updated);
            w.WriteNumber("unchanged", counts.Unchanged);
            if (counts.Revision is { } revision)
            {
                w.WriteNumber("revision", revision);
            }
        }

        w.WriteNumber("entries", Entries);
        WriteEntries(w, "skipped", Skipped.Select(s => (s.Path, s.Name, s.Version, (string?)s.Reason, s.Problems)));
        WriteEntries(w, "warnings", Warnings.Select(s => (s.Path, (string?)s.Name, (string?)s.Version, (string?)null, s.Problems)));
        if (DocumentProblems.Count > 0)
        {
            RegistryImport.WriteProblems(w, "errors", DocumentProblems);
        }

        w.WriteEndObject();
    });

    /// <summary>Entries by path, name and version, each with its reason (a skipped one) and its problems.</summary>
    private static void WriteEntries(Utf8JsonWriter w, string property, IEnumerable<(string Path, string? Name, string? Version, string? Reason, IReadOnlyList<Problem> Problems)> entries)
    {
        w.WriteStartArray(property);
        foreach (var (path, name, version, reason, problems) in entries)
        {
            w.WriteStartObject();
            w.WriteString("path", path);
            w.WriteString("name", name);
            w.WriteString("version", version);
            if (reason is not null)
            {
                w.WriteString("reason", reason);
            }

            RegistryImport.WriteProblems(w, "problems", problems);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
