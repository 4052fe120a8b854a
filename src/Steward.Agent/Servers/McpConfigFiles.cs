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

    /// <summary>
    /// What the gateway runs over: the user's <c>mcp.json</c> and the workspace's nearest <c>.steward/mcp.json</c> above
    /// <paramref name="workingDirectory"/>, merged (the workspace's entries over the user's). A file that cannot be read or
    /// is invalid is an error naming it and every problem, and nothing is merged: the caller keeps what it had.
    /// </summary>
    public static (MergedMcpConfig? Config, string? Error) LoadMerged(StewardPaths paths, string workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<ScopedConfig>();
        foreach (var (scope, path) in new[] { (ConfigScope.User, paths.UserMcpConfig), (ConfigScope.Workspace, StewardPaths.FindWorkspaceMcpConfig(workingDirectory)) })
        {
            byte[]? bytes;
            try
            {
                bytes = path is null ? null : PrivateFiles.ReadIfExists(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return (null, $"{path} cannot be read: {e.Message}");
            }

            if (bytes is null)
            {
                continue;
            }

            var read = McpConfigReader.Read(bytes, JsonLimits.Default);
            if (!read.IsValid || read.Config is null)
            {
                return (null, $"{path} is invalid: " +
                              string.Join("; ", read.Problems.Select(p => p.ToString()).DefaultIfEmpty(read.Failure?.ToString() ?? "unreadable")));
            }

            files.Add(new ScopedConfig(scope, path!, read.Config));
        }

        return (McpConfigMerge.Merge(files), null);
    }

    /// <summary>
    /// The files <see cref="LoadMerged"/> reads, with their bytes (null: absent), so that a watcher can tell whether
    /// anything it would merge changed.
    /// </summary>
    public static string Fingerprint(StewardPaths paths, string workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var text = new System.Text.StringBuilder();
        foreach (var path in new[] { paths.UserMcpConfig, StewardPaths.FindWorkspaceMcpConfig(workingDirectory) })
        {
            text.Append(path).Append('\u001f');
            try
            {
                if (path is not null && PrivateFiles.ReadIfExists(path) is { } bytes)
                {
                    text.Append(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                text.Append("unreadable:").Append(e.Message);
            }

            text.Append('\u001e');
        }

        return text.ToString();
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
