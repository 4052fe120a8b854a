using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Steward.Agent.Audit;
using Steward.Agent.Gateway;
using Steward.Agent.Tests.Support;
using Steward.Core.Audit;
using Xunit.Abstractions;

namespace Steward.Agent.Tests.Gateway;

/// <summary>
/// One <c>audit.jsonl</c>, many writers (a host starts one gateway process per server): separate OS processes, and
/// separate handles and threads in one process, append at once; the file stays one hash chain with every line once.
/// </summary>
public sealed class AuditLogConcurrencyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Appends_from_several_processes_at_once_form_one_chain_with_every_line_once()
    {
        const int Writers = 4;
        const int Lines = 600;
        var path = Path.Combine(GatewayHarness.TempDirectory(), "audit.jsonl");
        var processes = new List<Process>();
        try
        {
            for (var w = 0; w < Writers; w++)
            {
                var start = new ProcessStartInfo("dotnet")
                {
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                foreach (var arg in new[] { AuditWriterProcess.Assembly, "append-audit", path, $"writer-{w}", Lines.ToString(System.Globalization.CultureInfo.InvariantCulture) })
                {
                    start.ArgumentList.Add(arg);
                }

                processes.Add(Process.Start(start)!);
            }

            // Every writer has started and opened the log before any appends, so that their appends overlap.
            foreach (var process in processes)
            {
                Assert.Equal("ready", await process.StandardOutput.ReadLineAsync().WaitAsync(Guard));
            }

            foreach (var process in processes)
            {
                await process.StandardInput.WriteLineAsync("go");
                await process.StandardInput.FlushAsync();
            }

            foreach (var process in processes)
            {
                var stderr = process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync().WaitAsync(Guard);
                Assert.True(process.ExitCode == 0, $"writer exited {process.ExitCode}: {await stderr}");
            }
        }
        finally
        {
            foreach (var process in processes)
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }

                process.Dispose();
            }
        }

        AssertOneChainWithEveryLineOnce(path, Enumerable.Range(0, Writers).SelectMany(w => Enumerable.Range(0, Lines).Select(n => ($"writer-{w}", $"t{n % 2}-{n}"))));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path + ".lock"));
        }
    }

    [Fact]
    public void Appends_from_several_handles_and_threads_at_once_form_one_chain_with_every_line_once()
    {
        const int Logs = 4;
        const int ThreadsPerLog = 2;
        const int Lines = 250;
        var path = Path.Combine(GatewayHarness.TempDirectory(), "audit.jsonl");
        var logs = Enumerable.Range(0, Logs).Select(_ => new AuditLog(path)).ToList();
        try
        {
            using var start = new Barrier(Logs * ThreadsPerLog);
            var threads = new List<Thread>();
            for (var l = 0; l < Logs; l++)
            {
                for (var t = 0; t < ThreadsPerLog; t++)
                {
                    var (log, server, thread) = (logs[l], $"log-{l}", t);
                    threads.Add(new Thread(() =>
                    {
                        start.SignalAndWait();
                        for (var n = 0; n < Lines; n++)
                        {
                            log.Append(new ToolCallEvent(DateTimeOffset.UtcNow, server, $"t{thread}-{n}", "allow", "default", 0.5, "ok", null));
                        }
                    }));
                }
            }

            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
        }
        finally
        {
            logs.ForEach(l => l.Dispose());
        }

        AssertOneChainWithEveryLineOnce(path, Enumerable.Range(0, Logs).SelectMany(l => Enumerable.Range(0, ThreadsPerLog).SelectMany(t => Enumerable.Range(0, Lines).Select(n => ($"log-{l}", $"t{t}-{n}")))));
    }

    [Fact]
    public void A_torn_last_line_is_named_by_verify_and_the_lines_after_it_stay_whole()
    {
        var path = Path.Combine(GatewayHarness.TempDirectory(), "audit.jsonl");
        using var first = new AuditLog(path);
        for (var n = 0; n < 3; n++)
        {
            first.Append(Event("first", n));
        }

        // A write torn by a crash or a full disk: half a line, no newline.
        var whole = File.ReadAllLines(path)[^1];
        using (var torn = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
        {
            torn.Write(Encoding.UTF8.GetBytes(whole[..(whole.Length / 2)]));
        }

        first.Append(Event("first", 3));
        using (var second = new AuditLog(path))
        {
            second.Append(Event("second", 0));
        }

        var lines = File.ReadAllLines(path);
        Assert.Equal(6, lines.Length);
        Assert.Equal(whole[..(whole.Length / 2)], lines[3]);
        using (var reader = new StreamReader(path))
        {
            var verified = JsonlChain.Verify(reader);
            Assert.False(verified.Intact);
            Assert.Equal(4, verified.BrokenLine);
            Assert.Contains("the line is not a JSON audit record", verified.Reason);
            Assert.Equal(3, verified.Records);
        }

        // The lines after the torn one are whole, and chain from the genesis hash.
        Assert.Equal([("first", "tool-3"), ("second", "tool-0")], lines[4..].Select(ServerAndTool));
        Assert.Equal(HashChain.Genesis, JsonDocument.Parse(lines[4]).RootElement.GetProperty("prevHash").GetString());
        var after = JsonlChain.Verify(new StringReader(string.Join('\n', lines[4..])));
        Assert.True(after.Intact, after.Reason);
        Assert.Equal(2, after.Records);
    }

    [Fact]
    public void A_last_line_longer_than_one_tail_read_is_continued_by_another_writer()
    {
        var path = Path.Combine(GatewayHarness.TempDirectory(), "audit.jsonl");
        using var document = JsonDocument.Parse(JsonSerializer.Serialize(new { text = new string('x', 20_000), note = "é ✓" }));
        var arguments = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        using (var first = new AuditLog(path))
        {
            first.Append(Event("first", 0));
            first.Append(Event("first", 1) with { Arguments = arguments });
        }

        // Blank lines at the end (an editor's) are skipped, as verify skips them.
        File.AppendAllText(path, "\n\n");
        using (var second = new AuditLog(path))
        {
            second.Append(Event("second", 0));
        }

        AssertOneChainWithEveryLineOnce(path, [("first", "tool-0"), ("first", "tool-1"), ("second", "tool-0")]);
    }

    private static ToolCallEvent Event(string server, int n) => new(DateTimeOffset.UtcNow, server, $"tool-{n}", "allow", "default", 0.5, "ok", null);

    private static (string, string) ServerAndTool(string line)
    {
        var root = JsonDocument.Parse(line).RootElement;
        return (root.GetProperty("server").GetString()!, root.GetProperty("tool").GetString()!);
    }

    private void AssertOneChainWithEveryLineOnce(string path, IEnumerable<(string Server, string Tool)> expected)
    {
        var wanted = expected.ToList();
        using (var reader = new StreamReader(path))
        {
            var verified = JsonlChain.Verify(reader);
            Assert.True(verified.Intact, $"line {verified.BrokenLine}: {verified.Reason}");
            Assert.Equal(wanted.Count, verified.Records);
        }

        var written = File.ReadAllLines(path).Where(l => l.Length > 0).Select(ServerAndTool).ToList();
        Assert.Equal(wanted.Order(), written.Order());
        var switches = written.Zip(written.Skip(1)).Count(p => p.First.Item1 != p.Second.Item1);
        output.WriteLine($"{written.Count} lines; the writer changes {switches} times from one line to the next");
    }
}
