using System.Text.RegularExpressions;
using Steward.Core.Admission;

namespace Steward.Core.Tests.Admission;

public partial class ServerAliasesTests
{
    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex HostName();

    [Theory]
    [InlineData("everything", "everything")]
    [InlineData("github", "github")]
    [InlineData("a-b-c", "a-b-c")]
    public void A_short_plain_name_is_its_own_alias(string name, string alias) => Assert.Equal(alias, ServerAliases.Alias(name));

    [Theory]
    [InlineData("io.github.modelcontextprotocol/server-everything", "server-everything-")]
    [InlineData("shx__a", "shx-a-")]
    [InlineData("my_server", "my-server-")]
    [InlineData("a-very-long-configured-server-name-indeed", "a-very-long-configur-")]
    [InlineData("io.example/", "io-example-")]
    public void Any_other_name_is_its_last_segment_cut_and_a_hash_of_the_whole_name(string name, string prefix)
    {
        var alias = ServerAliases.Alias(name);
        Assert.StartsWith(prefix, alias, StringComparison.Ordinal);
        Assert.Matches("^[a-zA-Z0-9-]+-[0-9a-f]{6}$", alias);
        Assert.True(alias.Length <= 27, alias);
        Assert.Equal(alias, ServerAliases.Alias(name));
    }

    [Fact]
    public void The_separator_example_of_the_issue_gives_two_names()
    {
        var aliases = ServerAliases.For(["shx", "shx__a"]);
        var first = ServerAliases.Exposed(aliases["shx"], "a__echo");
        var second = ServerAliases.Exposed(aliases["shx__a"], "echo");
        Assert.NotEqual(first, second);
        Assert.Equal(("shx", "a__echo"), ServerAliases.Split(first));
        Assert.Equal((aliases["shx__a"], "echo"), ServerAliases.Split(second));
    }

    [Fact]
    public void Names_that_meet_on_one_alias_each_take_a_longer_hash()
    {
        var hashed = ServerAliases.Alias("io.x/tool");
        var aliases = ServerAliases.For(["io.x/tool", hashed]);
        Assert.NotEqual(aliases["io.x/tool"], aliases[hashed]);
        Assert.Matches("-[0-9a-f]{12}$", aliases["io.x/tool"]);
    }

    [Theory]
    [InlineData("trigger-long-running-operation")]
    [InlineData("a.tool/with:odd chars")]
    [InlineData("an_extremely_long_tool_name_that_goes_on_and_on_beyond_what_any_host_accepts_at_all")]
    public void Every_exposed_name_fits_what_hosts_accept_and_distinct_tools_stay_distinct(string tool)
    {
        var alias = ServerAliases.Alias("io.github.modelcontextprotocol/server-everything");
        var exposed = ServerAliases.Exposed(alias, tool);
        Assert.Matches(HostName(), exposed);
        Assert.StartsWith(alias + "__", exposed, StringComparison.Ordinal);
        Assert.NotEqual(exposed, ServerAliases.Exposed(alias, tool + "x"));
    }
}
