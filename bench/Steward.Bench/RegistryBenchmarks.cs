using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Steward.Core.Registry;

namespace Steward.Bench;

/// <summary>
/// Parse and validate a 10,000-entry registry. Baseline: <see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/>
/// of the same bytes — the cost of merely reading the JSON, which no reader can go below.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class RegistryBenchmarks
{
    private byte[] _bytes = [];

    [Params(10_000)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup() => _bytes = BenchData.Registry(Entries);

    [Benchmark(Baseline = true, Description = "JsonDocument.Parse (baseline)")]
    public int ParseJsonOnly()
    {
        using var document = JsonDocument.Parse(_bytes);
        return document.RootElement.GetArrayLength();
    }

    [Benchmark(Description = "RegistryReader.Read (parse + map)")]
    public int Read() => RegistryReader.Read(_bytes).Document!.Entries.Count;

    [Benchmark(Description = "RegistryLoader.Load (parse + map + validate)")]
    public int Load() => RegistryLoader.Load(_bytes).Problems.Count;
}
