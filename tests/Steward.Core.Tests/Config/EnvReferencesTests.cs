using Steward.Core.Config;

namespace Steward.Core.Tests.Config;

public class EnvReferencesTests
{
    private static readonly Dictionary<string, string> Environment = new(StringComparer.Ordinal)
    {
        ["GITHUB_TOKEN"] = "ghp_123",
        ["HOME"] = "/home/u",
        ["EMPTY"] = "",
    };

    private static EnvReferences.Expansion Expand(string text) =>
        EnvReferences.Expand(text, name => Environment.TryGetValue(name, out var v) ? v : null);

    [Theory]
    [InlineData("${GITHUB_TOKEN}", "ghp_123")]
    [InlineData("Bearer ${GITHUB_TOKEN}", "Bearer ghp_123")]
    [InlineData("${HOME}/x:${HOME}/y", "/home/u/x:/home/u/y")]
    [InlineData("$GITHUB_TOKEN", "ghp_123")]
    [InlineData("pa$word", "pa$word")]
    [InlineData("cost: $5 and $HOME", "cost: $5 and $HOME")]
    [InlineData("a${EMPTY}b", "ab")]
    [InlineData("no references", "no references")]
    public void References_expand_at_launch(string text, string expected)
    {
        var expansion = Expand(text);
        Assert.True(expansion.Succeeded);
        Assert.Equal(expected, expansion.Value);
    }

    [Fact]
    public void Every_unset_variable_is_reported_by_name_and_nothing_half_expanded_is_returned()
    {
        var expansion = Expand("${GITHUB_TOKEN}:${MISSING_ONE}:${MISSING_TWO}:${MISSING_ONE}");
        Assert.Null(expansion.Value);
        Assert.Equal(["MISSING_ONE", "MISSING_TWO"], expansion.Unset.ToArray());
    }

    [Theory]
    [InlineData("${}")]
    [InlineData("${A:-default}")]
    [InlineData("${unclosed")]
    [InlineData("${1ABC}")]
    public void A_malformed_reference_is_refused(string text)
    {
        var expansion = Expand(text);
        Assert.False(expansion.Succeeded);
        Assert.Single(expansion.Malformed);
    }

    [Fact]
    public void References_are_listed_without_expanding()
    {
        Assert.Equal(["A", "B"], EnvReferences.Names("${A}-${B}-${A}"));
        Assert.True(EnvReferences.HasReferences("https://${HOST}/mcp"));
        Assert.False(EnvReferences.HasReferences("https://host/mcp?price=$5"));
    }
}
