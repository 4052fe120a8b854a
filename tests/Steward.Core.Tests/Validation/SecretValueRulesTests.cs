using System.Text;
using Steward.Core.Json;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Core.Tests.Validation;

/// <summary>A secret's value written in the server.json is published to every reader of a registry: refused, or stripped on request.</summary>
public class SecretValueRulesTests
{
    private const string Remote = "\"type\":\"streamable-http\",\"url\":\"https://mcp.example.com/mcp\"";

    [Theory]
    [InlineData("{\"name\":\"Authorization\",\"isSecret\":true,\"value\":\"Bearer sk-live-1\"}", "remotes[0].headers[0].value")]
    [InlineData("{\"name\":\"X-Key\",\"isSecret\":true,\"default\":\"sk-live-1\"}", "remotes[0].headers[0].default")]
    [InlineData("{\"name\":\"Authorization\",\"value\":\"Bearer {token}\",\"variables\":{\"token\":{\"isSecret\":true,\"default\":\"sk-live-1\"}}}", "remotes[0].headers[0].variables.token.default")]
    public void A_secret_header_with_its_value_is_refused(string header, string path)
    {
        var problems = Check.Remote(Remote + ",\"headers\":[" + header + "]");
        problems.HasError(SecretValues.Rule, path);
        Assert.Contains("{placeholder}", problems.Single(SecretValues.Rule).Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_environment_variable_with_a_default_is_refused()
    {
        Check.Package(Check.Npm("\"environmentVariables\":[{\"name\":\"API_KEY\",\"isSecret\":true,\"default\":\"sk-live-1\"}]"))
            .HasError(SecretValues.Rule, "packages[0].environmentVariables[0].default");
    }

    [Theory]
    [InlineData("{\"name\":\"Authorization\",\"isSecret\":true,\"value\":\"Bearer {token}\",\"variables\":{\"token\":{\"isSecret\":true,\"isRequired\":true}}}")]
    [InlineData("{\"name\":\"X-Key\",\"isSecret\":true,\"isRequired\":true}")]
    [InlineData("{\"name\":\"X-Region\",\"value\":\"eu\"}")]
    public void A_secret_without_its_value_or_a_value_that_is_not_secret_is_accepted(string header)
    {
        Check.Remote(Remote + ",\"headers\":[" + header + "]").Lacks(SecretValues.Rule);
    }

    [Fact]
    public void Strip_removes_every_published_secret_and_keeps_the_rest()
    {
        var json = Check.ServerJson("\"remotes\":[{" + Remote + ",\"headers\":[{\"name\":\"Authorization\",\"isSecret\":true,\"value\":\"Bearer sk-live-1\"},{\"name\":\"X-Region\",\"value\":\"eu\"}]}]," +
            "\"packages\":[{" + Check.Npm("\"environmentVariables\":[{\"name\":\"API_KEY\",\"isSecret\":true,\"default\":\"sk-live-2\"}]") + "}]");
        var server = RegistryLoader.Load(Encoding.UTF8.GetBytes(json)).Document!.Entries[0].Server;
        var stripped = SecretValues.Strip(server);
        Assert.DoesNotContain(RegistryValidator.ValidateServer(stripped), p => p.Rule == SecretValues.Rule);
        Assert.Null(stripped.Remotes![0].Headers![0].Value);
        Assert.Equal("eu", stripped.Remotes[0].Headers![1].Value);
        Assert.Null(stripped.Packages![0].EnvironmentVariables![0].Default);
        Assert.Equal("API_KEY", stripped.Packages[0].EnvironmentVariables![0].Name);
        Assert.Same(stripped, SecretValues.Strip(stripped));
    }

    [Theory]
    [InlineData("{\"a\":[1,{\"b\\ud800\":2}]}", "a[1]")]
    [InlineData("{\"servers\":[{\"name\":\"\\udc00x\"}]}", "servers[0].name")]
    public void A_lone_surrogate_escape_is_reported_at_its_path(string json, string path)
    {
        var failure = StrictJson.Parse(Encoding.UTF8.GetBytes(json)).Failure;
        Assert.NotNull(failure);
        Assert.Equal(path, failure.Path);
        Assert.StartsWith("$." + path + ": ", failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_in_a_string_are_reported_at_its_path()
    {
        byte[] json = [.. "{\"list\":[\"ok\",\""u8, 0xC3, 0x28, .. "\"]}"u8];
        var failure = StrictJson.CheckText(json);
        Assert.NotNull(failure);
        Assert.Equal("list[1]", failure.Path);
        Assert.Contains("not valid UTF-8", failure.Message, StringComparison.Ordinal);
        Assert.Null(StrictJson.CheckText("{\"list\":[\"ok\",\"\\ud83d\\ude00\"]}"u8));
    }
}
