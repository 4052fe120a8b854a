using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Registry;
using Steward.Core.Tests.Launch;

namespace Steward.Core.Tests.Admission;

/// <summary>
/// Remote URL templates the validator would refuse, given to admission directly: a variable never chooses the scheme nor
/// makes a plain http host loopback, and loopback http written out is the policy's choice (<c>allowLoopbackHttp</c>).
/// </summary>
public class RemoteTemplateAdmissionTests
{
    private static ServerDetail Remote(string name, string url, string variables) => Examples.Read(
        $$$"""{"name":"{{{name}}}","description":"d","version":"1.0.0","remotes":[{"type":"streamable-http","url":"{{{url}}}","variables":{{{{variables}}}}}]}""");

    private static AdmissionPlanner Planner(bool allowLoopbackHttp, params ServerDetail[] servers) =>
        new(new AdmissionPolicy { Registry = [.. servers.Select(s => new RegistryEntry(s, ""))], AllowLoopbackHttp = allowLoopbackHttp }, LocalFacts.Unknown);

    private static McpServerConfig Url(string url) => new() { Url = url };

    [Theory]
    [InlineData("{scheme}://127.0.0.1:3000/mcp", "\"scheme\":{\"value\":\"http\"}")]
    [InlineData("{scheme}://127.0.0.1:3000/mcp", "\"scheme\":{\"default\":\"http\"}")]
    [InlineData("http{s}://127.0.0.1:3000/mcp", "\"s\":{}")]
    [InlineData("http://{host}:3000/mcp", "\"host\":{}")]
    [InlineData("http://127.0.0.{last}:3000/mcp", "\"last\":{}")]
    public void A_template_whose_variables_choose_the_scheme_or_a_plain_http_host_admits_nothing_even_with_loopback_http_allowed(string template, string variables)
    {
        var answer = Planner(allowLoopbackHttp: true, Remote("io.github.acme/dev", template, variables)).Decide("io.github.acme/dev", Url("http://127.0.0.1:3000/mcp"));

        Assert.False(answer.Admitted);
        Assert.Equal(AdmissionReasons.UrlMismatch, answer.Refusal!.ReasonCode);
    }

    [Fact]
    public void Loopback_http_written_out_in_a_template_runs_only_when_the_policy_allows_loopback_http()
    {
        var dev = Remote("io.github.acme/dev", "http://127.0.0.1:3000/mcp/{tenant}", "\"tenant\":{}");

        var refused = Planner(allowLoopbackHttp: false, dev).Decide("dev", Url("http://127.0.0.1:3000/mcp/acme"));
        var allowed = Planner(allowLoopbackHttp: true, dev).Decide("dev", Url("http://127.0.0.1:3000/mcp/acme"));

        Assert.Equal(GatewayReasons.PlainHttp, refused.Refusal!.ReasonCode);
        Assert.Equal("\"dev\" uses plain http; your organisation's policy does not allow http even to this machine", refused.Refusal.Message);
        Assert.Equal("http://127.0.0.1:3000/mcp/acme", allowed.Run!.Remote!.Url);
    }

    [Fact]
    public void An_https_template_with_a_variable_host_is_judged_on_its_scheme_and_admits_a_url_that_fills_it()
    {
        var answer = Planner(allowLoopbackHttp: false, Remote("io.github.acme/tenant", "https://{host}/mcp", "\"host\":{}")).Decide("tenant", Url("https://mcp.acme.example/mcp"));

        Assert.True(answer.Admitted);
    }
}
