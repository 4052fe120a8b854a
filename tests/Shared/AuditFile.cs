namespace Steward.Tests;

/// <summary>
/// The gateway's local audit log as the tests read it. A call that is sent upstream has two lines: one with the outcome
/// <c>sent</c>, written before the call goes out, and one with the outcome, written after. A refused call has one line.
/// </summary>
internal static class AuditFile
{
    /// <summary>Every line of the log.</summary>
    public static string[] Lines(string path) => [.. File.ReadAllLines(path).Where(l => l.Length > 0)];

    /// <summary>Each call's final line (its outcome), in order: the log without the <c>sent</c> lines.</summary>
    public static string[] Final(string path) => [.. Lines(path).Where(l => !l.Contains("\"outcome\":\"sent\"", StringComparison.Ordinal))];
}
