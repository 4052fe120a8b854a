using Steward.Agent.Sync;
using Steward.Core.Registry;

namespace Steward.Agent.Sources;

/// <summary>What <c>steward login</c> was asked: a Steward server URL, or a registry URL or path (exactly one).</summary>
public sealed record LoginRequest(string? ServerUrl, string? Registry, string? Token, bool AllowHttp, TimeSpan MaxOfflineAge, string WorkingDirectory);

/// <summary>What <c>steward login</c> did, or why it did nothing (the previous source and cache are then untouched).</summary>
public sealed record LoginResult(
    string? Error,
    string? Kind = null,
    string? Source = null,
    int Servers = 0,
    int Warnings = 0,
    string? Revision = null,
    string? MaxOfflineAge = null,
    string? Note = null)
{
    public bool Succeeded => Error is null;
}

/// <summary>
/// Sets where policy comes from. The source is fetched and its registry verified before anything is saved, so a wrong
/// URL or a malformed registry leaves the previous login in place; on success the source, the token (0600) and the
/// verified policy cache are written.
/// </summary>
public static class Login
{
    public const string InterimServerNote =
        "the Steward server's signed policy bundle is not served yet; until it is, Steward reads the server's Registry API (<url>/v0.1/servers) with your token";

    public static async Task<LoginResult> LoginAsync(StewardPaths paths, LoginRequest request, PolicyFetcher fetcher, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(fetcher);
        ArgumentNullException.ThrowIfNull(time);
        if ((request.ServerUrl is null) == (request.Registry is null))
        {
            return new LoginResult("give either a Steward server URL (`steward login https://steward.example.com`) or --registry <url-or-path>, not both");
        }

        var (source, error) = request.ServerUrl is { } serverUrl
            ? ServerSource(serverUrl, request)
            : await RegistrySourceAsync(request.Registry!, request, fetcher, cancellationToken).ConfigureAwait(false);
        if (source is null)
        {
            return new LoginResult(error);
        }

        if (source.Kind == SourceKind.StewardServer && string.IsNullOrWhiteSpace(request.Token))
        {
            return new LoginResult($"a token is needed for {source.Location}: set STEWARD_TOKEN (or pass --token)");
        }

        var token = source.Kind == SourceKind.StewardServer ? request.Token!.Trim() : null;
        var fetched = await fetcher.FetchAsync(source, token, null, cancellationToken).ConfigureAwait(false);
        if (fetched is FetchOutcome.Failed failed)
        {
            return new LoginResult($"{source.Describe()}: {failed.Message}; nothing was changed");
        }

        if (fetched is not FetchOutcome.Fetched document)
        {
            return new LoginResult($"{source.Describe()} answered 304 to an unconditional request; nothing was changed");
        }

        var bytes = PolicyCache.Trimmed(document.Document);
        var loaded = RegistryLoader.Load(bytes, document.Shape);
        if (!loaded.IsValid)
        {
            var first = loaded.Failure?.ToString() ?? loaded.Problems.First(p => p.IsError).ToString();
            var errors = loaded.Problems.Count(p => p.IsError);
            return new LoginResult($"the registry from {source.Describe()} is not valid ({(loaded.Failure is null ? $"{errors} error{(errors == 1 ? "" : "s")}, first: " : "")}{first}); check it with `steward registry validate`; nothing was changed");
        }

        SourceStore.Save(paths, source, token, time);
        var revision = PolicyCache.RevisionOf(bytes);
        PolicyCache.Write(paths, new CachedPolicy(source.Kind, source.Location, revision, document.ETag, time.GetUtcNow(), loaded.Document!.Shape, bytes));
        var servers = RegistryChanges.Latest(loaded.Document.Entries).Count;
        return new LoginResult(null, PolicySource.KindName(source.Kind), source.Location, servers, loaded.Problems.Count(p => !p.IsError), revision,
            Durations.Format(source.MaxOfflineAge), source.Kind == SourceKind.StewardServer ? InterimServerNote : null);
    }

    private static (PolicySource? Source, string? Error) ServerSource(string url, LoginRequest request)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return (null, $"\"{url}\" is not a Steward server URL; give an https URL such as https://steward.example.com (for a registry file or path, use --registry)");
        }

        if (SourceAddress.Check(uri, request.AllowHttp) is { } refused)
        {
            return (null, refused);
        }

        return (new PolicySource
        {
            Kind = SourceKind.StewardServer,
            Location = uri.GetLeftPart(UriPartial.Path).TrimEnd('/'),
            AllowHttp = request.AllowHttp,
            MaxOfflineAge = request.MaxOfflineAge,
        }, null);
    }

    private static async Task<(PolicySource? Source, string? Error)> RegistrySourceAsync(string registry, LoginRequest request, PolicyFetcher fetcher, CancellationToken cancellationToken)
    {
        if (Uri.TryCreate(registry, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            if (SourceAddress.Check(uri, request.AllowHttp) is { } refused)
            {
                return (null, refused);
            }

            var (kind, location, error) = await fetcher.DetectAsync(uri, request.AllowHttp, cancellationToken).ConfigureAwait(false);
            return kind is { } found
                ? (new PolicySource { Kind = found, Location = location, AllowHttp = request.AllowHttp, MaxOfflineAge = request.MaxOfflineAge }, null)
                : (null, error + "; nothing was changed");
        }

        if (uri is not null && uri.Scheme != Uri.UriSchemeFile && uri.Scheme.Length > 1)
        {
            return (null, $"--registry {registry}: the {uri.Scheme}: scheme is not supported; give an https URL or the path of a local registry file");
        }

        var path = uri is { Scheme: "file" } ? uri.LocalPath : Path.GetFullPath(registry, request.WorkingDirectory);
        if (Directory.Exists(path))
        {
            return (null, $"--registry {registry}: {path} is a directory; give the path of a registry JSON file");
        }

        if (!File.Exists(path))
        {
            return (null, $"--registry {registry}: {path} does not exist; give an https URL or the path of a local registry file");
        }

        return (new PolicySource { Kind = SourceKind.LocalFile, Location = path, MaxOfflineAge = request.MaxOfflineAge }, null);
    }
}
