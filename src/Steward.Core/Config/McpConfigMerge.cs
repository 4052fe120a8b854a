using System.Collections.Immutable;

namespace Steward.Core.Config;

/// <summary>Where an <c>mcp.json</c> sits, lowest precedence first: user (global), workspace, agent configuration.</summary>
public enum ConfigScope
{
    User = 0,
    Workspace = 1,
    Agent = 2,
}

/// <summary>A file an entry came from.</summary>
public sealed record ConfigOrigin(ConfigScope Scope, string Path);

/// <summary>One file to merge: its scope, its path and what it holds.</summary>
public sealed record ScopedConfig(ConfigScope Scope, string Path, McpConfig Config);

/// <summary>
/// A server as the merged configuration defines it: its configuration, the file that decided it, and the files whose
/// entry of the same name it replaced (lowest first).
/// </summary>
public sealed record EffectiveServer(string Name, McpServerConfig Config, ConfigOrigin Origin, ImmutableArray<ConfigOrigin> Replaced)
{
    public bool IsDisabled => Config.IsDisabled;
}

/// <summary>The servers of several <c>mcp.json</c> files merged with Kiro's precedence.</summary>
public sealed record MergedMcpConfig(ImmutableArray<EffectiveServer> Servers)
{
    public EffectiveServer? Find(string name)
    {
        foreach (var server in Servers)
        {
            if (server.Name == name)
            {
                return server;
            }
        }

        return null;
    }
}

/// <summary>
/// Kiro's precedence (agent &gt; workspace &gt; user): for the same name the higher entry replaces the lower one
/// completely (nothing is merged field by field); different names add up. An entry at a higher scope that only says
/// <c>"disabled": true</c> disables the lower entry of that name (its configuration is kept, marked disabled, and the
/// higher file is its origin). Files of the same scope apply in the order given, the later winning. A server keeps the
/// position where its name first appeared (user servers first, then names new at each higher scope).
/// </summary>
public static class McpConfigMerge
{
    public static MergedMcpConfig Merge(IEnumerable<ScopedConfig> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var order = new List<string>();
        var current = new Dictionary<string, EffectiveServer>(StringComparer.Ordinal);
        foreach (var file in files.Select((f, i) => (f, i)).OrderBy(x => x.f.Scope).ThenBy(x => x.i).Select(x => x.f))
        {
            var origin = new ConfigOrigin(file.Scope, file.Path);
            foreach (var (name, config) in file.Config.Servers)
            {
                if (!current.TryGetValue(name, out var lower))
                {
                    order.Add(name);
                    current[name] = new EffectiveServer(name, config, origin, []);
                    continue;
                }

                var replaced = lower.Replaced.Add(lower.Origin);
                current[name] = config.IsDisableStub
                    ? new EffectiveServer(name, lower.Config with { Disabled = true }, origin, replaced)
                    : new EffectiveServer(name, config, origin, replaced);
            }
        }

        return new MergedMcpConfig([.. order.Select(n => current[n])]);
    }
}
