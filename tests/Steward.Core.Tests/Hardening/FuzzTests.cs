using Steward.Fuzz;

namespace Steward.Core.Tests.Hardening;

/// <summary>The always-on part of the fuzzing (bench/Steward.Fuzz runs 100,000 inputs per reader): a few thousand per reader, fixed seeds.</summary>
public class FuzzTests
{
    public static TheoryData<string> Targets => new(FuzzTargets.All(FixturePaths.Root).Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public void A_few_thousand_mutated_inputs_never_crash_or_stall_a_reader(string name)
    {
        var target = FuzzTargets.All(FixturePaths.Root).Single(t => t.Name == name);
        var fuzzer = new Fuzzer(seed: 7, guard: TimeSpan.FromSeconds(2), crashDirectory: null);

        var result = fuzzer.Run(target, 3_000);

        Assert.True(result.Findings.Count == 0, string.Join("\n", result.Findings.Take(5).Select(f => $"{f.Kind} at input {f.Iteration}: {f.Detail}")));
    }

    [Fact]
    public void A_run_is_reproducible_from_its_seed()
    {
        var target = FuzzTargets.All(FixturePaths.Root).Single(t => t.Name == "mcp.json");

        var first = new Fuzzer(11, TimeSpan.FromSeconds(2), null);
        var second = new Fuzzer(11, TimeSpan.FromSeconds(2), null);

        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(first.Mutate(target), second.Mutate(target)));
    }
}
