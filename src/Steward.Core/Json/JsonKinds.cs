using System.Text.Json;

namespace Steward.Core.Json;

/// <summary>What kind of JSON value a problem found where it expected another: <c>a string</c>, <c>a number</c>, <c>null</c>, …</summary>
public static class JsonKinds
{
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
