using System.Text.RegularExpressions;
using Steward.Core.Admission;

namespace Steward.Agent.Gateway;

// Names and URIs: the exposed name of an upstream's tool or prompt, and which upstream an exposed name or a resource URI belongs to.
public sealed partial class Gateway
{
    private string AliasOf(Upstream upstream) => aliases.TryGetValue(upstream.Name, out var alias) ? alias : ServerAliases.Alias(upstream.Name);

    private string Exposed(Upstream upstream, string name)
    {
        if (PerServer)
        {
            return name;
        }

        var alias = AliasOf(upstream);
        var exposed = ServerAliases.Exposed(alias, name);
        if (!exposed.AsSpan(alias.Length + Separator.Length).SequenceEqual(name))
        {
            reshaped[(alias, exposed)] = name;
        }

        return exposed;
    }

    /// <summary>The upstream and its own name for an exposed tool or prompt name: the alias ends at the first <c>__</c>.</summary>
    private (Upstream Upstream, string Name)? Route(string exposed)
    {
        var current = upstreams;
        if (PerServer)
        {
            return current.IsEmpty ? null : (current[0], exposed);
        }

        if (ServerAliases.Split(exposed) is not var (alias, rest))
        {
            return null;
        }

        foreach (var upstream in current)
        {
            if (AliasOf(upstream) == alias)
            {
                return (upstream, reshaped.TryGetValue((alias, exposed), out var original) ? original : rest);
            }
        }

        return null;
    }

    /// <summary>
    /// The upstream serving a resource URI: the one that listed it, else the first whose template matches, else the only
    /// one with resources.
    /// </summary>
    private async ValueTask<Upstream?> RouteUriAsync(string uri, CancellationToken cancellationToken)
    {
        var current = upstreams;
        if (PerServer)
        {
            return current.IsEmpty ? null : current[0];
        }

        if (resourceOwners.TryGetValue(uri, out var owner) && current.Contains(owner))
        {
            return owner;
        }

        foreach (var upstream in current)
        {
            foreach (var resource in await SafeListAsync(upstream, "resources", (u, ct) => u.ResourcesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (resource.Uri == uri)
                {
                    return upstream;
                }
            }
        }

        foreach (var upstream in current)
        {
            foreach (var template in await SafeListAsync(upstream, "resource templates", (u, ct) => u.TemplatesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (template.UriTemplate == uri || TemplateRegex(template.UriTemplate).IsMatch(uri))
                {
                    return upstream;
                }
            }
        }

        var withResources = current.Where(u => u.Capabilities.Resources is not null).ToList();
        return withResources.Count == 1 ? withResources[0] : null;
    }

    private Regex TemplateRegex(string template) => templateRegexes.GetOrAdd(template, t =>
    {
        var pattern = "^" + string.Concat(Regex.Split(t, @"(\{[^}]*\})").Select(part =>
            part.StartsWith('{') && part.EndsWith('}') ? ".*?" : Regex.Escape(part))) + "$";
        return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    });

    private async ValueTask<Upstream?> RouteTemplateAsync(string? uriTemplate, CancellationToken cancellationToken)
    {
        if (uriTemplate is null)
        {
            return null;
        }

        if (PerServer)
        {
            return upstreams.IsEmpty ? null : upstreams[0];
        }

        foreach (var upstream in upstreams)
        {
            foreach (var template in await SafeListAsync(upstream, "resource templates", (u, ct) => u.TemplatesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (template.UriTemplate == uriTemplate)
                {
                    return upstream;
                }
            }
        }

        return await RouteUriAsync(uriTemplate, cancellationToken).ConfigureAwait(false);
    }
}
