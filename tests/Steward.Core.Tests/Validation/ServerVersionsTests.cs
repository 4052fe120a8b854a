using Steward.Core.Registry;

namespace Steward.Core.Tests.Validation;

/// <summary>The official registry's version semantics (internal/service/versioning_test.go), and range detection.</summary>
public class ServerVersionsTests
{
    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("1.2.3", true)]
    [InlineData("0.0.0", true)]
    [InlineData("100.200.300", true)]
    [InlineData("1.0.0-alpha", true)]
    [InlineData("2.1.3-beta", true)]
    [InlineData("3.0.0-rc", true)]
    [InlineData("1.0.0-1", true)]
    [InlineData("1.0.0-alpha.1", true)]
    [InlineData("1.0.0-beta.2.3", true)]
    [InlineData("2021.03.15", true)]
    [InlineData("2021.03.05", true)]
    [InlineData("", false)]
    [InlineData("1", false)]
    [InlineData("1.0", false)]
    [InlineData("1.0.0.0", false)]
    [InlineData("v1.0.0", false)]
    [InlineData("a.0.0", false)]
    [InlineData("1.b.0", false)]
    [InlineData("1.0.c", false)]
    [InlineData("1.0.0-", false)]
    [InlineData("1.0.0-alpha-beta", false)]
    [InlineData("1.0.0-alpha@1", false)]
    [InlineData("snapshot", false)]
    [InlineData("latest", false)]
    [InlineData("1.0.0-pre-release", false)]
    [InlineData("1.0.0+build", false)]
    [InlineData("１.0.0", false)]
    public void A_version_is_semantic_only_as_major_minor_patch_with_an_optional_prerelease(string version, bool expected)
    {
        Assert.Equal(expected, ServerVersions.IsSemantic(version));
    }

    [Theory]
    [InlineData("1.0.0", "2.0.0", -1)]
    [InlineData("2.0.0", "1.0.0", 1)]
    [InlineData("1.0.0", "1.0.0", 0)]
    [InlineData("1.1.0", "1.2.0", -1)]
    [InlineData("1.2.0", "1.1.0", 1)]
    [InlineData("1.2.0", "1.2.0", 0)]
    [InlineData("1.0.1", "1.0.2", -1)]
    [InlineData("1.0.2", "1.0.1", 1)]
    [InlineData("1.0.1", "1.0.1", 0)]
    [InlineData("1.9.9", "2.0.0", -1)]
    [InlineData("2.0.0", "1.9.9", 1)]
    [InlineData("1.10.0", "1.2.0", 1)]
    [InlineData("1.0.0-alpha", "1.0.0", -1)]
    [InlineData("1.0.0", "1.0.0-alpha", 1)]
    [InlineData("1.0.0-alpha", "1.0.0-beta", -1)]
    [InlineData("1.0.0-beta", "1.0.0-alpha", 1)]
    [InlineData("1.0.0-alpha", "1.0.0-alpha", 0)]
    [InlineData("1.0.0-1", "1.0.0-2", -1)]
    [InlineData("1.0.0-alpha.1", "1.0.0-alpha.2", -1)]
    [InlineData("1.0.0-rc", "1.0.0-alpha", 1)]
    [InlineData("1.0.0-alpha.10", "1.0.0-alpha.2", 1)]
    [InlineData("1.0.0-alpha.2", "1.0.0-alpha.10", -1)]
    [InlineData("1.0.0-beta.100", "1.0.0-beta.9", 1)]
    [InlineData("1.0.0-1", "1.0.0-alpha", -1)]
    [InlineData("1.0.0-alpha", "1.0.0-1", 1)]
    [InlineData("1.0.0-alpha", "1.0.0-alpha.1", -1)]
    [InlineData("1.0.0-alpha.1", "1.0.0-alpha", 1)]
    [InlineData("1.0.0-alpha.1.beta", "1.0.0-alpha.1.2", 1)]
    [InlineData("1.0.0-rc.1", "1.0.0-rc.10", -1)]
    [InlineData("0.0.0", "0.0.1", -1)]
    [InlineData("100.200.300", "100.200.301", -1)]
    [InlineData("1.0.0-99999999999999999999", "1.0.0-100000000000000000000", -1)]
    public void Semantic_versions_compare_by_number_then_by_semver_prerelease_precedence(string a, string b, int expected)
    {
        Assert.Equal(expected, ServerVersions.CompareSemantic(a, b));
    }

    private static readonly DateTimeOffset Now = new(2025, 12, 18, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Earlier = Now.AddHours(-1);
    private static readonly DateTimeOffset Later = Now.AddHours(1);

    public static TheoryData<string, string, DateTimeOffset, DateTimeOffset, int> Comparisons() => new()
    {
        { "1.0.0", "2.0.0", Now, Now, -1 },
        { "2.0.0", "1.0.0", Now, Now, 1 },
        { "1.0.0", "1.0.0", Now, Now, 0 },
        { "1.0.0", "2.0.0", Later, Earlier, -1 },
        { "snapshot", "latest", Earlier, Later, -1 },
        { "snapshot", "latest", Later, Earlier, 1 },
        { "snapshot", "latest", Now, Now, 0 },
        { "v2021.03.15", "v2021.03.16", Earlier, Later, -1 },
        { "1.0.0", "snapshot", Now, Now, 1 },
        { "snapshot", "1.0.0", Now, Now, -1 },
        { "2.0.0", "snapshot", Earlier, Later, 1 },
        { "latest", "1.0.0", Later, Earlier, -1 },
        { "1.0.0-alpha", "custom", Now, Now, 1 },
        { "", "1.0.0", Now, Now, -1 },
        { "1.0.0", "", Now, Now, 1 },
        { "", "", Now, Now, 0 },
    };

    [Theory]
    [MemberData(nameof(Comparisons))]
    public void Versions_compare_semantically_when_both_are_semantic_by_publish_time_when_neither_and_semantic_wins_otherwise(
        string a, string b, DateTimeOffset publishedA, DateTimeOffset publishedB, int expected)
    {
        Assert.Equal(expected, ServerVersions.Compare(a, publishedA, b, publishedB));
    }

    private sealed record Published(string Version, DateTimeOffset At);

    [Fact]
    public void The_latest_is_the_highest_semantic_version_whatever_the_publish_order()
    {
        var versions = new[] { new Published("1.2.0", Earlier), new Published("1.10.0-rc.1", Now), new Published("1.10.0", Earlier), new Published("nightly", Later) };

        Assert.Equal("1.10.0", ServerVersions.PickLatest(versions, v => v.Version, v => v.At)!.Version);
    }

    [Fact]
    public void Among_non_semantic_versions_the_latest_is_the_last_published()
    {
        var versions = new[] { new Published("2025-06-18", Later), new Published("snapshot", Earlier), new Published("v1.0", Now) };

        Assert.Equal("2025-06-18", ServerVersions.PickLatest(versions, v => v.Version, v => v.At)!.Version);
    }

    [Fact]
    public void On_a_tie_the_version_seen_first_stays_the_latest()
    {
        var versions = new[] { new Published("a", Now), new Published("b", Now) };

        Assert.Equal("a", ServerVersions.PickLatest(versions, v => v.Version, v => v.At)!.Version);
        Assert.Null(ServerVersions.PickLatest(Array.Empty<Published>(), v => v.Version, v => v.At));
    }

    [Theory]
    [InlineData("^1.2.3", true)]
    [InlineData("~1.2.3", true)]
    [InlineData(">=1.0.0", true)]
    [InlineData("<=1.0.0", true)]
    [InlineData(">1.0.0", true)]
    [InlineData("<1.0.0", true)]
    [InlineData("=1.0.0", true)]
    [InlineData(">= 1.2.3", true)]
    [InlineData(" ^v1.2.3-beta.1 ", true)]
    [InlineData("1.x", true)]
    [InlineData("1.*", true)]
    [InlineData("1.2.*", true)]
    [InlineData("1.2.x", true)]
    [InlineData("1.2.X", true)]
    [InlineData("*.1", true)]
    [InlineData("1.2.3 - 2.0.0", true)]
    [InlineData("1 - 2", true)]
    [InlineData("1.2 || 1.3", true)]
    [InlineData("1.0.0", false)]
    [InlineData("1.2.3-alpha.1", false)]
    [InlineData("2021.03.15", false)]
    [InlineData("snapshot", false)]
    [InlineData("snapshot - 2025.09", false)]
    [InlineData("2025-06-18", false)]
    [InlineData("v1.0", false)]
    [InlineData("", false)]
    [InlineData("   ", false)]
    [InlineData("latest", false)]
    [InlineData("x", false)]
    // Deliberate difference: the official registry also finds "x" inside a prerelease and calls these ranges.
    [InlineData("1.0.0-next", false)]
    [InlineData("2.0.0-beta.x", false)]
    public void Ranges_and_wildcards_are_told_apart_from_single_versions(string version, bool expected)
    {
        Assert.Equal(expected, ServerVersions.LooksLikeRange(version));
    }
}
