using System.Text.Encodings.Web;
using System.Text.Json.Serialization.Metadata;

namespace Steward.Server.Http;

/// <summary>
/// The JSON every endpoint writes: compact, with the relaxed encoder, so the same data gives the same bytes on any
/// instance (ETags and signatures cover them).
/// </summary>
internal static class ResponseJson
{
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The bytes <paramref name="write"/> writes.</summary>
    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, Compact))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// <paramref name="value"/> as its source-generated metadata writes it (<see cref="Hosting.ServerJsonContext"/>), with
    /// the same writer as <see cref="Write"/>: the same bytes as hand-written JSON of the same fields.
    /// </summary>
    public static byte[] Serialize<T>(T value, JsonTypeInfo<T> type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return Write(w => JsonSerializer.Serialize(w, value, type));
    }
}
