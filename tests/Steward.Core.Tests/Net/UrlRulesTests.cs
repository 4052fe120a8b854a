using Steward.Core.Net;
using Verdict = Steward.Core.Net.UrlRules.TemplateVerdict;

namespace Steward.Core.Tests.Net;

public class UrlRulesTests
{
    [Theory]
    [InlineData("https://registry.example.com/v0.1/servers")]
    [InlineData("https://127.0.0.1:8443/")]
    [InlineData("https://10.0.0.1/")]
    [InlineData("HTTPS://Example.COM/")]
    public void Https_is_allowed_to_any_host_whether_or_not_loopback_http_is(string url)
    {
        Assert.True(UrlRules.Allows(new Uri(url), allowLoopbackHttp: false));
        Assert.True(UrlRules.Allows(new Uri(url), allowLoopbackHttp: true));
    }

    [Theory]
    [InlineData("http://localhost:5480/")]
    [InlineData("http://LOCALHOST/")]
    [InlineData("http://127.0.0.1:8080/mcp")]
    [InlineData("http://127.0.0.2/")]
    [InlineData("http://127.255.255.254/")]
    [InlineData("http://127.1/")]
    [InlineData("http://[::1]:3000/")]
    [InlineData("http://[0:0:0:0:0:0:0:1]/")]
    [InlineData("http://[::ffff:127.0.0.1]/")]
    public void Plain_http_to_a_loopback_host_is_allowed_only_when_the_caller_allows_it(string url)
    {
        Assert.True(UrlRules.IsLoopback(new Uri(url)));
        Assert.True(UrlRules.Allows(new Uri(url), allowLoopbackHttp: true));
        Assert.False(UrlRules.Allows(new Uri(url), allowLoopbackHttp: false));
    }

    [Theory]
    [InlineData("http://example.com/")]
    [InlineData("http://10.0.0.1/")]
    [InlineData("http://192.168.1.10:5480/")]
    [InlineData("http://0.0.0.0:8080/")]
    [InlineData("http://[::]/")]
    [InlineData("http://localhost./")]
    [InlineData("http://app.localhost/")]
    [InlineData("http://localhost.example.com/")]
    [InlineData("http://127.0.0.1.nip.io/")]
    [InlineData("http://[64:ff9b::7f00:1]/")]
    [InlineData("http://[2002:7f00:1::]/")]
    public void Plain_http_to_any_other_host_is_refused_even_when_loopback_http_is_allowed(string url)
    {
        Assert.False(UrlRules.IsLoopback(new Uri(url)));
        Assert.False(UrlRules.Allows(new Uri(url), allowLoopbackHttp: true));
    }

    [Theory]
    [InlineData("ftp://localhost/file")]
    [InlineData("ws://127.0.0.1/")]
    [InlineData("file:///etc/passwd")]
    public void A_scheme_other_than_http_or_https_is_refused(string url) =>
        Assert.False(UrlRules.Allows(new Uri(url), allowLoopbackHttp: true));

    [Fact]
    public void A_relative_url_is_refused_rather_than_thrown_on()
    {
        var relative = new Uri("/mcp", UriKind.Relative);

        Assert.False(UrlRules.Allows(relative, allowLoopbackHttp: true));
        Assert.False(UrlRules.IsLoopback(relative));
        Assert.False(UrlRules.PointsAtThisMachine(relative));
    }

    [Theory]
    [InlineData("localhost", true)]
    [InlineData("LocalHost", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.9.9.9", true)]
    [InlineData("::1", true)]
    [InlineData("[::1]", true)]
    [InlineData("[::ffff:127.0.0.1]", true)]
    [InlineData("localhost.", false)]
    [InlineData("evil.localhost", false)]
    [InlineData("attacker.example", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("[]", false)]
    [InlineData("", false)]
    public void A_bare_host_is_loopback_when_it_is_localhost_or_a_loopback_address(string host, bool loopback) =>
        Assert.Equal(loopback, UrlRules.IsLoopbackHost(host));

    [Theory]
    [InlineData("https://localhost/mcp", true)]
    [InlineData("https://127.0.0.2/mcp", true)]
    [InlineData("https://[::1]:8443/mcp", true)]
    [InlineData("https://[::ffff:127.0.0.1]/mcp", true)]
    [InlineData("https://localhost./mcp", true)]
    [InlineData("https://app.localhost/mcp", true)]
    [InlineData("https://APP.LOCALHOST./mcp", true)]
    [InlineData("https://localhost.example.com/mcp", false)]
    [InlineData("https://mcp.example.com/mcp", false)]
    public void Pointing_at_this_machine_takes_names_under_localhost_too_since_it_is_used_to_refuse(string url, bool local) =>
        Assert.Equal(local, UrlRules.PointsAtThisMachine(new Uri(url)));

    [Theory]
    [InlineData("{scheme}://127.0.0.1:{port}/mcp")]
    [InlineData("{protocol}://mcp.example.com/mcp")]
    [InlineData("http{s}://mcp.example.com/mcp")]
    [InlineData("{baseUrl}/mcp")]
    [InlineData("{baseUrl}")]
    public void A_template_whose_scheme_is_a_variable_is_refused_even_when_loopback_http_is_allowed(string template)
    {
        Assert.Equal(Verdict.SchemeVariable, UrlRules.JudgeTemplate(template, allowLoopbackHttp: true));
        Assert.Equal(Verdict.SchemeVariable, UrlRules.JudgeTemplate(template, allowLoopbackHttp: false));
    }

    [Theory]
    [InlineData("https://{host}/mcp")]
    [InlineData("https://{host}:{port}/mcp")]
    [InlineData("https://{tenant}.mcp.example.com/mcp")]
    [InlineData("https://127.0.0.{n}/mcp")]
    [InlineData("https://mcp.example.com/mcp/{tenant}")]
    public void A_template_with_a_variable_host_is_judged_on_its_scheme_so_https_passes(string template) =>
        Assert.Equal(Verdict.Allowed, UrlRules.JudgeTemplate(template, allowLoopbackHttp: false));

    [Theory]
    [InlineData("http://{host}/mcp")]
    [InlineData("http://{host}:{port}/mcp")]
    [InlineData("http://127.0.0.{n}/mcp")]
    [InlineData("http://127.0.0.1{suffix}/mcp")]
    [InlineData("http://localhost{suffix}/mcp")]
    [InlineData("http://{tenant}.localhost/mcp")]
    [InlineData("http://user@{host}/mcp")]
    [InlineData("http://{a/b}/mcp")]
    public void Plain_http_with_a_variable_in_the_host_is_refused_even_when_loopback_http_is_allowed(string template) =>
        Assert.Equal(Verdict.PlainHttpVariableHost, UrlRules.JudgeTemplate(template, allowLoopbackHttp: true));

    [Theory]
    [InlineData("http://127.0.0.1:{port}/mcp")]
    [InlineData("http://localhost:{port}/{path}")]
    [InlineData("http://[::1]:{port}/mcp")]
    [InlineData("http://{user}@127.0.0.1:3000/mcp")]
    [InlineData("http://127.0.0.1:3000/mcp")]
    public void Plain_http_to_a_loopback_host_written_out_follows_the_loopback_option(string template)
    {
        Assert.Equal(Verdict.Allowed, UrlRules.JudgeTemplate(template, allowLoopbackHttp: true));
        Assert.Equal(Verdict.PlainHttp, UrlRules.JudgeTemplate(template, allowLoopbackHttp: false));
    }

    [Theory]
    [InlineData("http://mcp.example.com/mcp")]
    [InlineData("http://mcp.example.com:{port}/mcp/{tenant}")]
    public void Plain_http_to_another_host_written_out_is_refused(string template) =>
        Assert.Equal(Verdict.PlainHttp, UrlRules.JudgeTemplate(template, allowLoopbackHttp: true));

    [Theory]
    [InlineData("")]
    [InlineData("not a url")]
    [InlineData("wss://{host}/ws")]
    [InlineData("mcp.example.com/{path}")]
    [InlineData("https://")]
    public void A_template_that_is_no_http_url_whatever_its_values_is_not_http(string template) =>
        Assert.Equal(Verdict.NotHttp, UrlRules.JudgeTemplate(template, allowLoopbackHttp: true));
}
