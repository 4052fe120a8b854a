using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Core.Audit;

namespace Steward.Agent.Tests.Support;

/// <summary>
/// The test assembly run as a program, a separate OS process appending to a gateway audit log as one gateway process per
/// server does: <c>dotnet Steward.Agent.Tests.dll append-audit &lt;log&gt; &lt;writer&gt; &lt;lines&gt;</c>. It opens the log,
/// prints <c>ready</c>, waits for a line on stdin (so that every writer starts at once), then appends
/// <c>lines</c> lines from two threads sharing its <see cref="AuditLog"/> (server <c>writer</c>, tool
/// <c>t&lt;thread&gt;-&lt;n&gt;</c>) and prints <c>done</c>. Under <c>dotnet test</c> the test host is the entry point;
/// this one runs only when a test starts the assembly itself (GenerateProgramFile is off in the project).
/// </summary>
internal static class AuditWriterProcess
{
    public static string Assembly => typeof(AuditWriterProcess).Assembly.Location;

    public static int Main(string[] args)
    {
        if (args is not ["append-audit", var path, var writer, var count] || !int.TryParse(count, out var lines))
        {
            Console.Error.WriteLine("usage: append-audit <log> <writer> <lines>");
            return 2;
        }

        using var log = new AuditLog(path);
        Console.WriteLine("ready");
        Console.Out.Flush();
        if (Console.In.ReadLine() is null)
        {
            return 3;
        }

        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            for (var n = t; n < lines; n += 2)
            {
                log.Append(new ToolCallEvent(DateTimeOffset.UtcNow, writer, $"t{t}-{n}", "allow", "default", 0.5, "ok", null));
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Console.WriteLine("done");
        return 0;
    }
}
