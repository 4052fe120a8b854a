using System.Globalization;

namespace Steward.Core.Json;

/// <summary>Builds the JSON paths that problems are reported at: <c>servers[3].server.packages[0].identifier</c>.</summary>
public static class JsonPath
{
    public static string Field(string parent, string name)
    {
        if (IsPlainIdentifier(name))
        {
            return parent.Length == 0 ? name : parent + "." + name;
        }

        return parent + "[\"" + name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"]";
    }

    public static string Index(string parent, int index) => parent + "[" + index.ToString(CultureInfo.InvariantCulture) + "]";

    private static bool IsPlainIdentifier(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_' || c == '$'))
            {
                return false;
            }
        }

        return !char.IsAsciiDigit(name[0]);
    }
}
