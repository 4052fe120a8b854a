using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Steward.Core.Registry;

/// <summary>
/// The names hosts know a registry server by: flat names for hosts whose server names have no slash (Kiro), and the
/// short keys of hosts' server lists, from which hosts build tool names. One rule for the server's exports and for
/// <c>steward mcp export-host</c>, so an entry and the permission rules naming it agree.
/// </summary>
public static partial class HostServerNames
{
    /// <summary>The longest server name Kiro takes.</summary>
    public const int KiroNameLimit = 200;

    /// <summary>
    /// Flat names for hosts whose server names have no slash (Kiro: <c>^[a-zA-Z0-9._-]+$</c>): the slash becomes a dot
    /// (<c>io.github.acme/tool</c> → <c>io.github.acme.tool</c>), any other character outside the pattern a dash. When
    /// two names flatten alike, each of them gets <c>-</c> and the first 6 hex digits of the SHA-256 of its full name,
    /// so the result depends only on the set of names, never on their order.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Flat(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var distinct = names.Distinct(StringComparer.Ordinal).ToList();
        var flat = distinct.ToDictionary(n => n, n => Truncate(NotKiro().Replace(n.Replace('/', '.'), "-"), KiroNameLimit), StringComparer.Ordinal);
        var counts = flat.Values.GroupBy(v => v, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in distinct)
        {
            var value = flat[name];
            if (counts[value] > 1)
            {
                var suffix = "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..6];
                value = Truncate(value, KiroNameLimit - suffix.Length) + suffix;
            }

            result[name] = value;
        }

        return result;
    }

    /// <summary>Last segments that say nothing alone (<c>com.notion/mcp</c>): the namespace's last label goes before them.</summary>
    private static readonly HashSet<string> GenericNames = new(StringComparer.OrdinalIgnoreCase) { "mcp", "server", "mcp-server", "mcpserver" };

    /// <summary>
    /// Server keys for hosts' server lists (Claude Code, Gemini CLI), short because hosts build tool names from them and
    /// cut those at 64 characters (<c>mcp__&lt;key&gt;__&lt;tool&gt;</c>; Gemini warns "Truncating MCP tool name"): the
    /// name's last segment (<c>io.github.modelcontextprotocol/server-everything</c> → <c>server-everything</c>), with the
    /// namespace's last label before a generic one (<c>com.notion/mcp</c> → <c>notion-mcp</c>), characters outside
    /// <c>[a-zA-Z0-9_-]</c> as <c>-</c>. Names whose short form is taken by another keep their <see cref="Flat"/>
    /// form, so the result depends only on the set of names. Permission rules for these hosts use the same keys.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Keys(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var distinct = names.Distinct(StringComparer.Ordinal).ToList();
        var flat = Flat(distinct);
        var shortNames = distinct.ToDictionary(n => n, Short, StringComparer.Ordinal);
        var counts = shortNames.Values.GroupBy(v => v, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);
        return distinct.ToDictionary(n => n, n =>
        {
            var key = shortNames[n];
            var taken = counts[key] > 1 || distinct.Any(other => other != n && string.Equals(flat[other], key, StringComparison.OrdinalIgnoreCase));
            return taken ? flat[n] : key;
        }, StringComparer.Ordinal);

        static string Short(string name)
        {
            var slash = name.LastIndexOf('/');
            var last = slash >= 0 ? name[(slash + 1)..] : name;
            if (slash > 0 && GenericNames.Contains(last))
            {
                var ns = name[..slash];
                last = ns[(ns.LastIndexOf('.') + 1)..] + "-" + last;
            }

            var cleaned = NotToolName().Replace(last, "-");
            return cleaned.Length == 0 ? NotToolName().Replace(name, "-") : Truncate(cleaned, 40);
        }
    }

    private static string Truncate(string text, int limit) => text.Length <= limit ? text : text[..limit];

    [GeneratedRegex("[^a-zA-Z0-9._-]", RegexOptions.CultureInvariant)]
    private static partial Regex NotKiro();

    [GeneratedRegex("[^a-zA-Z0-9_-]", RegexOptions.CultureInvariant)]
    private static partial Regex NotToolName();
}
