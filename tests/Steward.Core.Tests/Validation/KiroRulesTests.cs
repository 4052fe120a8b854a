using Steward.Core.Registry;

namespace Steward.Core.Tests.Validation;

/// <summary>The Kiro registry file's subset, validated with the Kiro shape.</summary>
public class KiroRulesTests
{
    private const string Remote = "\"remotes\":[{\"type\":\"streamable-http\",\"url\":\"https://acme.com/my-server\"}]";
    private const string Stdio = "\"registryType\":\"npm\",\"identifier\":\"@acme/my-server\",\"transport\":{\"type\":\"stdio\"}";

    private static string Server(string fields, string name = "my-server", string version = "1.0.0", string description = "My server description") =>
        "{\"server\":" + Check.ServerJson(fields, name, version, description, schema: false) + "}";

    private static IReadOnlyList<Steward.Core.Validation.Problem> File(params string[] servers) =>
        Check.Document("{\"servers\":[" + string.Join(",", servers) + "]}", RegistryShape.KiroFile);

    private static IReadOnlyList<Steward.Core.Validation.Problem> Package(string packageFields) => File(Server("\"packages\":[{" + packageFields + "}]"));

    [Fact]
    public void A_remote_server_and_a_local_server_of_the_documented_form_are_clean()
    {
        File(Server(Remote + ",\"title\":\"My server\""),
             Server("\"packages\":[{" + Stdio + ",\"registryBaseUrl\":\"https://npm.acme.com\",\"runtimeArguments\":[{\"type\":\"positional\",\"value\":\"-q\"}],\"environmentVariables\":[{\"name\":\"ENV_VAR\",\"value\":\"v\"}]}]", name: "my-local-server"))
            .IsClean();
    }

    [Theory]
    [InlineData("io.github.user/weather")]
    [InlineData("my server")]
    [InlineData("wëather")]
    public void A_name_outside_the_kiro_pattern_is_refused_instead_of_the_official_name_rules(string name)
    {
        var problems = File(Server(Remote, name: name));

        problems.HasError("kiro.name-pattern", "servers[0].server.name");
        problems.Lacks("name.pattern");
        problems.Lacks("name.missing-slash");
        problems.Lacks("name.multiple-slashes");
    }

    [Fact]
    public void A_flat_name_is_accepted_where_the_official_rules_would_want_a_slash()
    {
        File(Server(Remote, name: "weather_mcp.v2-beta")).IsClean();
    }

    [Fact]
    public void A_name_shorter_than_3_or_longer_than_200_characters_is_refused()
    {
        File(Server(Remote, name: "ab")).HasError("kiro.name-length", "servers[0].server.name");
        File(Server(Remote, name: new string('n', 201))).HasError("kiro.name-length", "servers[0].server.name");
    }

    [Fact]
    public void A_name_used_twice_in_a_file_is_refused_at_the_second_occurrence_even_with_another_version()
    {
        var problems = File(Server(Remote, name: "dup-server"), Server("\"packages\":[{" + Stdio + "}]", name: "other"), Server(Remote, name: "dup-server", version: "2.0.0"));

        problems.HasError("kiro.name-duplicate", "servers[2].server.name");
        problems.Lacks("remote.url-duplicate");
    }

    [Theory]
    [InlineData("", "servers[0].server")]
    [InlineData("\"packages\":[{" + Stdio + "}]," + Remote, "servers[0].server")]
    [InlineData("\"packages\":[{" + Stdio + "},{" + Stdio + "}]", "servers[0].server.packages")]
    [InlineData("\"remotes\":[{\"type\":\"sse\",\"url\":\"https://a.example/sse\"},{\"type\":\"sse\",\"url\":\"https://b.example/sse\"}]", "servers[0].server.remotes")]
    public void A_server_needs_exactly_one_package_or_exactly_one_remote(string fields, string path)
    {
        File(Server(fields)).HasError("kiro.one-endpoint", path);
    }

    [Theory]
    [InlineData("nuget")]
    [InlineData("mcpb")]
    [InlineData("cargo")]
    public void Registry_types_other_than_npm_pypi_and_oci_are_refused(string registryType)
    {
        Package($"\"registryType\":\"{registryType}\",\"identifier\":\"x\",\"transport\":{{\"type\":\"stdio\"}}")
            .HasError("kiro.registry-type", "servers[0].server.packages[0].registryType");
    }

    [Fact]
    public void A_package_transport_other_than_stdio_is_refused()
    {
        Package("\"registryType\":\"npm\",\"identifier\":\"x\",\"transport\":{\"type\":\"streamable-http\",\"url\":\"http://localhost:3000/mcp\"}")
            .HasError("kiro.transport-stdio", "servers[0].server.packages[0].transport.type");
    }

    [Theory]
    [InlineData("runtimeArguments", """{"type":"named","name":"--port","value":"8080"}""")]
    [InlineData("packageArguments", """{"type":"positional","valueHint":"target_dir"}""")]
    [InlineData("packageArguments", """{"type":"","value":"start"}""")]
    public void Arguments_other_than_positional_with_a_value_are_refused(string list, string argument)
    {
        var problems = Package(Stdio + $",\"{list}\":[{{\"type\":\"positional\",\"value\":\"ok\"}},{argument}]");

        problems.HasError("kiro.argument-positional-value", $"servers[0].server.packages[0].{list}[1]");
        Assert.Contains("positional arguments with a value only", problems.Single("kiro.argument-positional-value").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_environment_variable_without_a_value_is_refused()
    {
        Package(Stdio + ",\"environmentVariables\":[{\"name\":\"API_KEY\",\"isSecret\":true,\"isRequired\":true}]")
            .HasError("kiro.key-value-value", "servers[0].server.packages[0].environmentVariables[0]");
    }

    [Fact]
    public void A_header_without_a_value_or_with_an_empty_name_is_refused()
    {
        var problems = File(Server("\"remotes\":[{\"type\":\"sse\",\"url\":\"https://acme.com/sse\",\"headers\":[{\"name\":\"Authorization\"},{\"name\":\"\",\"value\":\"v\"}]}]"));

        problems.HasError("kiro.key-value-value", "servers[0].server.remotes[0].headers[0]");
        problems.HasError("kiro.key-value-name", "servers[0].server.remotes[0].headers[1].name");
    }

    [Fact]
    public void Description_and_version_lengths_are_enforced()
    {
        File(Server(Remote, description: new string('d', 101))).HasError("description.length", "servers[0].server.description");
        File(Server(Remote, description: "")).HasError("description.length", "servers[0].server.description");
        File(Server(Remote, version: "1." + new string('9', 254))).HasError("version.length", "servers[0].server.version");
        File(Server(Remote, version: "")).HasError("version.required", "servers[0].server.version");
    }

    [Fact]
    public void Remote_rules_still_apply_in_a_kiro_file()
    {
        File(Server("\"remotes\":[{\"type\":\"streamable-http\",\"url\":\"http://acme.com/mcp\"}]")).HasError("remote.url-not-https", "servers[0].server.remotes[0].url");
    }

    [Theory]
    [InlineData("\"$schema\":\"https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json\"," + Remote, "servers[0].server.$schema")]
    [InlineData("\"_meta\":{\"x\":1}," + Remote, "servers[0].server._meta")]
    [InlineData("\"icons\":[{\"src\":\"https://acme.com/i.png\"}]," + Remote, "servers[0].server.icons")]
    [InlineData("\"repository\":{\"url\":\"https://github.com/a/b\",\"source\":\"github\"}," + Remote, "servers[0].server.repository")]
    [InlineData("\"websiteUrl\":\"https://acme.com\"," + Remote, "servers[0].server.websiteUrl")]
    [InlineData("\"remotes\":[{\"type\":\"sse\",\"url\":\"https://acme.com/sse\",\"variables\":{}}]", "servers[0].server.remotes[0].variables")]
    [InlineData("\"packages\":[{" + Stdio + ",\"version\":\"1.0.0\"}]", "servers[0].server.packages[0].version")]
    [InlineData("\"packages\":[{" + Stdio + ",\"environmentVariables\":[{\"name\":\"A\",\"value\":\"{x}\",\"variables\":{\"x\":{}}}]}]", "servers[0].server.packages[0].environmentVariables[0].variables")]
    public void Fields_kiro_ignores_are_warnings(string fields, string path)
    {
        var problems = File(Server(fields));

        problems.HasWarning("kiro.ignored-field", path);
        problems.HasNoErrors();
    }

    [Fact]
    public void The_official_rules_for_schema_and_names_are_not_applied_to_a_kiro_file()
    {
        var problems = File(Server(Remote));

        problems.Lacks("schema.missing");
        problems.IsClean();
    }
}
