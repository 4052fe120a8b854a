namespace Steward.Core.Tests.Validation;

/// <summary>Packages, their arguments, environment variables and transports.</summary>
public class PackageRulesTests
{
    [Theory]
    [InlineData("npm", "airtable-mcp-server")]
    [InlineData("pypi", "time-mcp-pypi")]
    [InlineData("oci", "docker.io/domdomegg/airtable-mcp-server:1.7.2")]
    [InlineData("nuget", "TimeMcpServer")]
    [InlineData("cargo", "mcp-server-rs")]
    public void Each_supported_registry_type_is_accepted(string registryType, string identifier)
    {
        Check.Package($"\"registryType\":\"{registryType}\",\"identifier\":{Check.Q(identifier)},\"transport\":{{\"type\":\"stdio\"}}").IsClean();
    }

    [Theory]
    [InlineData("maven")]
    [InlineData("gem")]
    [InlineData("docker")]
    [InlineData("github")]
    [InlineData("unknown")]
    [InlineData("NPM")]
    public void An_unsupported_registry_type_is_refused(string registryType)
    {
        var problems = Check.Package($"\"registryType\":\"{registryType}\",\"identifier\":\"x\",\"transport\":{{\"type\":\"stdio\"}}");

        problems.HasError("package.registry-type", "packages[0].registryType");
        Assert.Contains(registryType, problems.Single("package.registry-type").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("test package with spaces")]
    [InlineData("tab\tinside")]
    public void A_package_identifier_with_whitespace_is_refused(string identifier)
    {
        Check.Package($"\"registryType\":\"npm\",\"identifier\":{Check.Q(identifier)},\"transport\":{{\"type\":\"stdio\"}}")
            .HasError("package.identifier-whitespace", "packages[0].identifier");
    }

    [Fact]
    public void In_several_packages_the_invalid_one_is_the_one_reported()
    {
        var problems = Check.Server("\"packages\":[{" + Check.Npm() + "},{\"registryType\":\"pypi\",\"identifier\":\"invalid package\",\"transport\":{\"type\":\"stdio\"}}]");

        problems.HasError("package.identifier-whitespace", "packages[1].identifier");
        Assert.DoesNotContain(problems, p => p.Path.StartsWith("packages[0]", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("FE333E598595000AE021BD27117DB32EC69AF6987F507BA7A63C90638FF633CE")]
    [InlineData("fe333e598595000ae021bd27117db32ec69af6987f507ba7a63c90638ff633c")]
    public void A_file_sha256_that_is_not_64_lowercase_hex_digits_is_refused(string sha)
    {
        Check.Package(Check.Npm("\"fileSha256\":" + Check.Q(sha))).HasError("package.file-sha256", "packages[0].fileSha256");
    }

    [Fact]
    public void An_mcpb_package_without_file_sha256_is_a_warning_and_with_one_is_clean()
    {
        const string Mcpb = "\"registryType\":\"mcpb\",\"identifier\":\"https://github.com/o/r/releases/download/v1/server.mcpb\",\"transport\":{\"type\":\"stdio\"}";

        var without = Check.Package(Mcpb);
        without.HasWarning("package.mcpb-missing-sha256", "packages[0]");
        without.HasNoErrors();
        Check.Package(Mcpb + ",\"fileSha256\":\"fe333e598595000ae021bd27117db32ec69af6987f507ba7a63c90638ff633ce\"").IsClean();
    }

    public static TheoryData<string> ValidNamedArguments() =>
    [
        """{"type":"named","name":"--directory","value":"/path/to/dir"}""",
        """{"type":"named","name":"--port","default":"8080"}""",
        """{"type":"named","name":"-v","value":"true"}""",
        """{"type":"named","name":"-p"}""",
        """{"type":"named","name":"config","value":"/etc/config.json"}""",
        """{"type":"named","name":"verbose","default":"false"}""",
        """{"type":"named","name":"output-format","value":"json"}""",
        """{"type":"named","name":"--port","value":"8080"}""",
        """{"type":"named","name":"--config","default":"/etc/app.conf"}""",
        """{"type":"named","name":"--with-editable","value":"$REPOSITORY_DIRECTORY"}""",
        """{"type":"named","name":"--directory","value":"/absolute/path/to/directory"}""",
        """{"type":"named","name":"--port","value":"use --port for configuration"}""",
    ];

    [Theory]
    [MemberData(nameof(ValidNamedArguments))]
    public void Well_formed_named_arguments_are_accepted(string argument)
    {
        Check.RuntimeArguments(argument).IsClean();
    }

    [Theory]
    [InlineData("""{"type":"positional","valueHint":"target_dir"}""")]
    [InlineData("""{"type":"positional","value":"--port 8080"}""")]
    [InlineData("""{"type":"positional","value":"start","name":"anything with spaces"}""")]
    [InlineData("""{"type":"positional","valueHint":"file","name":"anything<with>brackets"}""")]
    public void Positional_arguments_with_a_value_or_value_hint_are_accepted(string argument)
    {
        Check.RuntimeArguments(argument).IsClean();
    }

    [Theory]
    [InlineData("--directory <absolute_path_to_adfin_mcp_folder>")]
    [InlineData("--port 8080")]
    [InlineData("--config $CONFIG_FILE")]
    [InlineData("--file <path>")]
    [InlineData("name with spaces")]
    [InlineData("$HOME")]
    public void A_named_argument_name_holding_a_value_or_placeholder_is_refused(string name)
    {
        var problems = Check.RuntimeArguments("""{"type":"positional","value":"x"}""", "{\"type\":\"named\",\"name\":" + Check.Q(name) + "}");

        problems.HasError("argument.name-invalid", "packages[0].runtimeArguments[1].name");
        Assert.Contains(name, problems.Single("argument.name-invalid").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"named","name":""}""")]
    [InlineData("""{"type":"named","value":"x"}""")]
    public void A_named_argument_without_a_name_is_refused(string argument)
    {
        Check.RuntimeArguments(argument).HasError("argument.name-required", "packages[0].runtimeArguments[0].name");
    }

    [Theory]
    [InlineData("--port", "--port 8080")]
    [InlineData("--with-editable", "--with-editable $REPOSITORY_DIRECTORY")]
    public void A_named_argument_value_starting_with_its_name_is_refused(string name, string value)
    {
        Check.RuntimeArguments($"{{\"type\":\"named\",\"name\":{Check.Q(name)},\"value\":{Check.Q(value)}}}")
            .HasError("argument.value-starts-with-name", "packages[0].runtimeArguments[0].value");
    }

    [Theory]
    [InlineData("--config", "--config /etc/app.conf")]
    [InlineData("--with-editable", "--with-editable $REPOSITORY_DIRECTORY")]
    public void A_named_argument_default_starting_with_its_name_is_refused(string name, string value)
    {
        Check.RuntimeArguments($"{{\"type\":\"named\",\"name\":{Check.Q(name)},\"default\":{Check.Q(value)}}}")
            .HasError("argument.default-starts-with-name", "packages[0].runtimeArguments[0].default");
    }

    [Fact]
    public void A_positional_argument_with_neither_value_nor_value_hint_is_refused()
    {
        Check.Package(Check.Npm("\"packageArguments\":[{\"type\":\"positional\",\"value\":\"a\"},{\"type\":\"positional\",\"description\":\"what?\"}]"))
            .HasError("argument.positional-value", "packages[0].packageArguments[1]");
    }

    [Fact]
    public void An_argument_with_an_empty_type_is_a_warning_and_treated_as_positional()
    {
        var valued = Check.RuntimeArguments("""{"type":"","value":"-y"}""");
        valued.HasWarning("argument.type-empty", "packages[0].runtimeArguments[0].type");
        valued.HasNoErrors();

        Check.RuntimeArguments("""{"type":""}""").HasError("argument.positional-value", "packages[0].runtimeArguments[0]");
    }

    [Fact]
    public void An_argument_type_other_than_positional_or_named_is_refused()
    {
        Check.RuntimeArguments("""{"type":"flag","name":"--x"}""").HasError("argument.type", "packages[0].runtimeArguments[0].type");
    }

    [Fact]
    public void An_input_format_outside_the_enum_is_refused_wherever_it_appears()
    {
        var problems = Check.Package(Check.Npm(
            "\"environmentVariables\":[{\"name\":\"PORT\",\"format\":\"integer\"}]," +
            "\"runtimeArguments\":[{\"type\":\"positional\",\"value\":\"{v}\",\"variables\":{\"v\":{\"format\":\"date\"}}}]"));

        problems.HasError("input.format", "packages[0].environmentVariables[0].format");
        problems.HasError("input.format", "packages[0].runtimeArguments[0].variables.v.format");
    }

    [Theory]
    [InlineData("string")]
    [InlineData("number")]
    [InlineData("boolean")]
    [InlineData("filepath")]
    public void Each_input_format_of_the_enum_is_accepted(string format)
    {
        Check.Package(Check.Npm($"\"environmentVariables\":[{{\"name\":\"X\",\"format\":\"{format}\"}}]")).IsClean();
    }

    [Fact]
    public void A_default_or_value_outside_the_choices_is_a_warning()
    {
        var problems = Check.Package(Check.Npm("\"environmentVariables\":[" +
            "{\"name\":\"LEVEL\",\"choices\":[\"debug\",\"info\"],\"default\":\"trace\"}," +
            "{\"name\":\"MODE\",\"choices\":[\"a\",\"b\"],\"value\":\"c\"}," +
            "{\"name\":\"OK\",\"choices\":[\"a\",\"b\"],\"default\":\"a\",\"value\":\"b\"}]"));

        problems.HasWarning("input.choice", "packages[0].environmentVariables[0].default");
        problems.HasWarning("input.choice", "packages[0].environmentVariables[1].value");
        Assert.DoesNotContain(problems, p => p.Path.StartsWith("packages[0].environmentVariables[2]", StringComparison.Ordinal));
        problems.HasNoErrors();
    }

    [Fact]
    public void A_template_variable_used_in_a_value_but_not_declared_is_a_warning()
    {
        var problems = Check.Package(Check.Npm(
            "\"environmentVariables\":[{\"name\":\"TOKEN\",\"value\":\"Bearer {api_key}\"}]," +
            "\"runtimeArguments\":[{\"type\":\"named\",\"name\":\"--mount\",\"value\":\"src={source_path},dst={target}\",\"variables\":{\"source_path\":{}}}]"));

        problems.HasWarning("input.undeclared-variable", "packages[0].environmentVariables[0].value");
        var argument = problems.Single(p => p.Path == "packages[0].runtimeArguments[0].value");
        Assert.Equal("input.undeclared-variable", argument.Rule);
        Assert.Contains("{target}", argument.Message, StringComparison.Ordinal);
        problems.HasNoErrors();
    }

    [Fact]
    public void Declared_template_variables_are_accepted()
    {
        Check.RuntimeArguments("""{"type":"named","name":"--mount","value":"type=bind,src={source_path},dst={target_path}","variables":{"source_path":{"format":"filepath"},"target_path":{"default":"/project"}}}""")
            .IsClean();
    }

    [Fact]
    public void An_environment_variable_or_header_with_an_empty_name_is_a_warning()
    {
        var problems = Check.Package(Check.Npm("\"environmentVariables\":[{\"name\":\"\",\"value\":\"x\"}]"));

        problems.HasWarning("key-value.name-empty", "packages[0].environmentVariables[0].name");
        problems.HasNoErrors();
        Check.Remote("\"type\":\"sse\",\"url\":\"https://example.com/sse\",\"headers\":[{\"name\":\"\"}]")
            .HasWarning("key-value.name-empty", "remotes[0].headers[0].name");
    }

    public static TheoryData<string, string> ValidPackageTransports() => new()
    {
        { """{"type":"stdio"}""", "" },
        { """{"type":"streamable-http","url":"https://example.com/mcp"}""", "" },
        { """{"type":"streamable-http","url":"http://{host}:{port}/mcp"}""", "\"environmentVariables\":[{\"name\":\"host\"},{\"name\":\"port\"}]" },
        { """{"type":"sse","url":"https://example.com/events"}""", "" },
        { """{"type":"streamable-http","url":"http://localhost:3000/mcp"}""", "" },
        { """{"type":"streamable-http","url":"http://localhost:{--port}/mcp"}""", "\"packageArguments\":[{\"type\":\"named\",\"name\":\"--port\",\"default\":\"3000\"}]" },
        { """{"type":"sse","url":"http://127.0.0.1:{port_number}/sse"}""", "\"packageArguments\":[{\"type\":\"positional\",\"valueHint\":\"port_number\"}]" },
        { """{"type":"streamable-http","url":"{baseUrl}/mcp"}""", "\"environmentVariables\":[{\"name\":\"baseUrl\"}]" },
    };

    [Theory]
    [MemberData(nameof(ValidPackageTransports))]
    public void Valid_package_transports_are_accepted(string transport, string extra)
    {
        var fields = "\"registryType\":\"npm\",\"identifier\":\"test-package\",\"transport\":" + transport + (extra.Length == 0 ? "" : "," + extra);
        Check.Package(fields).IsClean();
    }

    [Fact]
    public void A_stdio_transport_with_a_url_is_refused()
    {
        Check.Package("\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{\"type\":\"stdio\",\"url\":\"ignored-for-stdio\"}")
            .HasError("transport.url-not-allowed", "packages[0].transport.url");
    }

    [Theory]
    [InlineData("streamable-http")]
    [InlineData("sse")]
    public void An_http_package_transport_without_a_url_is_refused(string type)
    {
        var problems = Check.Package($"\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{{\"type\":\"{type}\"}}");

        problems.HasError("transport.url-required", "packages[0].transport.url");
        Assert.Contains(type, problems.Single("transport.url-required").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_package_transport_url_with_undeclared_variables_is_refused()
    {
        var problems = Check.Package("\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{\"type\":\"streamable-http\",\"url\":\"http://{host}:{port}/mcp\"},\"environmentVariables\":[{\"name\":\"host\"}]");

        var error = problems.Single("transport.url-undeclared-variable");
        Assert.Equal("packages[0].transport.url", error.Path);
        Assert.Contains("{port}", error.Message, StringComparison.Ordinal);
    }

    // The 2025-12-11 schema's transport URL pattern with the draft's leading {variable} (schema_regex_test.go).
    [Theory]
    [InlineData("https://api.example.com/mcp")]
    [InlineData("http://localhost:8080/sse")]
    [InlineData("https://example.com/path?query=value")]
    [InlineData("https://api.example.com/v1/mcp")]
    [InlineData("{baseUrl}")]
    [InlineData("{baseUrl}/mcp")]
    [InlineData("{server_url}/api/v1")]
    [InlineData("{API_ENDPOINT}")]
    [InlineData("{a}")]
    [InlineData("{_private}/endpoint")]
    public void Transport_urls_matching_the_schema_pattern_are_accepted(string url)
    {
        var names = string.Join(",", new[] { "baseUrl", "server_url", "API_ENDPOINT", "a", "_private" }.Select(n => "{\"name\":\"" + n + "\"}"));
        Check.Package($"\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{{\"type\":\"streamable-http\",\"url\":{Check.Q(url)}}},\"environmentVariables\":[{names}]")
            .IsClean();
    }

    [Theory]
    [InlineData("ftp://example.com")]
    [InlineData("example.com")]
    [InlineData("/relative/path")]
    [InlineData("mailto:test@example.com")]
    [InlineData("file:///path/to/file")]
    [InlineData("{}/empty")]
    [InlineData("https://exa mple.com/mcp")]
    public void Transport_urls_outside_the_schema_pattern_are_refused(string url)
    {
        Check.Package($"\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{{\"type\":\"sse\",\"url\":{Check.Q(url)}}}")
            .HasError("transport.url-invalid", "packages[0].transport.url");
    }

    [Theory]
    [InlineData("{invalid-name}/path")]
    [InlineData("{123invalid}")]
    [InlineData("{{nested}}/path")]
    public void A_leading_variable_that_is_not_an_identifier_is_refused_even_when_declared(string url)
    {
        var name = UrlTemplatesName(url);
        Check.Package($"\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{{\"type\":\"sse\",\"url\":{Check.Q(url)}}},\"environmentVariables\":[{{\"name\":{Check.Q(name)}}}]")
            .HasError("transport.url-invalid", "packages[0].transport.url");
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("http")]
    public void An_unsupported_package_transport_type_is_refused(string type)
    {
        Check.Package($"\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{{\"type\":\"{type}\"}}")
            .HasError("transport.type", "packages[0].transport.type");
    }

    [Fact]
    public void Package_transport_headers_are_checked_as_key_value_inputs()
    {
        Check.Package("\"registryType\":\"npm\",\"identifier\":\"p\",\"transport\":{\"type\":\"sse\",\"url\":\"http://localhost:1/sse\",\"headers\":[{\"name\":\"X\",\"format\":\"int\"}]}")
            .HasError("input.format", "packages[0].transport.headers[0].format");
    }

    private static string UrlTemplatesName(string url) => url[1..url.IndexOf('}', StringComparison.Ordinal)];
}
