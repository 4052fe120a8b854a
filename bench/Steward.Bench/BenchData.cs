using System.Text.Json.Nodes;

namespace Steward.Bench;

/// <summary>
/// Realistic registries for benchmarks: the 2,794 real records of the public registry snapshot, replicated under
/// new names until the wanted size is reached.
/// </summary>
public static class BenchData
{
    public static string FixturesRoot
    {
        get
        {
            if (Environment.GetEnvironmentVariable("STEWARD_FIXTURES") is { Length: > 0 } configured)
            {
                return configured;
            }

            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var sibling = Path.Combine(dir.FullName, "..", "shared", "fixtures");
                if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")) && Directory.Exists(sibling))
                {
                    return Path.GetFullPath(sibling);
                }
            }

            throw new InvalidOperationException("shared/fixtures not found: set STEWARD_FIXTURES");
        }
    }

    /// <summary>An array of <c>{server, _meta}</c> items with <paramref name="count"/> server versions, as UTF-8 JSON.</summary>
    public static byte[] Registry(int count)
    {
        var path = Path.Combine(FixturesRoot, "official-registry", "registry-snapshot-2025-12-18.json");
        var snapshot = JsonNode.Parse(File.ReadAllText(path))!.AsArray(); // ReadAllText drops the byte order mark
        var result = new JsonArray();
        for (var copy = 0; result.Count < count; copy++)
        {
            foreach (var item in snapshot)
            {
                if (result.Count == count)
                {
                    break;
                }

                var clone = item!.DeepClone();
                if (copy > 0)
                {
                    var server = clone["server"]!;
                    server["name"] = server["name"]!.GetValue<string>() + "-c" + copy;
                    if (server["remotes"] is JsonArray remotes)
                    {
                        foreach (var remote in remotes)
                        {
                            remote!["url"] = remote["url"]!.GetValue<string>().TrimEnd('/') + "/c" + copy;
                        }
                    }
                }

                result.Add(clone);
            }
        }

        return System.Text.Encoding.UTF8.GetBytes(result.ToJsonString());
    }
}
