using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Steward.Core.Json;
using Steward.Core.Policy;
using Steward.Core.Registry;

namespace Steward.Bench;

/// <summary>
/// Reading a signed bundle's payload with a 10,000-version registry on the agent's side. Baseline: the read as it was
/// before <see cref="BundlePayload"/> — the payload parsed, the registry turned back into text
/// (<see cref="JsonElement.GetRawText"/>) and that text parsed and validated again by <see cref="RegistryLoader"/>.
/// Measured: <see cref="BundlePayload.Read"/>, which loads and validates the registry from the payload's own document.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 2, iterationCount: 10)]
public class BundlePayloadBenchmarks
{
    private byte[] _payload = [];

    [Params(10_000)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var registry = Encoding.UTF8.GetString(BenchData.Registry(Entries));
        _payload = Encoding.UTF8.GetBytes(
            "{\"sub\":\"demo\",\"iat\":1,\"exp\":2,\"revision\":\"1\",\"organisation\":\"demo\",\"account\":null," +
            "\"profile\":{\"scope\":\"organisation\",\"mcpEnabled\":true,\"webToolsEnabled\":true,\"registryMode\":\"hosted\",\"registryUrl\":null," +
            "\"syncIntervalSeconds\":86400,\"maxOfflineAgeSeconds\":null,\"modelControlEnabled\":false,\"auditToolArguments\":false}," +
            $"\"registry\":{{\"servers\":{registry},\"metadata\":{{\"count\":{Entries}}}}},\"models\":[],\"sandbox\":{{\"default\":null,\"servers\":{{}}}}}}");
    }

    [Benchmark(Baseline = true, Description = "parse, GetRawText, parse + validate again (before)")]
    public int ParseTwice()
    {
        using var document = StrictJson.Parse(_payload).Document!;
        var registry = Encoding.UTF8.GetBytes(document.RootElement.GetProperty("registry").GetRawText());
        return RegistryLoader.Load(registry, RegistryShape.RegistryApiPage).Document!.Entries.Count;
    }

    [Benchmark(Description = "BundlePayload.Read (parse once, validate)")]
    public int ReadOnce() => BundlePayload.Read(_payload).Registry!.Document!.Entries.Count;
}
