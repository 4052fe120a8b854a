using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Core.Tests.Launch;

public class RemotePlannerTests
{
    private static RemoteTransport Remote(string number, int index = 0) => Examples.Official(number).Remotes![index];

    [Fact]
    public void A_url_variable_is_substituted_from_the_users_value()
    {
        var result = RemotePlanner.Plan(Remote("15"), LaunchInputs.Empty.WithVariable("tenant_id", "us-cell1"));
        Assert.True(result.Succeeded);
        Assert.Equal("https://anonymous.modelcontextprotocol.io/mcp/us-cell1", result.Plan!.Url);
        Assert.Equal("streamable-http", result.Plan.Type);
    }

    [Fact]
    public void An_sse_remote_keeps_its_type()
    {
        var result = RemotePlanner.Plan(Remote("16"), LaunchInputs.Empty.WithVariable("tenant_id", "emea-cell1"));
        Assert.Equal("sse", result.Plan!.Type);
        Assert.Equal("https://events.anonymous.modelcontextprotocol.io/sse/emea-cell1", result.Plan.Url);
    }

    [Fact]
    public void A_missing_required_url_variable_is_reported_once_with_its_path()
    {
        var result = RemotePlanner.Plan(Remote("15"), LaunchInputs.Empty);
        var problem = Assert.Single(result.Problems);
        Assert.Equal(LaunchRules.MissingInput, problem.Rule);
        Assert.Equal("variables.tenant_id", problem.Path);
        Assert.Equal((InputKind.Variable, "tenant_id"), (problem.Kind, problem.Key));
    }

    [Theory]
    [InlineData("evil.example/x")]
    [InlineData("a?admin=1")]
    [InlineData("a#frag")]
    [InlineData("user@evil.example")]
    [InlineData("a b")]
    [InlineData("a\r\nHost: evil")]
    [InlineData("..")]
    [InlineData("%2e%2e")]
    [InlineData("a\\b")]
    public void A_url_value_that_could_change_host_path_or_query_is_refused(string value)
    {
        var result = RemotePlanner.Plan(Remote("15"), LaunchInputs.Empty.WithVariable("tenant_id", value));
        Assert.False(result.Succeeded);
        Assert.Equal(LaunchRules.UnsafeUrlValue, Assert.Single(result.Problems).Rule);
    }

    [Theory]
    [InlineData("127.0.0.1", "point at this machine")]
    [InlineData("localhost", "point at this machine")]
    [InlineData("app.localhost", "point at this machine")]
    public void Host_values_that_point_a_remote_at_this_machine_are_refused(string host, string why)
    {
        var remote = Examples.Read("{\"name\":\"io.github.a/b\",\"description\":\"d\",\"version\":\"1.0.0\",\"remotes\":[{\"type\":\"streamable-http\",\"url\":\"https://{host}:{port}/mcp\",\"variables\":{\"host\":{},\"port\":{\"default\":\"8443\"}}}]}").Remotes![0];

        var result = RemotePlanner.Plan(remote, LaunchInputs.Empty.WithVariable("host", host));

        Assert.False(result.Succeeded);
        var problem = Assert.Single(result.Problems);
        Assert.Equal(LaunchRules.RemoteOrigin, problem.Rule);
        Assert.Equal("url", problem.Path);
        Assert.Contains(why, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_host_variable_takes_its_default()
    {
        var remote = Examples.Read("""{"name":"io.github.a/b","description":"d","version":"1.0.0","remotes":[{"type":"streamable-http","url":"https://{host}/mcp","variables":{"host":{"default":"api.example.com"}}}]}""").Remotes![0];
        Assert.Equal("https://api.example.com/mcp", RemotePlanner.Plan(remote, LaunchInputs.Empty).Plan!.Url);
    }

    [Fact]
    public void Headers_come_from_the_entry_with_the_users_on_top_case_insensitively()
    {
        var inputs = LaunchInputs.Empty.WithHeader("x-api-key", "k-123").WithHeader("X-Region", "eu-west-1").WithHeader("X-Trace", "on");
        var result = RemotePlanner.Plan(Remote("11"), inputs);
        Assert.True(result.Succeeded, string.Join("\n", result.Problems));
        var headers = result.Plan!.Headers;
        Assert.Equal("k-123", headers["X-API-Key"]);
        Assert.Equal("eu-west-1", headers["x-region"]);
        Assert.Equal("on", headers["X-Trace"]);
        Assert.Equal(3, headers.Count);
        Assert.Equal("***", result.Plan.RedactedHeaders()["X-API-Key"]);
    }

    [Fact]
    public void A_required_header_is_reported_and_a_default_header_is_sent()
    {
        var missing = RemotePlanner.Plan(Remote("11"), LaunchInputs.Empty);
        var problem = Assert.Single(missing.Problems);
        Assert.Equal((InputKind.Header, "X-API-Key", "headers[0]"), (problem.Kind, problem.Key, problem.Path));

        var ok = RemotePlanner.Plan(Remote("11"), LaunchInputs.Empty.WithHeader("X-API-Key", "k"));
        Assert.Equal("us-east-1", ok.Plan!.Headers["X-Region"]);
    }

    [Theory]
    [InlineData("v\r\nX-Injected: 1")]
    [InlineData("v\nX-Injected: 1")]
    [InlineData("v\0")]
    public void A_header_value_with_a_line_break_is_refused(string value)
    {
        var result = RemotePlanner.Plan(Remote("06"), LaunchInputs.Empty.WithHeader("Authorization", value));
        Assert.Equal(LaunchRules.UnsafeHeader, Assert.Single(result.Problems).Rule);
    }

    [Fact]
    public void A_header_name_that_is_not_a_token_is_refused()
    {
        var result = RemotePlanner.Plan(Remote("06"), LaunchInputs.Empty.WithHeader("Bad Header:", "v"));
        Assert.Equal(LaunchRules.UnsafeHeader, Assert.Single(result.Problems).Rule);
    }

    [Fact]
    public void A_kiro_remote_sends_its_fixed_header()
    {
        var remote = Examples.Kiro().Single(s => s.Name == "my-remote-server").Remotes![0];
        var plan = RemotePlanner.Plan(remote, LaunchInputs.Empty).Plan!;
        Assert.Equal("https://acme.com/my-server", plan.Url);
        Assert.Equal("SomeValue", plan.Headers["X-My-Header"]);
        Assert.DoesNotContain("X-My-Header", plan.SecretHeaderNames);
    }

    [Fact]
    public void An_empty_value_for_a_required_variable_counts_as_missing()
    {
        var result = RemotePlanner.Plan(Remote("15"), LaunchInputs.Empty.WithVariable("tenant_id", ""));
        Assert.Equal(LaunchRules.MissingInput, Assert.Single(result.Problems).Rule);
    }
}
