using System.Text;
using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Registry;
using Steward.Server.Organisations;

namespace Steward.Server.Tests.Governance;

/// <summary>The demo organisation's OCI entries (the GitHub server as the official registry publishes it) launch once, the token by name.</summary>
public class DemoOciLaunchTests
{
    public static TheoryData<string> DemoOciEntries()
    {
        var data = new TheoryData<string>();
        foreach (var json in DemoRegistry.Servers)
        {
            if (Read(json).Packages?.Any(p => p.RegistryType == RegistryTypes.Oci) == true)
            {
                data.Add(Read(json).Name);
            }
        }

        return data;
    }

    private static ServerDetail Read(string json)
    {
        var result = RegistryReader.Read(Encoding.UTF8.GetBytes(json), RegistryShape.ServerJson);
        Assert.True(result.IsReadable, result.Failure?.ToString());
        return result.Document!.Entries.Single().Server;
    }

    [Theory]
    [MemberData(nameof(DemoOciEntries))]
    public void A_demo_oci_entry_runs_docker_once_with_secrets_forwarded_by_name_and_admission_admits_it(string name)
    {
        var server = DemoRegistry.Servers.Select(Read).Single(s => s.Name == name);
        var package = server.Packages!.First(p => p.RegistryType == RegistryTypes.Oci);
        var inputs = LaunchInputs.Empty;
        foreach (var missing in LaunchPlanner.Plan(package, inputs).Problems)
        {
            Assert.Equal(LaunchRules.MissingInput, missing.Rule);
            inputs = missing.Kind == InputKind.Environment ? inputs.WithEnvironment(missing.Key!, "ghp_demo_secret") : inputs.WithVariable(missing.Key!, "ghp_demo_secret");
        }

        var plan = LaunchPlanner.Plan(package, inputs).Plan!;
        Assert.Equal(["run", "-i", "--rm"], plan.Args.Take(3).ToArray());
        Assert.Single(plan.Args, a => a == "run");
        Assert.Single(plan.Args, a => OciCommand.SameImage(a, package.Identifier));
        Assert.DoesNotContain(plan.Args, a => a.Contains("ghp_demo_secret", StringComparison.Ordinal));
        if (name == "io.github.github/github-mcp-server")
        {
            Assert.Equal(["docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server:0.20.2"], plan.Argv.ToArray());
            Assert.Equal("ghp_demo_secret", plan.Environment["GITHUB_PERSONAL_ACCESS_TOKEN"]);
        }

        var config = new McpServerConfig { Command = plan.Command, Args = plan.Args, Env = [.. plan.Environment] };
        Assert.IsType<AdmissionDecision.Allowed>(AdmissionEvaluator.FromServers([server]).Evaluate("github", config));
    }
}
