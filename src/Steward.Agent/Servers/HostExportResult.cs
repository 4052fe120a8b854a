namespace Steward.Agent.Servers;

/// <summary>What <see cref="HostExport.Write"/> did: the servers written and those left out, or why nothing was written.</summary>
/// <param name="WriteFailed">The file was prepared but could not be written (the disk, not its content).</param>
public sealed record HostExportResult(IReadOnlyList<string> Exported, IReadOnlyList<ServerStatus> Skipped, string? Error = null, bool WriteFailed = false)
{
    public static HostExportResult Failed(string error, bool writeFailed = false) => new([], [], error, writeFailed);
}
