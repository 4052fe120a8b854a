using System.Collections.Immutable;
using System.Text.Json;

namespace Steward.Core.Config;

/// <summary>
/// A Kiro-style <c>mcp.json</c>: the servers of <c>mcpServers</c> in file order, and any other top-level fields kept
/// as they were read so that writing the file back loses nothing.
/// </summary>
public sealed record McpConfig
{
    public static McpConfig Empty { get; } = new();

    public ImmutableArray<NamedServerConfig> Servers { get; init; } = [];

    /// <summary>Top-level fields other than <c>mcpServers</c>, raw, in file order.</summary>
    public ImmutableArray<KeyValuePair<string, JsonElement>> Unknown { get; init; } = [];

    /// <summary>The order of the top-level field names as read (<c>mcpServers</c> included), used when writing back.</summary>
    public ImmutableArray<string> FieldOrder { get; init; } = [];

    public McpServerConfig? Find(string name)
    {
        foreach (var server in Servers)
        {
            if (server.Name == name)
            {
                return server.Config;
            }
        }

        return null;
    }

    /// <summary>This configuration with <paramref name="name"/> set to <paramref name="config"/>: replaced in place, or added at the end.</summary>
    public McpConfig With(string name, McpServerConfig config)
    {
        for (var i = 0; i < Servers.Length; i++)
        {
            if (Servers[i].Name == name)
            {
                return this with { Servers = Servers.SetItem(i, new NamedServerConfig(name, config)) };
            }
        }

        return this with { Servers = Servers.Add(new NamedServerConfig(name, config)) };
    }

    public McpConfig Without(string name) => this with { Servers = Servers.RemoveAll(s => s.Name == name) };
}

/// <summary>One entry of <c>mcpServers</c>: its key and its configuration.</summary>
public sealed record NamedServerConfig(string Name, McpServerConfig Config);

public static class McpServerTypes
{
    /// <summary>An entry that names a registry server by its key and carries only the user's env, headers and timeout.</summary>
    public const string Registry = "registry";
    public const string Stdio = "stdio";
    public const string Http = "http";
    public const string StreamableHttp = "streamable-http";
    public const string Sse = "sse";

    public static readonly IReadOnlyList<string> All = [Registry, Stdio, Http, StreamableHttp, Sse];
}

/// <summary>
/// One server in <c>mcp.json</c>. Strings are kept exactly as written, <c>${VAR}</c> references included; they are
/// expanded only when the server is launched (<see cref="EnvReferences.Expand"/>). Absent fields stay null.
/// </summary>
public sealed record McpServerConfig
{
    /// <summary><c>type</c>: <c>registry</c>, <c>stdio</c>, <c>http</c>, <c>streamable-http</c>, <c>sse</c>, or absent.</summary>
    public string? Type { get; init; }
    public string? Command { get; init; }
    public ImmutableArray<string>? Args { get; init; }
    /// <summary><c>env</c>, in file order.</summary>
    public ImmutableArray<KeyValuePair<string, string>>? Env { get; init; }
    public string? Url { get; init; }
    /// <summary><c>headers</c>, in file order.</summary>
    public ImmutableArray<KeyValuePair<string, string>>? Headers { get; init; }
    public bool? Disabled { get; init; }
    public ImmutableArray<string>? AutoApprove { get; init; }
    public ImmutableArray<string>? DisabledTools { get; init; }
    /// <summary><c>timeout</c>, in milliseconds.</summary>
    public long? Timeout { get; init; }

    /// <summary>Fields Steward does not model (<c>oauth</c>, client-specific settings), raw, in file order.</summary>
    public ImmutableArray<KeyValuePair<string, JsonElement>> Unknown { get; init; } = [];

    /// <summary>The order of the field names as read, used when writing back; fields added later go after these.</summary>
    public ImmutableArray<string> FieldOrder { get; init; } = [];

    public bool IsRegistry => Type == McpServerTypes.Registry;
    public bool IsDisabled => Disabled == true;
    public bool IsRemote => !IsRegistry && Url is not null;
    public bool IsLocal => !IsRegistry && Command is not null;

    /// <summary>An entry that only says <c>"disabled": true</c>: at a higher scope it disables a server of the same name.</summary>
    public bool IsDisableStub => IsDisabled && Type is null && Command is null && Url is null && Args is null;

    /// <summary><c>command</c> followed by <c>args</c>, unexpanded; empty when there is no command.</summary>
    public ImmutableArray<string> Argv() => Command is null ? [] : [Command, .. Args ?? []];
}
