using System.Collections.Immutable;
using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Core.Launch;

/// <summary>
/// Turns a server.json remote and the user's inputs into a <see cref="RemotePlan"/>, or into every reason it cannot.
/// </summary>
/// <remarks>
/// URL variables are substituted verbatim (not percent-encoded), from the user's <see cref="LaunchInputs.Variables"/>,
/// else the variable's fixed value, else its default; a required variable with none is reported. A substituted value must
/// be printable ASCII without spaces and without any of <c>/ \ ? # @ % [ ] " &lt; &gt; ^ ` { } |</c>, and must not be
/// <c>.</c> or <c>..</c>: such a value could move the request to another host, path, query or user, so it is refused
/// rather than encoded. A <c>{name}</c> that the remote does not declare stays as written, and is then reported, since a
/// URL with a brace in it cannot be connected to. The result must be an absolute http or https URL.
/// Headers: the entry's (value, else default; required and missing reported), then the user's on top, names compared
/// case-insensitively, the user winning. A header value with CR, LF or NUL, or a name that is not an HTTP token, is
/// refused. Secret: every header the entry marks <c>isSecret</c> and every header the user supplied.
/// </remarks>
public static class RemotePlanner
{
    public static RemoteResult Plan(RemoteTransport remote, LaunchInputs inputs, string path = "")
    {
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentNullException.ThrowIfNull(inputs);
        var resolver = new InputResolver(inputs);
        var variables = resolver.ResolveVariables(remote.Variables, path);
        var url = SubstituteUrl(remote.Url, JsonPath.Field(path, "url"), resolver, name =>
            variables is not null && variables.TryGetValue(name, out var v) ? v.Values[0] : null,
            name => remote.Variables?.ContainsKey(name) == true, InputKind.Variable);
        if (variables is not null && variables.Values.Any(v => v.Values.Length > 1))
        {
            var name = variables.First(v => v.Value.Values.Length > 1).Key;
            resolver.Problems.Add(new InputProblem(LaunchRules.TooManyValues, JsonPath.Field(JsonPath.Field(path, "variables"), name),
                InputKind.Variable, name, $"several values were given for the URL variable {{{name}}}", "give one value"));
        }

        var (headers, secrets) = resolver.ResolveKeyValues(
            remote.Headers, inputs.Headers, path, "headers", InputKind.Header, StringComparer.OrdinalIgnoreCase);
        CheckHeaders(headers, path, resolver);

        // The validator refuses a remote that is plain http or on this machine as written; the values filled in for its
        // variables may not make it so either (a whole-host variable given 127.0.0.1).
        if (url is not null && remote.Url.Contains('{', StringComparison.Ordinal) && Uri.TryCreate(url, UriKind.Absolute, out var resolved) &&
            (!Net.UrlRules.Allows(resolved, allowLoopbackHttp: false) || Net.UrlRules.PointsAtThisMachine(resolved)))
        {
            resolver.Problems.Add(new InputProblem(LaunchRules.RemoteOrigin, JsonPath.Field(path, "url"), InputKind.Variable, null,
                $"the values given make the remote URL {url} {(resolved.Scheme != Uri.UriSchemeHttps ? "plain http" : "point at this machine")}; a remote is reached over https at a host that is not this machine",
                "give values that keep the URL https and away from localhost, or ask your administrator for a package of this server to run locally"));
        }

        if (resolver.Problems.Count > 0 || url is null)
        {
            return new RemoteResult(null, [.. resolver.Problems]);
        }

        return new RemoteResult(new RemotePlan(remote.Type, url, headers, secrets), []);
    }

    /// <summary>True when <paramref name="value"/> may be put into a URL without changing its host, path structure, query or user.</summary>
    public static bool IsSafeUrlValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value is "." or "..")
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c <= ' ' || c >= '\u007f' || "/\\?#@%[]\"<>^`{}|".Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    internal static string? SubstituteUrl(string template, string path, InputResolver resolver, Func<string, string?> lookup,
        Func<string, bool> declared, InputKind declaredKind)
    {
        var unsafeFound = false;
        var url = ValueTemplate.Substitute(template, name =>
        {
            var value = lookup(name);
            if (value is not null && !IsSafeUrlValue(value))
            {
                unsafeFound = true;
                resolver.Problems.Add(new InputProblem(LaunchRules.UnsafeUrlValue, path, InputKind.Variable, name,
                    $"the value for {{{name}}} contains characters that would change the URL's host, path, query or user",
                    "give a value without spaces, control characters or any of / \\ ? # @ % [ ] \" < > ^ ` { } |"));
            }

            return value;
        });
        if (unsafeFound)
        {
            return null;
        }

        var unresolved = ValueTemplate.Names(url);
        foreach (var name in unresolved.Distinct(StringComparer.Ordinal))
        {
            if (resolver.Problems.Any(p => p.Rule == LaunchRules.MissingInput && p.Key == name))
            {
                continue;
            }

            if (declared(name))
            {
                resolver.Missing(path, declaredKind, name, null, $"the URL needs {{{name}}}, which has no value");
            }
            else
            {
                resolver.Problems.Add(new InputProblem(LaunchRules.UnresolvedVariable, path, InputKind.Variable, name,
                    $"the URL refers to {{{name}}}, which nothing defines", "declare the variable in the entry's variables"));
            }
        }

        if (unresolved.Count > 0)
        {
            return null;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            resolver.Problems.Add(new InputProblem(LaunchRules.InvalidUrl, path, InputKind.None, null,
                "the URL is not an absolute http or https URL once its variables are substituted", "check the values given for its variables"));
            return null;
        }

        return url;
    }

    internal static void CheckHeaders(ImmutableDictionary<string, string> headers, string path, InputResolver resolver)
    {
        foreach (var (name, value) in headers)
        {
            if (!IsToken(name))
            {
                resolver.Problems.Add(new InputProblem(LaunchRules.UnsafeHeader, JsonPath.Field(JsonPath.Field(path, "headers"), name),
                    InputKind.Header, name, "the header name is not a valid HTTP header name", "use letters, digits and - only"));
            }
            else if (value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                resolver.Problems.Add(new InputProblem(LaunchRules.UnsafeHeader, JsonPath.Field(JsonPath.Field(path, "headers"), name),
                    InputKind.Header, name, $"the value of the header {name} contains a line break or NUL", "give a value on one line"));
            }
        }
    }

    private static bool IsToken(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The transport types a remote may have.</summary>
    public static bool IsRemoteType(string type) => type is TransportTypes.StreamableHttp or TransportTypes.Sse;
}
