using System.Text.Encodings.Web;
using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Server.Registry;

/// <summary>The JSON the Registry API writes, byte for byte the same for the same data on any instance.</summary>
internal static class RegistryJson
{
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The stored form of a server.json: Core's model written compactly (unknown fields dropped, as the official registry
    /// does), with the server.json's <c>_meta</c> kept but for the registry-owned key (<see cref="KeptMeta"/>).
    /// </summary>
    public static string Canonical(ServerDetail server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var kept = server with { Meta = KeptMeta(server) };
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Compact))
        {
            JsonSerializer.Serialize(writer, kept, CoreJsonContext.Default.ServerDetail);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// The server.json's own <c>_meta</c>, every key kept (the publisher-provided block and marks such as
    /// <c>io.steward/web-tool</c> and <c>io.steward/tool-pins</c> that admission reads) except the registry's own
    /// <c>io.modelcontextprotocol.registry/official</c>, which only the registry writes, beside the server.
    /// </summary>
    private static JsonElement? KeptMeta(ServerDetail server)
    {
        if (server.Meta is not { ValueKind: JsonValueKind.Object } meta)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var any = false;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in meta.EnumerateObject())
            {
                if (property.NameEquals(OfficialKey))
                {
                    continue;
                }

                property.WriteTo(writer);
                any = true;
            }

            writer.WriteEndObject();
        }

        if (!any)
        {
            return null;
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private const string OfficialKey = MetaKeys.Official;

    public static byte[] Item(StoredEntry entry) => ResponseJson.Write(w => WriteItem(w, entry));

    public static byte[] List(IReadOnlyList<StoredEntry> entries, string? nextCursor) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("servers");
        foreach (var entry in entries)
        {
            WriteItem(w, entry);
        }

        w.WriteEndArray();
        w.WriteStartObject("metadata");
        if (nextCursor is not null)
        {
            w.WriteString("nextCursor", nextCursor);
        }

        w.WriteNumber("count", entries.Count);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary><c>{"server": …, "_meta": {"io.modelcontextprotocol.registry/official": {…}}}</c>: <c>_meta</c> is always there.</summary>
    public static void WriteItem(Utf8JsonWriter w, StoredEntry entry)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(entry);
        w.WriteStartObject();
        w.WritePropertyName("server");
        w.WriteRawValue(entry.ServerJson, skipInputValidation: true);
        w.WriteStartObject("_meta");
        w.WriteStartObject(MetaKeys.Official);
        w.WriteString("status", entry.Status);
        if (entry.StatusMessage is not null)
        {
            w.WriteString("statusMessage", entry.StatusMessage);
        }

        w.WriteString("statusChangedAt", entry.StatusChangedAt);
        w.WriteString("publishedAt", entry.PublishedAt);
        w.WriteString("updatedAt", entry.UpdatedAt);
        w.WriteBoolean("isLatest", entry.IsLatest);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>What the audit records of an entry: its bookkeeping and the digest of its server.json (the content stays in the registry).</summary>
    public static string AuditView(StoredEntry entry) => System.Text.Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("name", entry.Name);
        w.WriteString("version", entry.Version);
        w.WriteString("status", entry.Status);
        if (entry.StatusMessage is not null)
        {
            w.WriteString("statusMessage", entry.StatusMessage);
        }

        w.WriteBoolean("isLatest", entry.IsLatest);
        w.WriteString("serverJsonSha256", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(entry.ServerJson))));
        w.WriteEndObject();
    }));
}
