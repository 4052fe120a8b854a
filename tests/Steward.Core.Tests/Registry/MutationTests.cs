using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Core.Tests.Registry;

/// <summary>
/// Thousands of random mutations of valid documents: each must end in a verdict (problems or a read failure),
/// never in an exception or a hang. Mutations that remove or retype a required field must be reported as errors.
/// </summary>
public class MutationTests
{
    private const int Seed = 20251211;

    private static readonly string[] NastyStrings =
    [
        "", " ", "latest", "^1.2.3", "1.x", ">=1.0.0", "1 - 2", "1.2 || 1.3", "{undeclared}", "{", "}", "{{a}}",
        "x; rm -rf ~", "$(id)", "`id`", "line\nbreak", "crlf\r\nX-Injected: 1", "--", "-rf", "../../etc/passwd",
        "a/b/c", "io.github.a%2Fb", "http://localhost/mcp", "https://127.0.0.1/", "https://[::1]/x", "ftp://x/y",
        "javascript:alert(1)", "https://", "https://{host}/{path}", "\u0000", "\uFFFF", "é", "ⅰo.github.a/b",
        new string('a', 300), new string('/', 50), "1.0.0-", "01.2.3", "1.2.3.4", "+1.2.3", "99999999999999999999.0.0",
    ];

    public static TheoryData<string> ValidDocuments()
    {
        var files = Directory.GetFiles(FixturePaths.OfficialExamples, "*.json").Order(StringComparer.Ordinal).ToList();
        files.Add(FixturePaths.Seed);
        files.Add(FixturePaths.Kiro);
        return new TheoryData<string>(files);
    }

    [Theory]
    [MemberData(nameof(ValidDocuments))]
    public void Random_tree_mutations_end_in_a_verdict_never_an_exception(string file)
    {
        var original = JsonNode.Parse(File.ReadAllBytes(file))!;
        var random = new Random(HashCode.Combine(Seed, Path.GetFileName(file).Length, file.Length));
        for (var i = 0; i < 250; i++)
        {
            var copy = original.DeepClone();
            var mutations = random.Next(1, 4);
            for (var m = 0; m < mutations; m++)
            {
                copy = MutateTree(copy, random);
            }

            var bytes = Encoding.UTF8.GetBytes(copy?.ToJsonString() ?? "null");
            AssertVerdict(bytes, $"{Path.GetFileName(file)} iteration {i}");
        }
    }

    [Theory]
    [MemberData(nameof(ValidDocuments))]
    public void Random_byte_mutations_end_in_a_verdict_never_an_exception(string file)
    {
        var original = File.ReadAllBytes(file);
        var random = new Random(HashCode.Combine(Seed + 1, file.Length));
        for (var i = 0; i < 250; i++)
        {
            var bytes = MutateBytes(original, random);
            AssertVerdict(bytes, $"{Path.GetFileName(file)} byte iteration {i}");
        }
    }

    [Theory]
    [MemberData(nameof(ValidDocuments))]
    public void Removing_or_retyping_a_required_field_is_always_an_error(string file)
    {
        var original = JsonNode.Parse(File.ReadAllBytes(file))!;
        var random = new Random(Seed + 2);
        var servers = ServerObjects(original).Count;
        for (var i = 0; i < 40; i++)
        {
            var copy = original.DeepClone();
            var targets = ServerObjects(copy);
            var server = targets[random.Next(servers)];
            var field = new[] { "name", "description", "version" }[random.Next(3)];
            if (random.Next(2) == 0)
            {
                server.Remove(field);
            }
            else
            {
                server[field] = random.Next(3) switch { 0 => 42, 1 => new JsonArray(), _ => new JsonObject() };
            }

            var result = RegistryLoader.Load(Encoding.UTF8.GetBytes(copy.ToJsonString()));
            Assert.True(result.Failure is null, result.Failure?.ToString());
            Assert.Contains(result.Problems, p => p.IsError && p.Path.EndsWith(field, StringComparison.Ordinal));
            Assert.False(result.IsValid);
        }
    }

    private static void AssertVerdict(byte[] bytes, string label)
    {
        LoadResult? result = null;
        var work = Task.Run(() => result = RegistryLoader.Load(bytes));
        // A guard against a hang, not a timing assertion: any single document takes milliseconds.
        Assert.True(work.Wait(TimeSpan.FromSeconds(30)), $"{label}: no verdict after 30 s");
        Assert.NotNull(result);
        Assert.Equal(result.Failure is null && !result.Problems.HasErrors(), result.IsValid);
        Assert.All(result.Problems, p => Assert.False(string.IsNullOrWhiteSpace(p.Message), label));
    }

    private static List<JsonObject> ServerObjects(JsonNode root)
    {
        var list = new List<JsonObject>();
        switch (root)
        {
            case JsonArray array:
                list.AddRange(array.OfType<JsonObject>().Select(o => o["server"] as JsonObject ?? o));
                break;
            case JsonObject obj when obj["servers"] is JsonArray servers:
                list.AddRange(servers.OfType<JsonObject>().Select(o => (JsonObject)o["server"]!));
                break;
            case JsonObject obj:
                list.Add(obj);
                break;
        }

        return list;
    }

    private static JsonNode? MutateTree(JsonNode? root, Random random)
    {
        if (root is null)
        {
            return JsonValue.Create(Pick(random));
        }

        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[random.Next(nodes.Count)];
        var replacement = RandomNode(random, target);
        if (target.Parent is null)
        {
            return replacement;
        }

        switch (random.Next(4))
        {
            case 0 when target.Parent is JsonObject parent:
                parent.Remove(target.GetPropertyName());
                break;
            case 1 when target.Parent is JsonArray array:
                array.Add(target.DeepClone());
                break;
            case 2 when target is JsonObject obj:
                obj["x-unknown-" + random.Next(100)] = RandomNode(random, null);
                break;
            default:
                target.ReplaceWith(replacement);
                break;
        }

        return root;
    }

    private static JsonNode? RandomNode(Random random, JsonNode? like) => random.Next(9) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(-5, 5)),
        2 => JsonValue.Create(random.Next(2) == 0),
        3 => new JsonArray(JsonValue.Create(Pick(random)), JsonValue.Create(1)),
        4 => new JsonObject { ["name"] = Pick(random), ["value"] = Pick(random) },
        5 when like is not null => like.DeepClone(),
        _ => JsonValue.Create(Pick(random)),
    };

    private static string Pick(Random random) => NastyStrings[random.Next(NastyStrings.Length)];

    private static void Collect(JsonNode node, List<JsonNode> into)
    {
        into.Add(node);
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj)
                {
                    if (child is not null)
                    {
                        Collect(child, into);
                    }
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    if (child is not null)
                    {
                        Collect(child, into);
                    }
                }

                break;
        }
    }

    private static byte[] MutateBytes(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits && bytes.Count > 0; e++)
        {
            var at = random.Next(bytes.Count);
            if (bytes.Count == 0)
            {
                break;
            }

            switch (random.Next(5))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes.RemoveAt(at);
                    break;
                case 2:
                    var alphabet = "{}[]\":,\\0e-"u8;
                    bytes.Insert(at, alphabet[random.Next(alphabet.Length)]);
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    var chunk = bytes.GetRange(at, Math.Min(random.Next(1, 64), bytes.Count - at));
                    bytes.InsertRange(random.Next(bytes.Count + 1), chunk);
                    break;
            }
        }

        return [.. bytes];
    }
}
