using System.Buffers;
using System.Text.Json;

namespace Steward.Agent.Audit;

/// <summary>
/// What the audit records of a tool call's arguments when the policy enables argument values: the values as received,
/// except those under a name that looks like a secret, at any depth, which become <c>"[redacted]"</c>.
/// </summary>
/// <remarks>
/// A name looks like a secret when, lowercased with everything but letters and digits removed (<c>api_key</c>,
/// <c>api-key</c> and <c>apiKey</c> are all <c>apikey</c>), it contains <c>password</c>, <c>passwd</c>,
/// <c>passphrase</c>, <c>secret</c>, <c>credential</c>, <c>authorization</c> or <c>cookie</c>, or ends with
/// <c>token</c>, <c>key</c>, <c>auth</c> or <c>pwd</c>. The rule errs towards redacting (a lookup <c>key</c> is
/// redacted too); a secret passed under any other name is recorded as it is.
/// </remarks>
public static class ArgumentRedaction
{
    public const string Redacted = "[redacted]";

    private static readonly string[] Contains = ["password", "passwd", "passphrase", "secret", "credential", "authorization", "cookie"];

    private static readonly string[] EndsWith = ["token", "key", "auth", "pwd"];

    private static readonly JsonElement RedactedValue = JsonElement.Parse("\"" + Redacted + "\"");

    /// <summary>Whether an argument (or nested property) of this name has its value redacted.</summary>
    public static bool IsSecretName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        Span<char> buffer = name.Length <= 256 ? stackalloc char[name.Length] : new char[name.Length];
        var length = 0;
        foreach (var c in name)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                buffer[length++] = char.ToLowerInvariant(c);
            }
        }

        ReadOnlySpan<char> normalised = buffer[..length];
        foreach (var word in Contains)
        {
            if (normalised.Contains(word, StringComparison.Ordinal))
            {
                return true;
            }
        }

        foreach (var word in EndsWith)
        {
            if (normalised.EndsWith(word, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The arguments to record: the same dictionary when nothing needs redacting, else a copy with secret-named values replaced.</summary>
    public static IDictionary<string, JsonElement>? Redact(IDictionary<string, JsonElement>? arguments)
    {
        if (arguments is null || !arguments.Any(a => IsSecretName(a.Key) || HasSecret(a.Value)))
        {
            return arguments;
        }

        var redacted = new Dictionary<string, JsonElement>(arguments.Count, StringComparer.Ordinal);
        foreach (var (name, value) in arguments)
        {
            redacted[name] = IsSecretName(name) ? RedactedValue : HasSecret(value) ? Rewrite(value) : value;
        }

        return redacted;
    }

    private static bool HasSecret(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => value.EnumerateObject().Any(p => IsSecretName(p.Name) || HasSecret(p.Value)),
        JsonValueKind.Array => value.EnumerateArray().Any(HasSecret),
        _ => false,
    };

    private static JsonElement Rewrite(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, value);
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }

    private static void Write(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in value.EnumerateObject())
                {
                    writer.WritePropertyName(property.Name);
                    if (IsSecretName(property.Name))
                    {
                        writer.WriteStringValue(Redacted);
                    }
                    else
                    {
                        Write(writer, property.Value);
                    }
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }
}
