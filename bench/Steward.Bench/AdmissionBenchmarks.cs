using BenchmarkDotNet.Attributes;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Bench;

/// <summary>
/// Evaluate 1,000 configured servers against a 10,000-entry registry (target ≤ 5 ms for all 1,000).
/// Baseline: the name-only check that allowlists such as Copilot's registry mode perform — one hash lookup per server,
/// which admits by name alone; Steward matches what actually runs.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class AdmissionBenchmarks
{
    private AdmissionEvaluator _evaluator = null!;
    private HashSet<string> _names = [];
    private List<(string Name, McpServerConfig Config)> _configured = [];
    private IReadOnlyList<RegistryEntry> _entries = [];

    [GlobalSetup]
    public void Setup()
    {
        _entries = RegistryReader.Read(BenchData.Registry(10_000)).Document!.Entries;
        _evaluator = new AdmissionEvaluator(_entries);
        _names = _entries.Select(e => e.Server.Name).ToHashSet(StringComparer.Ordinal);
        _configured = Configured(_entries, 1_000);
        var mix = _configured.GroupBy(c => _evaluator.Evaluate(c.Name, c.Config).GetType().Name).Select(g => $"{g.Key} {g.Count()}");
        Console.WriteLine($"// configured servers: {_configured.Count}; decisions: {string.Join(", ", mix)}");
    }

    /// <summary>
    /// What developers have configured: the argv or URL of real registry entries (spread over the registry), one in
    /// ten with an argument the registry does not have, one in twenty under a name the registry does not know.
    /// </summary>
    private static List<(string, McpServerConfig)> Configured(IReadOnlyList<RegistryEntry> entries, int count)
    {
        var list = new List<(string, McpServerConfig)>(count);
        for (var i = 0; list.Count < count && i < entries.Count * 10; i++)
        {
            var server = entries[(i * 7919) % entries.Count].Server;
            McpServerConfig? config = null;
            if (server.Packages is [var package, ..] && LaunchPlanner.Plan(package, LaunchInputs.Empty).Plan is { } plan)
            {
                var args = list.Count % 10 == 9 ? plan.Args.Add("--unapproved-flag") : plan.Args;
                config = new McpServerConfig { Command = plan.Command, Args = args };
            }
            else if (server.Remotes is [var remote, ..] && !remote.Url.Contains('{', StringComparison.Ordinal))
            {
                config = new McpServerConfig { Url = remote.Url };
            }

            if (config is not null)
            {
                list.Add((list.Count % 20 == 19 ? "renamed-" + list.Count : server.Name, config));
            }
        }

        return list;
    }

    [Benchmark(Baseline = true, Description = "name-only lookup ×1,000 (baseline)")]
    public int NameOnly()
    {
        var admitted = 0;
        foreach (var (name, _) in _configured)
        {
            if (_names.Contains(name))
            {
                admitted++;
            }
        }

        return admitted;
    }

    [Benchmark(Description = "AdmissionEvaluator.Evaluate ×1,000")]
    public int Evaluate()
    {
        var admitted = 0;
        foreach (var (name, config) in _configured)
        {
            if (_evaluator.Evaluate(name, config) is AdmissionDecision.Allowed)
            {
                admitted++;
            }
        }

        return admitted;
    }

    [Benchmark(Description = "new AdmissionEvaluator(10,000 entries)")]
    public AdmissionEvaluator Build() => new(_entries);
}
