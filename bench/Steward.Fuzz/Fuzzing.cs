using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Core.Config;
using Steward.Core.Policy;
using Steward.Core.Registry;

namespace Steward.Fuzz;

/// <summary>One reader under test: its seeds, how to build a valid input from mutated JSON (the bundle is re-signed), and the call.</summary>
public sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Seeds, Func<byte[], byte[]> Wrap, Action<byte[]> Run);

/// <summary>An input that made a reader throw or run past the time guard; the input is saved to <see cref="SavedTo"/>.</summary>
public sealed record FuzzFinding(string Target, long Iteration, string Kind, string Detail, string? SavedTo);

public sealed record FuzzTargetResult(string Target, long Inputs, TimeSpan Elapsed, TimeSpan Slowest, IReadOnlyList<FuzzFinding> Findings)
{
    public double InputsPerSecond => Inputs / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Mutation fuzzing of Steward's readers: seeded (a run is reproducible from its seed), half structure-aware (the seed is
/// parsed as JSON, a node is replaced, removed, duplicated, retyped, deepened or given a hostile value, and the document
/// written back) and half byte-level (bit flips, interesting bytes, inserted, deleted, duplicated and truncated ranges,
/// splices of two seeds). The readers' contract is that they never throw on input: any exception is a finding, as is an
/// input slower than the time guard. Findings are saved to files so they can be replayed.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "Fuzzing draws reproducible pseudo-random inputs from a seed.")]
public sealed class Fuzzer(int seed, TimeSpan guard, string? crashDirectory)
{
    private static readonly string[] HostileStrings =
    [
        "", "--registry=https://evil.example.com", "-y", "--", "a; rm -rf ~", "$(id)", "`id`", "line\nbreak", "a\r\nX-Injected: 1",
        "../../../etc/passwd", "..%2F..%2Fetc", "%2F", "io.github.micrоsoft/x", "ｆｕｌｌ", "\u200B", "\u0000", "\uFEFF", "${", "${A", "${A:-b}",
        "$", "{{x}}", "{x}", "https://169.254.169.254/", "http://[fe80::1]/", "file:///etc/passwd", new string('x', 70_000), "é", "😀",
        "1.0.0", "latest", "^1.0.0", "npm", "pypi", "oci", "nuget", "stdio", "streamable-http", "sse", "registry", "positional", "named",
    ];

    private static readonly byte[][] InterestingBytes =
    [
        [0x00], [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xEF, 0xBB, 0xBF], "\"".Bytes(), "\\".Bytes(), "{".Bytes(), "}".Bytes(), "[".Bytes(), "]".Bytes(),
        ",".Bytes(), ":".Bytes(), "\\ud800".Bytes(), "\\u0000".Bytes(), "1e999".Bytes(), "-0".Bytes(), "null".Bytes(), "/*".Bytes(), "//".Bytes(),
    ];

    private readonly Random random = new(seed);

    public FuzzTargetResult Run(FuzzTarget target, long iterations, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        var findings = new List<FuzzFinding>();
        var total = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        for (long i = 0; i < iterations; i++)
        {
            var input = Mutate(target);
            var started = Stopwatch.GetTimestamp();
            try
            {
                target.Run(input);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                findings.Add(new FuzzFinding(target.Name, i, "crash", $"{e.GetType().Name}: {e.Message}", Save(target.Name, i, input, e.ToString())));
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed > slowest)
            {
                slowest = elapsed;
            }

            if (elapsed > guard)
            {
                findings.Add(new FuzzFinding(target.Name, i, "slow", $"{elapsed.TotalMilliseconds:F0} ms, over the guard of {guard.TotalMilliseconds:F0} ms", Save(target.Name, i, input, "slow")));
            }

            if (progress is not null && (i + 1) % 10_000 == 0)
            {
                progress(i + 1);
            }
        }

        return new FuzzTargetResult(target.Name, iterations, total.Elapsed, slowest, findings);
    }

    private string? Save(string target, long iteration, byte[] input, string why)
    {
        if (crashDirectory is null)
        {
            return null;
        }

        Directory.CreateDirectory(crashDirectory);
        var path = Path.Combine(crashDirectory, $"{target}-{seed}-{iteration}.bin");
        File.WriteAllBytes(path, input);
        File.WriteAllText(path + ".txt", why);
        return path;
    }

    public byte[] Mutate(FuzzTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var seedBytes = target.Seeds[random.Next(target.Seeds.Count)];
        if (random.Next(2) == 0 && StructureMutation(seedBytes) is { } mutated)
        {
            return target.Wrap(mutated);
        }

        var bytes = target.Wrap(seedBytes);
        var rounds = 1 + random.Next(4);
        for (var r = 0; r < rounds; r++)
        {
            bytes = ByteMutation(bytes, target);
        }

        return bytes;
    }

    private byte[]? StructureMutation(byte[] seedBytes)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(seedBytes);
        }
        catch (JsonException)
        {
            return null;
        }

        if (root is null)
        {
            return null;
        }

        var rounds = 1 + random.Next(3);
        for (var r = 0; r < rounds; r++)
        {
            var nodes = new List<JsonNode>();
            Collect(root, nodes);
            var node = nodes[random.Next(nodes.Count)];
            var parent = node.Parent;
            switch (random.Next(8))
            {
                case 0 when parent is not null:
                    Replace(node, JsonValue.Create(HostileStrings[random.Next(HostileStrings.Length)]));
                    break;
                case 1 when parent is not null:
                    Replace(node, RandomValue());
                    break;
                case 2 when parent is JsonObject o:
                    o.Remove(node.GetPropertyName());
                    break;
                case 3 when parent is JsonArray a:
                    var copies = random.Next(2) == 0 ? 2 : 200;
                    for (var c = 0; c < copies; c++)
                    {
                        a.Add(node.DeepClone());
                    }

                    break;
                case 4 when node is JsonObject o2:
                    o2[HostileStrings[random.Next(HostileStrings.Length)]] = RandomValue();
                    break;
                case 5 when parent is not null:
                    JsonNode deep = node.DeepClone();
                    for (var d = 0; d < 10 + random.Next(80); d++)
                    {
                        deep = random.Next(2) == 0 ? new JsonArray(deep) : new JsonObject { ["x"] = deep };
                    }

                    Replace(node, deep);
                    break;
                case 6 when node is JsonValue v && v.TryGetValue<string>(out var text):
                    Replace(node, JsonValue.Create(text + HostileStrings[random.Next(HostileStrings.Length)]));
                    break;
                default:
                    if (parent is not null)
                    {
                        Replace(node, random.Next(2) == 0 ? new JsonArray() : new JsonObject());
                    }

                    break;
            }
        }

        var text2 = root.ToJsonString();
        if (random.Next(10) == 0)
        {
            // Duplicate keys cannot be built as nodes: repeat the first member at the text level.
            var colon = text2.IndexOf("\":", StringComparison.Ordinal);
            var open = text2.IndexOf('{', StringComparison.Ordinal);
            if (open >= 0 && colon > open)
            {
                text2 = text2.Insert(open + 1, text2[(open + 1)..(colon + 2)] + "1,");
            }
        }

        return Encoding.UTF8.GetBytes(text2);
    }

    private JsonNode? RandomValue() => random.Next(9) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(2) == 0),
        2 => JsonValue.Create(random.NextInt64(long.MinValue, long.MaxValue)),
        3 => JsonValue.Create(random.NextDouble() * 1e300),
        4 => new JsonArray(),
        5 => new JsonObject(),
        6 => JsonNode.Parse("1e999"),
        7 => new JsonArray(Enumerable.Range(0, random.Next(300)).Select(i => (JsonNode?)JsonValue.Create("v" + i)).ToArray()),
        _ => JsonValue.Create(HostileStrings[random.Next(HostileStrings.Length)]),
    };

    private static void Replace(JsonNode node, JsonNode? replacement)
    {
        switch (node.Parent)
        {
            case JsonObject o:
                o[node.GetPropertyName()] = replacement;
                break;
            case JsonArray a:
                a[node.GetElementIndex()] = replacement;
                break;
        }
    }

    private static void Collect(JsonNode node, List<JsonNode> nodes)
    {
        nodes.Add(node);
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    if (child is not null)
                    {
                        Collect(child, nodes);
                    }
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    if (child is not null)
                    {
                        Collect(child, nodes);
                    }
                }

                break;
        }
    }

    private byte[] ByteMutation(byte[] bytes, FuzzTarget target)
    {
        var list = new List<byte>(bytes);
        var at = list.Count == 0 ? 0 : random.Next(list.Count);
        switch (random.Next(8))
        {
            case 0 when list.Count > 0:
                list[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when list.Count > 0:
                list[at] = (byte)random.Next(256);
                break;
            case 2:
                list.InsertRange(at, InterestingBytes[random.Next(InterestingBytes.Length)]);
                break;
            case 3 when list.Count > 0:
                list.RemoveRange(at, Math.Min(list.Count - at, 1 + random.Next(16)));
                break;
            case 4 when list.Count > 0:
                var length = Math.Min(list.Count - at, 1 + random.Next(64));
                var chunk = list.GetRange(at, length);
                list.InsertRange(random.Next(list.Count), chunk);
                break;
            case 5 when list.Count > 0:
                list.RemoveRange(at, list.Count - at);
                break;
            case 6:
                var other = target.Wrap(target.Seeds[random.Next(target.Seeds.Count)]);
                var from = other.Length == 0 ? 0 : random.Next(other.Length);
                list.RemoveRange(at, list.Count - at);
                list.AddRange(other.AsSpan(from).ToArray());
                break;
            default:
                var hostile = HostileStrings[random.Next(HostileStrings.Length)];
                list.InsertRange(at, Encoding.UTF8.GetBytes(hostile[..Math.Min(64, hostile.Length)]));
                break;
        }

        return [.. list];
    }
}

/// <summary>The readers fuzzed: the registry reader and validator, the mcp.json reader (and writer on what it reads), the policy bundle verifier.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All(string? fixtures)
    {
        var now = DateTimeOffset.UtcNow;
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var trusted = new[] { EcPublicJwk.FromKey(key) };
        var kid = trusted[0].Kid;
        return
        [
            new("registry", RegistrySeeds(fixtures), b => b, b =>
            {
                var loaded = RegistryLoader.Load(b);
                _ = loaded.Problems.Count;
            }),
            new("mcp.json", ConfigSeeds(), b => b, b =>
            {
                var read = McpConfigReader.Read(b);
                if (read.Config is { } config)
                {
                    _ = McpConfigWriter.Write(config);
                    foreach (var server in config.Servers)
                    {
                        foreach (var (_, value) in server.Config.Env ?? [])
                        {
                            _ = EnvReferences.Expand(value, _ => "x");
                        }
                    }
                }
            }),
            new("bundle", BundleSeeds(now), payload =>
            {
                // A mutated payload is signed again, so the verifier reads it past the signature check.
                return Encoding.ASCII.GetBytes(PolicyBundle.Sign(payload, key, kid));
            }, b => _ = PolicyBundle.Verify(Encoding.UTF8.GetString(b), trusted, now)),
        ];
    }

    private static List<byte[]> RegistrySeeds(string? fixtures)
    {
        var seeds = new List<byte[]>
        {
            """{"servers":[{"server":{"name":"io.acme/weather","description":"d","version":"1.2.0","packages":[{"registryType":"npm","identifier":"@acme/weather","version":"1.2.0","transport":{"type":"stdio"},"packageArguments":[{"type":"positional","valueHint":"dir","isRequired":true}],"environmentVariables":[{"name":"KEY","isSecret":true}]}]},"_meta":{}}],"metadata":{"count":1}}"""u8.ToArray(),
            """{"name":"io.acme/remote","description":"d","version":"1.0.0","remotes":[{"type":"streamable-http","url":"https://{tenant}.acme.com/mcp","variables":{"tenant":{"isRequired":true}},"headers":[{"name":"Authorization","isSecret":true}]}]}"""u8.ToArray(),
        };
        if (fixtures is not null && Directory.Exists(fixtures))
        {
            foreach (var file in Directory.EnumerateFiles(fixtures, "*.json", SearchOption.AllDirectories).Where(f => new FileInfo(f).Length < 16 * 1024 && !f.Contains("schema", StringComparison.Ordinal)))
            {
                seeds.Add(File.ReadAllBytes(file));
            }
        }

        return seeds;
    }

    private static List<byte[]> ConfigSeeds() =>
    [
        """{"mcpServers":{"github":{"command":"npx","args":["-y","@modelcontextprotocol/server-github"],"env":{"GITHUB_PERSONAL_ACCESS_TOKEN":"${GITHUB_TOKEN}"},"disabled":false,"autoApprove":["search"],"disabledTools":["delete"],"timeout":60000},"remote":{"url":"https://mcp.example.com/mcp","headers":{"Authorization":"Bearer ${TOKEN}"},"oauth":{"redirectUri":"http://localhost"}},"io.acme/weather":{"type":"registry","env":{"UNITS":"metric"}}},"other":[1,2]}"""u8.ToArray(),
        """{"mcpServers":{"off":{"disabled":true},"fs":{"command":"uvx","args":["mcp-server-fs","$HOME"]}}}"""u8.ToArray(),
    ];

    private static List<byte[]> BundleSeeds(DateTimeOffset now)
    {
        var iat = now.ToUnixTimeSeconds();
        return
        [
            Encoding.UTF8.GetBytes("""{"iss":"https://steward.example.com","sub":"demo","iat":IAT,"exp":EXP,"revision":"7","profile":{"mcpEnabled":true,"webToolsEnabled":false},"registry":{"servers":[{"server":{"name":"io.acme/x","description":"d","version":"1.0.0"}}]},"models":[{"id":"m","default":true}],"toolRules":[{"pattern":"*/delete*","effect":"deny"}]}"""
                .Replace("IAT", (iat - 60).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal).Replace("EXP", (iat + 3600).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)),
        ];
    }
}

internal static class Utf8Literal
{
    public static byte[] Bytes(this string text) => Encoding.UTF8.GetBytes(text);
}
