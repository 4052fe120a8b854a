namespace Steward.Server.Registry;

/// <summary>
/// The part of a registry URL after <c>/servers/</c>: a server name and what follows it. Hosts send the name URL-encoded
/// (<c>io.github.me%2Fweather</c>); Kestrel leaves <c>%2F</c> encoded in the path, so it is decoded here. A raw slash
/// (<c>io.github.me/weather</c>) is accepted too: a server name has exactly one slash, so the first two segments are the
/// name when the first does not already hold one.
/// </summary>
internal sealed record ServerPath(string Name, IReadOnlyList<string> Rest)
{
    public static ServerPath? Parse(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        var segments = path.Split('/');
        string name;
        int next;
        var first = Decode(segments[0]);
        if (first.Contains('/', StringComparison.Ordinal))
        {
            name = first;
            next = 1;
        }
        else if (segments.Length >= 2)
        {
            name = first + "/" + Decode(segments[1]);
            next = 2;
        }
        else
        {
            name = first;
            next = 1;
        }

        return new ServerPath(name, segments[next..].Select(Decode).ToArray());
    }

    /// <summary><c>{name}/versions</c>.</summary>
    public bool IsVersionList => Rest is ["versions"];

    /// <summary><c>{name}/versions/{version}</c>: the version (or <c>latest</c>), else null.</summary>
    public string? Version => Rest is ["versions", { Length: > 0 } version] ? version : null;

    /// <summary><c>{name}/versions/{version}/status</c>: the version, else null.</summary>
    public string? StatusVersion => Rest is ["versions", { Length: > 0 } version, "status"] ? version : null;

    private static string Decode(string segment)
    {
        try
        {
            return Uri.UnescapeDataString(segment);
        }
        catch (UriFormatException)
        {
            return segment;
        }
    }
}
