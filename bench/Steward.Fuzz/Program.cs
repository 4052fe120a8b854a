using System.Diagnostics;
using System.Globalization;
using Steward.Fuzz;

// steward-fuzz [--iterations 100000] [--seed N] [--guard-ms 2000] [--out dir] [--fixtures dir] [--target name]
// Exit 0: no finding; 1: findings (each input saved under --out); a hang past the guard ends the run with exit 3.
var options = args.Select((a, i) => (a, i)).Where(p => p.a.StartsWith("--", StringComparison.Ordinal))
    .ToDictionary(p => p.a, p => p.i + 1 < args.Length ? args[p.i + 1] : "", StringComparer.Ordinal);
string Option(string name, string fallback) => options.TryGetValue(name, out var value) ? value : fallback;
var iterations = long.Parse(Option("--iterations", "100000"), CultureInfo.InvariantCulture);
var seed = int.Parse(Option("--seed", "20251"), CultureInfo.InvariantCulture);
var guard = TimeSpan.FromMilliseconds(int.Parse(Option("--guard-ms", "2000"), CultureInfo.InvariantCulture));
var output = Path.GetFullPath(Option("--out", "fuzz-findings"));
var fixtures = options.TryGetValue("--fixtures", out var f) ? f : FindFixtures();
var only = options.TryGetValue("--target", out var t) ? t : null;

// The hang watchdog: a reader that never returns cannot be interrupted, so the input is saved and the run ends.
var current = (Target: "", Iteration: 0L, Started: 0L, Input: Array.Empty<byte>());
using var watchdog = new Timer(_ =>
{
    var snapshot = current;
    if (snapshot.Started != 0 && Stopwatch.GetElapsedTime(snapshot.Started) > guard * 5)
    {
        Directory.CreateDirectory(output);
        var path = Path.Combine(output, $"{snapshot.Target}-{seed}-{snapshot.Iteration}-hang.bin");
        File.WriteAllBytes(path, snapshot.Input);
        Console.Error.WriteLine($"HANG: {snapshot.Target} input {snapshot.Iteration} ran over {(guard * 5).TotalSeconds:F0} s; saved to {path}");
        Environment.Exit(3);
    }
}, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

Console.WriteLine($"steward fuzz: seed {seed}, {iterations:N0} inputs per reader, time guard {guard.TotalMilliseconds:F0} ms, fixtures {fixtures ?? "(none)"}");
var process = Process.GetCurrentProcess();
var findings = 0;
foreach (var target in FuzzTargets.All(fixtures).Where(x => only is null || x.Name == only))
{
    var fuzzer = new Fuzzer(seed, guard, output);
    var watched = target with
    {
        Run = input =>
        {
            current = (target.Name, 0, Stopwatch.GetTimestamp(), input);
            target.Run(input);
            current = default;
        },
    };
    var result = fuzzer.Run(watched, iterations, n => Console.Error.Write($"\r  {target.Name}: {n:N0}"));
    Console.Error.WriteLine();
    process.Refresh();
    Console.WriteLine($"{result.Target,-9} {result.Inputs:N0} inputs in {result.Elapsed.TotalSeconds:F1} s = {result.InputsPerSecond:N0} inputs/s; slowest {result.Slowest.TotalMilliseconds:F1} ms; " +
                      $"findings {result.Findings.Count}; peak working set so far {process.PeakWorkingSet64 / (1024.0 * 1024):F0} MiB; managed heap {GC.GetTotalMemory(false) / (1024.0 * 1024):F0} MiB");
    foreach (var finding in result.Findings.Take(20))
    {
        Console.WriteLine($"  {finding.Kind} at input {finding.Iteration}: {finding.Detail} (saved to {finding.SavedTo})");
    }

    findings += result.Findings.Count;
}

process.Refresh();
Console.WriteLine($"peak working set {process.PeakWorkingSet64 / (1024.0 * 1024):F0} MiB; {findings} finding{(findings == 1 ? "" : "s")}");
return findings == 0 ? 0 : 1;

static string? FindFixtures()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "..", "shared", "fixtures");
        if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")) && Directory.Exists(candidate))
        {
            return Path.GetFullPath(candidate);
        }
    }

    return Environment.GetEnvironmentVariable("STEWARD_FIXTURES");
}
