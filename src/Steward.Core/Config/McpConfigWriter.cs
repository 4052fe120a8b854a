using System.Text.Encodings.Web;
using System.Text.Json;

namespace Steward.Core.Config;

/// <summary>
/// Writes an <c>mcp.json</c>: indented, UTF-8 without a byte order mark, strings exactly as held (<c>${VAR}</c>
/// references are never expanded here). Fields keep the order they were read in; fields added since go after them in
/// the order <c>type, command, args, env, url, headers, timeout, disabled, autoApprove, disabledTools</c>; unknown
/// fields are written back as read. Writing the file with owner-only permissions (0600) is the caller's job.
/// </summary>
public static class McpConfigWriter
{
    private const string ServersField = "mcpServers";

    private static readonly string[] DefaultOrder =
        ["type", "command", "args", "env", "url", "headers", "timeout", "disabled", "autoApprove", "disabledTools"];

    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        // A configuration file is not embedded in HTML: keep + < > & ' readable rather than \u-escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static byte[] Write(McpConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Options))
        {
            writer.WriteStartObject();
            var written = new HashSet<string>(StringComparer.Ordinal);
            foreach (var name in config.FieldOrder.Append(ServersField).Concat(config.Unknown.Select(u => u.Key)))
            {
                if (!written.Add(name))
                {
                    continue;
                }

                if (name == ServersField)
                {
                    writer.WritePropertyName(ServersField);
                    WriteServers(writer, config);
                }
                else if (Find(config.Unknown, name) is { } raw)
                {
                    writer.WritePropertyName(name);
                    raw.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private static void WriteServers(Utf8JsonWriter writer, McpConfig config)
    {
        writer.WriteStartObject();
        foreach (var (name, server) in config.Servers)
        {
            writer.WritePropertyName(name);
            WriteServer(writer, server);
        }

        writer.WriteEndObject();
    }

    private static void WriteServer(Utf8JsonWriter writer, McpServerConfig server)
    {
        writer.WriteStartObject();
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in server.FieldOrder.Concat(DefaultOrder).Concat(server.Unknown.Select(u => u.Key)))
        {
            if (!written.Add(name))
            {
                continue;
            }

            switch (name)
            {
                case "type":
                    WriteString(writer, name, server.Type);
                    break;
                case "command":
                    WriteString(writer, name, server.Command);
                    break;
                case "url":
                    WriteString(writer, name, server.Url);
                    break;
                case "args":
                    WriteStrings(writer, name, server.Args);
                    break;
                case "autoApprove":
                    WriteStrings(writer, name, server.AutoApprove);
                    break;
                case "disabledTools":
                    WriteStrings(writer, name, server.DisabledTools);
                    break;
                case "env":
                    WriteMap(writer, name, server.Env);
                    break;
                case "headers":
                    WriteMap(writer, name, server.Headers);
                    break;
                case "timeout":
                    if (server.Timeout is { } timeout)
                    {
                        writer.WriteNumber(name, timeout);
                    }

                    break;
                case "disabled":
                    if (server.Disabled is { } disabled)
                    {
                        writer.WriteBoolean(name, disabled);
                    }

                    break;
                default:
                    if (Find(server.Unknown, name) is { } raw)
                    {
                        writer.WritePropertyName(name);
                        raw.WriteTo(writer);
                    }

                    break;
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteString(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteStrings(Utf8JsonWriter writer, string name, System.Collections.Immutable.ImmutableArray<string>? values)
    {
        if (values is not { } list)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (var value in list)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    private static void WriteMap(Utf8JsonWriter writer, string name, System.Collections.Immutable.ImmutableArray<KeyValuePair<string, string>>? map)
    {
        if (map is not { } pairs)
        {
            return;
        }

        writer.WriteStartObject(name);
        foreach (var (key, value) in pairs)
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
    }

    private static JsonElement? Find(System.Collections.Immutable.ImmutableArray<KeyValuePair<string, JsonElement>> fields, string name)
    {
        foreach (var (key, value) in fields)
        {
            if (key == name)
            {
                return value;
            }
        }

        return null;
    }
}
