using System.Text;
using System.Text.Json;
using Steward.Agent.Files;

namespace Steward.Agent.Servers;

/// <summary>
/// <c>secrets.json</c>: values the developer typed for secret inputs, by variable name, 0600. <c>mcp.json</c> refers to
/// them as <c>${NAME}</c>; at launch a name is looked up in the process environment first, then here
/// (<see cref="Lookup"/>). Values are never logged or printed.
/// </summary>
public sealed class SecretStore
{
    private readonly string path;
    private readonly Dictionary<string, string> values;

    private SecretStore(string path, Dictionary<string, string> values)
    {
        this.path = path;
        this.values = values;
    }

    public IReadOnlyCollection<string> Names => values.Keys;

    public static SecretStore Load(StewardPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var bytes = PrivateFiles.ReadIfExists(paths.SecretsFile);
        if (bytes is null)
        {
            return new SecretStore(paths.SecretsFile, new Dictionary<string, string>(StringComparer.Ordinal));
        }

        try
        {
            var read = JsonSerializer.Deserialize(bytes, AgentJsonContext.Default.DictionaryStringString);
            return new SecretStore(paths.SecretsFile, new Dictionary<string, string>(read ?? [], StringComparer.Ordinal));
        }
        catch (JsonException)
        {
            throw new InvalidDataException($"{paths.SecretsFile} is not a JSON object of names to values; fix or remove it");
        }
    }

    /// <summary>The secret named <paramref name="name"/>, or null.</summary>
    public string? Get(string name) => values.TryGetValue(name, out var value) ? value : null;

    /// <summary>How a launcher resolves <c>${NAME}</c>: the environment first, then this store.</summary>
    public string? Lookup(string name, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return environment(name) ?? Get(name);
    }

    /// <summary>
    /// How a running gateway resolves <c>${NAME}</c> in a server's configuration: <paramref name="environment"/> first,
    /// then the 0600 secrets file, read again at each launch so that a secret added by <c>steward mcp add</c> is seen at
    /// the next relaunch. A file that cannot be read resolves nothing, and why goes to <paramref name="unreadable"/>.
    /// </summary>
    public static Func<string, string?> LaunchLookup(StewardPaths paths, Func<string, string?> environment, Action<string> unreadable)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(unreadable);
        return name =>
        {
            if (environment(name) is { } value)
            {
                return value;
            }

            try
            {
                return Load(paths).Lookup(name, static _ => null);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                unreadable(e.Message);
                return null;
            }
        };
    }

    public void Set(string name, string value) => values[name] = value;

    public bool Remove(string name) => values.Remove(name);

    /// <summary>Removes every secret whose name starts with <paramref name="prefix"/>; true when any was.</summary>
    public bool RemoveWithPrefix(string prefix)
    {
        var names = values.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        foreach (var name in names)
        {
            values.Remove(name);
        }

        return names.Count > 0;
    }

    public void Save()
    {
        var json = JsonSerializer.Serialize(values, AgentJsonContext.Default.DictionaryStringString);
        PrivateFiles.WriteAtomic(path, Encoding.UTF8.GetBytes(json + "\n"));
    }

    /// <summary>The variable name Steward gives a secret of a server: <c>STEWARD_&lt;SERVER&gt;_&lt;KEY&gt;</c>, upper case, other characters as <c>_</c>.</summary>
    public static string NameFor(string server, string key) => Prefix(server) + Sanitize(key);

    public static string Prefix(string server) => "STEWARD_" + Sanitize(server) + "_";

    private static string Sanitize(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text.TrimStart('-'))
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }

        return builder.ToString();
    }
}
