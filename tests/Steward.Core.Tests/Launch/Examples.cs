using System.Text;
using Steward.Core.Registry;

namespace Steward.Core.Tests.Launch;

/// <summary>The official server.json examples and small hand-written entries, read the way production reads them.</summary>
internal static class Examples
{
    public static ServerDetail Official(string numberPrefix)
    {
        var file = Directory.GetFiles(FixturePaths.OfficialExamples, numberPrefix + "-*.json").Single();
        return Read(File.ReadAllText(file));
    }

    public static ServerDetail Read(string json)
    {
        var result = RegistryReader.Read(Encoding.UTF8.GetBytes(json), RegistryShape.ServerJson);
        Assert.True(result.IsReadable, result.Failure?.ToString());
        Assert.Empty(result.Problems);
        return result.Document!.Entries.Single().Server;
    }

    public static IReadOnlyList<ServerDetail> Kiro()
    {
        var result = RegistryReader.Read(File.ReadAllBytes(FixturePaths.Kiro));
        Assert.True(result.IsReadable);
        return [.. result.Document!.Entries.Select(e => e.Server)];
    }

    /// <summary>A server.json with one package given as JSON.</summary>
    public static ServerDetail WithPackage(string packageJson, string name = "io.github.acme/tool", string version = "1.0.0") =>
        Read($$"""{"name":"{{name}}","description":"d","version":"{{version}}","packages":[{{packageJson}}]}""");

    public static Package Package(string packageJson) => WithPackage(packageJson).Packages![0];
}
