namespace Steward.Agent.Tests;

public class PathsTests
{
    [Fact]
    public void The_workspace_configuration_is_found_from_a_subdirectory_upwards()
    {
        var root = Directory.CreateTempSubdirectory("steward-ws-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, ".steward"));
            File.WriteAllText(Path.Combine(root, ".steward", "mcp.json"), "{}");
            var deep = Directory.CreateDirectory(Path.Combine(root, "a", "b")).FullName;
            Assert.Equal(Path.Combine(root, ".steward", "mcp.json"), StewardPaths.FindWorkspaceMcpConfig(deep));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
