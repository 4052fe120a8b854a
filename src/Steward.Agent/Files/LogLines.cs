using System.Text;

namespace Steward.Agent.Files;

/// <summary>
/// Whole lines out of the pieces <see cref="LogTail"/> reads: a line read in two pieces (caught while it was being
/// appended) is held until its end arrives, and a last line without a newline is given up at the end.
/// </summary>
public sealed class LogLines
{
    private readonly StringBuilder pending = new();

    /// <summary>The lines <paramref name="text"/> completes (without their <c>\n</c>, a <c>\r</c> kept), none while a line is unfinished.</summary>
    public IReadOnlyList<string> Add(string text)
    {
        pending.Append(text);
        var whole = pending.ToString();
        var end = whole.LastIndexOf('\n');
        if (end < 0)
        {
            return [];
        }

        pending.Clear().Append(whole, end + 1, whole.Length - end - 1);
        return whole[..end].Split('\n');
    }

    /// <summary>The last line when it had no newline; none when nothing is held.</summary>
    public IReadOnlyList<string> End()
    {
        if (pending.Length == 0)
        {
            return [];
        }

        var rest = pending.ToString();
        pending.Clear();
        return [rest];
    }
}
