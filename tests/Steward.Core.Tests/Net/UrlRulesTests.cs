using Steward.Core.Net;

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
}
