using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Core.Validation;

public sealed record ValidationOptions
{
    public static ValidationOptions Default { get; } = new();

    /// <summary>
    /// Apply the Kiro subset's rules to every entry whatever the document's shape (a document read as
    /// <see cref="RegistryShape.KiroFile"/> always gets them).
    /// </summary>
    public bool Kiro { get; init; }
}

/// <summary>The semantic rules of the official registry, and the Kiro subset's stricter rules for Kiro files.</summary>
public static class RegistryValidator
{
    public const int MaxStatusMessageLength = 500;

    /// <summary>Every problem in the document: each entry's rules, then the rules across entries. Never throws on content.</summary>
    public static IReadOnlyList<Problem> Validate(RegistryDocument document, ValidationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(document);
        options ??= ValidationOptions.Default;
        var kiro = options.Kiro || document.Shape == RegistryShape.KiroFile;
        var problems = new List<Problem>();
        foreach (var entry in document.Entries)
        {
            OfficialRules.Validate(entry.Server, entry.Path, kiro, problems);
            ValidateOfficialMeta(entry, problems);
        }

        if (kiro)
        {
            UniqueKiroNames(document, problems);
        }
        else
        {
            UniqueVersions(document, problems);
        }

        UniqueRemoteUrls(document, problems);
        return problems;
    }

    /// <summary>The rules for one server.json whose fields sit under <paramref name="path"/> (empty for a lone document).</summary>
    public static IReadOnlyList<Problem> ValidateServer(ServerDetail server, string path = "", ValidationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(path);
        var problems = new List<Problem>();
        OfficialRules.Validate(server, path, (options ?? ValidationOptions.Default).Kiro, problems);
        return problems;
    }

    private static void ValidateOfficialMeta(RegistryEntry entry, List<Problem> problems)
    {
        if (entry.Official is not { } official)
        {
            return;
        }

        var item = entry.Path.EndsWith(".server", StringComparison.Ordinal) ? entry.Path[..^".server".Length] : entry.Path;
        var at = JsonPath.Field(JsonPath.Field(item, "_meta"), MetaKeys.Official);
        if (official.Status is { } status && !ServerStatuses.All.Contains(status, StringComparer.Ordinal))
        {
            problems.Add(Problem.Error(JsonPath.Field(at, "status"), "status.invalid", $"the status \"{status}\" of {entry.Server.Name} {entry.Server.Version} is not a registry status",
                "use \"active\", \"deprecated\" or \"deleted\""));
        }

        if (official.StatusMessage is { } message && Text.Length(message) > MaxStatusMessageLength)
        {
            problems.Add(Problem.Error(JsonPath.Field(at, "statusMessage"), "status.message-too-long",
                $"the statusMessage \"{Text.Clip(message)}\" is {Text.Length(message)} characters long; the limit is {MaxStatusMessageLength}",
                "shorten the status message to 500 characters and link to details"));
        }
    }

    private static void UniqueVersions(RegistryDocument document, List<Problem> problems)
    {
        var seen = new Dictionary<(string Name, string Version), string>();
        foreach (var entry in document.Entries)
        {
            var server = entry.Server;
            if (server.Name.Length == 0 || server.Version.Length == 0)
            {
                continue;
            }

            if (!seen.TryAdd((server.Name, server.Version), entry.Path))
            {
                var first = seen[(server.Name, server.Version)];
                problems.Add(Problem.Error(JsonPath.Field(entry.Path, "version"), "document.duplicate-version",
                    $"version {server.Version} of {server.Name} appears twice (first at {Describe(first)})",
                    "a published version is immutable: give this one a new version number, or remove the duplicate"));
            }
        }
    }

    private static void UniqueKiroNames(RegistryDocument document, List<Problem> problems)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in document.Entries)
        {
            var name = entry.Server.Name;
            if (name.Length == 0)
            {
                continue;
            }

            if (!seen.TryAdd(name, entry.Path))
            {
                problems.Add(Problem.Error(JsonPath.Field(entry.Path, "name"), "kiro.name-duplicate",
                    $"the server name \"{name}\" is used twice (first at {Describe(seen[name])}); names must be unique within a Kiro registry file",
                    "keep one entry per name: Kiro lists a single version of each server"));
            }
        }
    }

    private static void UniqueRemoteUrls(RegistryDocument document, List<Problem> problems)
    {
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in document.Entries)
        {
            var remotes = entry.Server.Remotes;
            if (remotes is null)
            {
                continue;
            }

            for (var i = 0; i < remotes.Count; i++)
            {
                var url = remotes[i].Url;
                if (url.Length == 0)
                {
                    continue;
                }

                if (!owners.TryAdd(url, entry.Server.Name) && !string.Equals(owners[url], entry.Server.Name, StringComparison.Ordinal))
                {
                    problems.Add(Problem.Warning(JsonPath.Field(JsonPath.Index(JsonPath.Field(entry.Path, "remotes"), i), "url"), "remote.url-duplicate",
                        $"the remote url \"{url}\" is already used by server {owners[url]}",
                        "each remote endpoint belongs to one server; the official registry refuses a second server with the same URL"));
                }
            }
        }
    }

    private static string Describe(string path) => path.Length == 0 ? "the document root" : path;
}
