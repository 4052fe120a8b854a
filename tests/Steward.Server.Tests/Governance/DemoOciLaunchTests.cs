using Steward.Core.Admission;
using Steward.Core.Config;
using Steward.Core.Launch;
using Steward.Core.Registry;

namespace Steward.Server.Tests.Governance;

/// <summary>
/// The OCI entries of the registry examples (the GitHub server as the official registry publishes it), imported into the
/// demo organisation by its admin, launch once, the token by name.
/// </summary>
public class DemoOciLaunchTests
{
    public static TheoryData<string> ExampleOciEntries()
    {
        var data = new TheoryData<string>();
        var read = RegistryReader.Read(File.ReadAllBytes(RegistryExamples.File), RegistryShape.ServerJsonArray);
        Assert.True(read.IsReadable, read.Failure?.ToString());
        foreach (var server in read.Document!.Entries.Select(e => e.Server))
        {
            if (server.Packages?.Any(p => p.RegistryType == RegistryTypes.Oci) == true)
            {
                data.Add(server.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ExampleOciEntries))]
    public async Task An_imported_oci_example_runs_docker_once_with_secrets_forwarded_by_name_and_admission_admits_it(string name)
    {
        await using var steward = await TestServer.StartAsync();
        using (var admin = steward.Client(TestServer.AdminToken))
        {
            await RegistryExamples.ImportAsync(admin);
        }

        // The entry as the demo organisation's registry serves it to hosts.
        using var anonymous = steward.Client();
        var loaded = RegistryLoader.Load(await anonymous.GetByteArrayAsync("/o/demo/registry/v0.1/servers?limit=100"));
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Problems));
        var server = loaded.Document!.Entries.Select(e => e.Server).Single(s => s.Name == name);
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
        if (name == RegistryExamples.GitHub)
        {
            Assert.Equal(["docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server:0.20.2"], plan.Argv.ToArray());
            Assert.Equal("ghp_demo_secret", plan.Environment["GITHUB_PERSONAL_ACCESS_TOKEN"]);
        }

        var config = new McpServerConfig { Command = plan.Command, Args = plan.Args, Env = [.. plan.Environment] };
        Assert.IsType<AdmissionDecision.Allowed>(AdmissionEvaluator.FromServers([server]).Evaluate("github", config));
    }
}
