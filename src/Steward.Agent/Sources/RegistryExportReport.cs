using System.Text.Json;

namespace Steward.Agent.Sources;

/// <summary>What a host's document could not express: the entries left out, each with its reasons, and the notes.</summary>
public sealed record RegistryExportReport(int Exported, IReadOnlyList<RegistryExportSkipped> Skipped, IReadOnlyList<string?> Notes)
{
    /// <summary>Reads the server's <c>…/report</c> answer; one without its fields throws, as the server always sends them.</summary>
    public static RegistryExportReport Read(byte[] report)
    {
        using var document = JsonDocument.Parse(report);
        var root = document.RootElement;
        var skipped = root.GetProperty("skipped");
        var exported = root.GetProperty("exported").GetInt32();
        var entries = new List<RegistryExportSkipped>(skipped.GetArrayLength());
        foreach (var entry in skipped.EnumerateArray())
        {
            entries.Add(new RegistryExportSkipped(
                entry.GetProperty("name").GetString(),
                entry.GetProperty("version").GetString(),
                [.. entry.GetProperty("reasons").EnumerateArray().Select(reason => reason.GetString())]));
        }

        return new RegistryExportReport(exported, entries, [.. root.GetProperty("notes").EnumerateArray().Select(note => note.GetString())]);
    }
}

/// <summary>One registry entry the export left out, and why.</summary>
public sealed record RegistryExportSkipped(string? Name, string? Version, IReadOnlyList<string?> Reasons);
