using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Core.Tests.Validation;

public class FixtureValidationTests
{
    public static TheoryData<string> OfficialExamples()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(FixturePaths.OfficialExamples, "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void All_seventeen_official_examples_are_present()
    {
        Assert.Equal(17, OfficialExamples().Count);
    }

    [Theory]
    [MemberData(nameof(OfficialExamples))]
    public void Each_official_example_validates_without_errors(string file)
    {
        var result = RegistryLoader.Load(File.ReadAllBytes(Path.Combine(FixturePaths.OfficialExamples, file)));

        Assert.Null(result.Failure);
        Assert.Equal(RegistryShape.ServerJson, result.Document!.Shape);
        Assert.Empty(result.Problems.Where(p => p.IsError).Select(p => p.ToString()));
    }

    [Fact]
    public void The_official_seed_file_validates_without_errors()
    {
        var result = RegistryLoader.Load(File.ReadAllBytes(FixturePaths.Seed));

        Assert.Null(result.Failure);
        Assert.Equal(RegistryShape.ServerJsonArray, result.Document!.Shape);
        Assert.NotEmpty(result.Document.Entries);
        Assert.Empty(result.Problems.Where(p => p.IsError).Select(p => p.ToString()));
    }

    [Fact]
    public void The_kiro_example_validates_as_a_kiro_file_without_errors_or_warnings()
    {
        var result = RegistryLoader.Load(File.ReadAllBytes(FixturePaths.Kiro), RegistryShape.KiroFile);

        Assert.Null(result.Failure);
        Assert.Equal(2, result.Document!.Entries.Count);
        Assert.Empty(result.Problems.Select(p => p.ToString()));
    }

    /// <summary>
    /// The only errors in the 2,794 records the official registry accepted: each is a rule the official registry
    /// enforces today (in its validator or its schema) on records published before it did so.
    /// </summary>
    private static readonly (string Path, string Rule)[] KnownSnapshotErrors =
    [
        // version.reserved: package version "latest". The official validator now refuses it for packages as for
        // servers ("version string 'latest' is reserved") and schema 2025-12-11 says `not: {const: "latest"}`;
        // these five were published on 2025-09-09, before the check. A client cannot pin "latest".
        ("[6].server.packages[0].version", "version.reserved"), // io.github.ycjcl868/mcp-server-fear-greed 1.0.2
        ("[6].server.packages[1].version", "version.reserved"),
        ("[6].server.packages[2].version", "version.reserved"),
        ("[13].server.packages[0].version", "version.reserved"), // io.github.bytedance/mcp-server-browser 1.0.0
        ("[13].server.packages[1].version", "version.reserved"),
        ("[13].server.packages[2].version", "version.reserved"),
        ("[14].server.packages[0].version", "version.reserved"), // io.github.bytedance/mcp-server-commands 1.0.0
        ("[14].server.packages[1].version", "version.reserved"),
        ("[14].server.packages[2].version", "version.reserved"),
        ("[15].server.packages[0].version", "version.reserved"), // io.github.bytedance/mcp-server-filesystem 1.0.0
        ("[15].server.packages[1].version", "version.reserved"),
        ("[15].server.packages[2].version", "version.reserved"),
        ("[16].server.packages[0].version", "version.reserved"), // io.github.bytedance/mcp-server-search 1.0.0
        ("[16].server.packages[1].version", "version.reserved"),
        ("[16].server.packages[2].version", "version.reserved"),

        // input.format: "integer" is outside the schema's enum (string, number, boolean, filepath); the registry
        // did not check formats against the schema when io.github.jztan/redmine-mcp-server 0.4.5 was published.
        ("[608].server.packages[0].environmentVariables[5].format", "input.format"),
        ("[608].server.packages[0].environmentVariables[7].format", "input.format"),
        ("[608].server.packages[0].environmentVariables[10].format", "input.format"),
        ("[608].server.packages[0].environmentVariables[11].format", "input.format"),
    ];

    [Fact]
    public void The_registry_snapshot_has_errors_only_in_the_records_listed_with_their_reasons()
    {
        var result = RegistryLoader.Load(File.ReadAllBytes(FixturePaths.Snapshot));

        Assert.Null(result.Failure);
        Assert.Equal(RegistryShape.ServerJsonArray, result.Document!.Shape);
        Assert.Equal(2794, result.Document.Entries.Count);
        var errors = result.Problems.Where(p => p.IsError).Select(p => (p.Path, p.Rule)).ToList();
        Assert.Equal(KnownSnapshotErrors.Order(), errors.Order());
    }

    [Fact]
    public void The_registry_snapshot_warns_about_what_real_data_contains()
    {
        var problems = RegistryLoader.Load(File.ReadAllBytes(FixturePaths.Snapshot)).Problems;

        Assert.Contains(problems, p => p.Rule == "schema.older");
        Assert.Contains(problems, p => p.Rule == "argument.type-empty");
        Assert.Contains(problems, p => p.Rule == "key-value.name-empty");
        Assert.DoesNotContain(problems, p => p.Path.Contains(".repository", StringComparison.Ordinal));
    }
}
