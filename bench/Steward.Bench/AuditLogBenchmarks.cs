using BenchmarkDotNet.Attributes;
using Steward.Agent.Audit;
using Steward.Core.Audit;

namespace Steward.Bench;

/// <summary>
/// The gateway's cost of auditing one tool call: appending a typical line (no argument values) to a local
/// <c>audit.jsonl</c>. <c>Writers</c> separate log instances (each with its own file handles, as separate gateway
/// processes have) append to one file from as many threads at once. The mean is the time per line as each writer sees
/// it (what one tool call pays). Baseline: the log before appends took the cross-process lock
/// (<see cref="BaselineAuditLog"/>), which with several writers overwrites lines and breaks the chain.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class AuditLogBenchmarks
{
    private const int LinesPerWriter = 200;
    private string directory = "";
    private AuditLog[] logs = [];
    private BaselineAuditLog[] baselines = [];

    [Params(1, 4)]
    public int Writers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        directory = Path.Combine(Path.GetTempPath(), "steward-bench-audit-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        logs = [.. Enumerable.Range(0, Writers).Select(_ => new AuditLog(Path.Combine(directory, "audit.jsonl")))];
        baselines = [.. Enumerable.Range(0, Writers).Select(_ => new BaselineAuditLog(Path.Combine(directory, "baseline.jsonl")))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var log in logs)
        {
            log.Dispose();
        }

        foreach (var log in baselines)
        {
            log.Dispose();
        }

        Directory.Delete(directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = LinesPerWriter)]
    public void Before() => Parallel.For(0, Writers, new ParallelOptions { MaxDegreeOfParallelism = Writers }, i =>
    {
        for (var n = 0; n < LinesPerWriter; n++)
        {
            baselines[i].Append(Line());
        }
    });

    [Benchmark(OperationsPerInvoke = LinesPerWriter)]
    public void Locked() => Parallel.For(0, Writers, new ParallelOptions { MaxDegreeOfParallelism = Writers }, i =>
    {
        for (var n = 0; n < LinesPerWriter; n++)
        {
            logs[i].Append(Line());
        }
    });

    private static ToolCallEvent Line() => new(DateTimeOffset.UtcNow, "everything", "echo", "allow", "default", 0.412, "ok", null);
}
