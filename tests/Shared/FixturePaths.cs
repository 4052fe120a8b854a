namespace Steward.Tests;

/// <summary>Where the shared fixtures live: <c>../shared/fixtures</c> beside the repository, or <c>STEWARD_FIXTURES</c>.</summary>
internal static class FixturePaths
{
    public static string Root { get; } = Find();

    public static string OfficialExamples => Path.Combine(Root, "official-registry", "examples");
    public static string Seed => Path.Combine(Root, "official-registry", "seed.json");
    public static string Snapshot => Path.Combine(Root, "official-registry", "registry-snapshot-2025-12-18.json");
    public static string Kiro => Path.Combine(Root, "kiro", "registry-example.json");

    private static string Find()
    {
        if (Environment.GetEnvironmentVariable("STEWARD_FIXTURES") is { Length: > 0 } configured)
        {
            return configured;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "fixtures");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }

            var sibling = Path.Combine(dir.FullName, "..", "shared", "fixtures");
            if (Directory.Exists(sibling) && File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
            {
                return Path.GetFullPath(sibling);
            }
        }

        throw new InvalidOperationException("the shared fixtures were not found: set STEWARD_FIXTURES to the shared/fixtures folder");
    }
}
