using Steward.Agent.Files;
using Steward.Core.Config;
using Steward.Core.Json;

namespace Steward.Agent.Servers;

/// <summary>One of Steward's own <c>mcp.json</c> files: where it is, its scope, what it holds (empty when it does not exist yet).</summary>
public sealed record ConfigFile(ConfigScope Scope, string Path, McpConfig Config, bool Exists);

/// <summary>Reading and writing Steward's <c>mcp.json</c> files: the user file and the workspace <c>.steward/mcp.json</c>.</summary>
public static class McpConfigFiles
{
    /// <summary>
    /// The file, or a one-line error naming it and its first problem. A file with errors is never written back, so
    /// nothing the developer wrote is lost.
    /// </summary>
    public static (ConfigFile? File, string? Error) Load(ConfigScope scope, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[]? bytes;
        try
        {
            bytes = PrivateFiles.ReadIfExists(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"{path} cannot be read: {e.Message}");
        }

        if (bytes is null)
        {
            return (new ConfigFile(scope, path, McpConfig.Empty, false), null);
        }

        var read = McpConfigReader.Read(bytes, JsonLimits.Default);
        if (read.Failure is { } failure)
        {
            return (null, $"{path}: {failure}; fix the file (nothing was changed)");
        }

        if (!read.IsValid)
        {
            var first = read.Problems.First(p => p.IsError);
            return (null, $"{path}: {first}; fix the file (nothing was changed)");
        }

        return (new ConfigFile(scope, path, read.Config!, true), null);
    }

    /// <summary>Writes the file atomically with mode 0600 (its directory 0700 when Steward creates it).</summary>
    public static void Save(string path, McpConfig config)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(config);
        PrivateFiles.WriteAtomic(path, McpConfigWriter.Write(config));
    }

    /// <summary>The workspace file to write: the one found from <paramref name="workingDirectory"/> upwards, else <c>.steward/mcp.json</c> in it.</summary>
    public static string WorkspacePath(string workingDirectory) =>
        StewardPaths.FindWorkspaceMcpConfig(workingDirectory)
        ?? Path.Combine(workingDirectory, StewardPaths.WorkspaceDirectoryName, "mcp.json");

    public static string PathFor(StewardPaths paths, ConfigScope scope, string workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return scope == ConfigScope.Workspace ? WorkspacePath(workingDirectory) : paths.UserMcpConfig;
    }

    public static string ScopeName(ConfigScope scope) => scope switch
    {
        ConfigScope.User => "user",
        ConfigScope.Workspace => "workspace",
        _ => "agent",
    };
}
