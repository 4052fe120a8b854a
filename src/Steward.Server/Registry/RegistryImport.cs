using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Steward.Core.Json;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Server.Registry;

/// <summary>
/// An import into an organisation's registry, for the admin API (<c>POST /api/v1/orgs/{org}/registry/import[?atomic=true][&amp;namespace=…]</c>,
/// <see cref="AdminRegistryApi.ImportAsync"/>) and the console alike: a document given in the body (any of Core's four
/// shapes: a server.json, an array, a Registry API page, a Kiro file) or, with the body
/// <c>{"url": "https://registry.example.com"}</c>, every page of an official-style registry, incrementally from the last
/// import of that URL.
/// </summary>
/// <remarks>
/// Every entry is validated by Core. By default an invalid entry is reported (its path and every problem) and skipped
/// while the valid ones are imported; with <c>atomic=true</c> any skipped entry refuses the whole import (422, nothing
/// written). A version that already exists with the same server.json takes the imported status (so versions deleted
/// upstream become deleted here); with a different server.json it is skipped as a conflict (versions are immutable;
/// edit it with PUT). Kiro names are flat: they become <c>{namespace}/{name}</c>, the namespace being the
/// <c>namespace</c> query parameter or <c>local.{org}</c>, with leading and trailing <c>.</c>, <c>_</c> and <c>-</c>
/// trimmed from the name. All writes, the new revision and the audit rows commit in one transaction.
/// </remarks>
internal static partial class RegistryImport
{
    /// <summary>The largest import body: Core's limit for one document (20 MiB), checked before the body is parsed.</summary>
    public const int MaxBodyBytes = (int)JsonLimits.DefaultMaxBytes;
    public const int PageLimit = 100;
    public const int MaxPages = 1000;

    internal sealed record Candidate(string Path, ServerDetail Server, string Json, OfficialMeta? Official);

    internal sealed record Skipped(string Path, string? Name, string? Version, string Reason, IReadOnlyList<Problem> Problems);

    /// <summary>An entry imported with a change and why: a secret value published upstream, removed here.</summary>
    internal sealed record Warned(string Path, string Name, string Version, IReadOnlyList<Problem> Problems);

    internal sealed class Collected
    {
        public List<Candidate> Candidates { get; } = [];
        public List<Skipped> Skipped { get; } = [];
        public List<Warned> Warnings { get; } = [];
        public List<Problem> DocumentProblems { get; } = [];
        public HashSet<(string, string)> Seen { get; } = [];
        public DateTimeOffset? MaxUpdatedAt { get; set; }
        public List<RegistryShape> Shapes { get; } = [];
    }

    [GeneratedRegex(@"^[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex NamespaceSyntax();

    /// <summary>The official name a Kiro entry gets: <c>{namespace}/{name}</c>, the name trimmed of leading and trailing <c>._-</c>.</summary>
    public static string KiroName(string @namespace, string kiroName)
    {
        ArgumentNullException.ThrowIfNull(kiroName);
        return @namespace + "/" + kiroName.Trim('.', '_', '-');
    }

    /// <summary>The default namespace of Kiro imports: <c>local.{org}</c> (characters a namespace cannot hold become <c>-</c>).</summary>
    public static string DefaultNamespace(Organisation organisation)
    {
        ArgumentNullException.ThrowIfNull(organisation);
        var slug = new string(organisation.Slug.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '-').ToArray()).Trim('.', '-');
        return "local." + (slug.Length == 0 ? "org" : slug);
    }

    /// <summary>Whether <paramref name="namespace"/> may name imported Kiro entries: reverse-DNS (letters, digits, '.', '-'), at most 100 characters.</summary>
    public static bool IsNamespace(string @namespace) => NamespaceSyntax().IsMatch(@namespace) && @namespace.Length <= 100;

    /// <summary>413: the import body is over <see cref="MaxBodyBytes"/>.</summary>
    public static ProblemBody TooLarge { get; } = Problems.Body(StatusCodes.Status413PayloadTooLarge, "Content Too Large",
        $"the import body is over the limit of {MaxBodyBytes} bytes (20 MiB); nothing was imported: split the document, or import the registry by its URL ({{\"url\": \"https://…\"}})");

    /// <summary><c>{"url": "…"}</c>: the body that imports a registry by its URL.</summary>
    public static byte[] UrlBody(string url) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("url", url);
        w.WriteEndObject();
    });

    /// <summary>
    /// Imports the request's document, or every page of the registry its <c>{"url": …}</c> names (from the last import of
    /// that URL on), into the organisation's registry as <paramref name="caller"/>: the report with 200, or with 422 when
    /// nothing was imported (problems that belong to no single entry, or an entry skipped under <c>atomic</c>). Refused
    /// 413 over <see cref="MaxBodyBytes"/>, 400 for a body that is not text, 422 for one that is not a registry document or
    /// a refused url, 502 for a registry that cannot be fetched. The caller was authorised by whoever calls (the API's admin
    /// filter, or the console's session gate) and holds one of the instance's import slots (<see cref="ImportGate.RunAsync{T}"/>).
    /// </summary>
    public static async Task<Outcome<ImportReport>> ImportAsync(Database database, TimeProvider time, ServeOptions options, ServerOutbound outbound, ILoggerFactory loggers,
        Caller caller, Organisation organisation, ImportRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(request);
        var body = request.Body;
        if (body.Length > MaxBodyBytes)
        {
            return Outcome<ImportReport>.Refused(TooLarge);
        }

        if (RequestJson.CheckText(body) is { } notUnicode)
        {
            return Outcome<ImportReport>.Refused(Problems.BodyOf(RequestJson.Refused(notUnicode)));
        }

        var atomic = request.Atomic;
        var @namespace = request.Namespace ?? DefaultNamespace(organisation);
        var now = Timestamps.Now(time);
        var collected = new Collected();
        string source;
        Uri? listUrl = null;
        DateTimeOffset? since = null;
        if (UrlOf(body) is { } urlText)
        {
            if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url))
            {
                return Outcome<ImportReport>.Refused(Problems.Body(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", "url is not an absolute URL",
                    [new ProblemItem { Location = "body.url", Message = "expected an https:// URL of a registry", Value = urlText }]));
            }

            bool loopbackOnly;
            try
            {
                loopbackOnly = ImportFetcher.CheckUrl(url, options);
            }
            catch (ImportRefusedException e)
            {
                return Outcome<ImportReport>.Refused(Problems.Body(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", "url is refused: " + e.Message,
                    [new ProblemItem { Location = "body.url", Message = e.Message, Value = urlText }]));
            }

            listUrl = ListUrl(url);
            source = listUrl.AbsoluteUri;
            await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
            {
                var stored = await connection.ScalarAsync("SELECT updated_since FROM registry_import_sources WHERE organisation_id = @org AND url = @url", null, cancellationToken,
                    ("org", organisation.Id), ("url", source)).ConfigureAwait(false);
                since = stored is string text ? Timestamps.Parse(text) : null;
            }

            var first = await Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false);
            try
            {
                using var client = ImportFetcher.CreateClient(outbound, options, serverAdministrator: first?.Id == organisation.Id, loopbackOnly);
                await FetchAllAsync(client, listUrl, since, @namespace, collected, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
            {
                // Refused by the address policy, not connected, TLS failed, no answer: one message, so that a URL cannot probe ports; the log has the reason.
                FetchFailed(loggers.CreateLogger("Steward.Server.Registry"), organisation.Slug, source, ServerOutbound.Describe(e));
                return Outcome<ImportReport>.Refused(Problems.Body(StatusCodes.Status502BadGateway, "Bad Gateway", $"could not fetch {source}: {ServerOutbound.ConnectionFailed}; nothing was imported"));
            }
            catch (Exception e) when (e is ImportAnswerException or InvalidDataException && !cancellationToken.IsCancellationRequested)
            {
                return Outcome<ImportReport>.Refused(Problems.Body(StatusCodes.Status502BadGateway, "Bad Gateway", $"cannot import from {source}: {e.Message}; nothing was imported"));
            }
        }
        else
        {
            source = "request body";
            var failure = Collect(body, "", null, @namespace, collected);
            if (failure is not null)
            {
                return Outcome<ImportReport>.Refused(Problems.Body(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", "the body is not a registry document: " + failure,
                    [new ProblemItem { Path = "", Message = failure.ToString() }]));
            }
        }

        if (collected.DocumentProblems.Count > 0 || (atomic && collected.Skipped.Count > 0))
        {
            return Refused(ImportReport.Of(source, atomic, collected, null));
        }

        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
            var counts = await ApplyAsync(connection, transaction, organisation.Id, caller.Actor, collected, now, cancellationToken).ConfigureAwait(false);
            if (atomic && collected.Skipped.Count > 0)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return Refused(ImportReport.Of(source, atomic, collected, null));
            }

            if (listUrl is not null)
            {
                // The next import asks for what changed after the newest updatedAt seen (the upstream's clock), else after this one started.
                var next = collected.MaxUpdatedAt is { } max && (since is null || max > since) ? max : since ?? now;
                await connection.ExecuteAsync(
                    "INSERT INTO registry_import_sources (organisation_id, url, last_import_at, updated_since) VALUES (@org, @url, @at, @since) " +
                    "ON CONFLICT (organisation_id, url) DO UPDATE SET last_import_at = excluded.last_import_at, updated_since = excluded.updated_since",
                    transaction, cancellationToken, ("org", organisation.Id), ("url", source), ("at", Timestamps.ToText(now)), ("since", Timestamps.ToText(next))).ConfigureAwait(false);
            }

            if (counts.Revision is not null)
            {
                var summary = Encoding.UTF8.GetString(ResponseJson.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("source", source);
                    w.WriteNumber("created", counts.Created);
                    w.WriteNumber("updated", counts.Updated);
                    w.WriteNumber("unchanged", counts.Unchanged);
                    w.WriteNumber("skipped", collected.Skipped.Count);
                    w.WriteEndObject();
                }));
                await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "registry.import.summary", "registry-import:" + source, null, summary, counts.Revision, cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return Outcome<ImportReport>.Done(ImportReport.Of(source, atomic, collected, counts with { UpdatedSince = since }));
        }
    }

    /// <summary>
    /// The body <c>{"url": "…"}</c> (an object with a url and no servers or name): the URL; else null. Read with a
    /// forward-only reader over the top level, so a large document is not parsed twice.
    /// </summary>
    private static string? UrlOf(byte[] body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = JsonLimits.DefaultMaxDepth });
        string? url = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("servers"u8) || reader.ValueTextEquals("name"u8))
                {
                    return null;
                }

                var isUrl = reader.ValueTextEquals("url"u8);
                reader.Read();
                if (isUrl && reader.TokenType == JsonTokenType.String)
                {
                    url = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return url;
    }

    /// <summary>A registry's list endpoint: the URL as given when it already ends in <c>/servers</c>, else <c>{url}/v0.1/servers</c>.</summary>
    internal static Uri ListUrl(Uri url)
    {
        var builder = new UriBuilder(url) { Query = "", Fragment = "" };
        var path = builder.Path.TrimEnd('/');
        if (!path.EndsWith("/servers", StringComparison.Ordinal))
        {
            path += "/v0.1/servers";
        }

        builder.Path = path;
        return builder.Uri;
    }

    private static async Task FetchAllAsync(HttpClient client, Uri listUrl, DateTimeOffset? since, string @namespace, Collected collected, CancellationToken cancellationToken)
    {
        string? cursor = null;
        for (var page = 0; ; page++)
        {
            if (page >= MaxPages)
            {
                throw new InvalidDataException($"more than {MaxPages} pages of {PageLimit}");
            }

            var query = new StringBuilder($"?limit={PageLimit}&include_deleted=true");
            if (since is { } s)
            {
                query.Append("&updated_since=").Append(Uri.EscapeDataString(Timestamps.ToText(s)));
            }

            if (cursor is not null)
            {
                query.Append("&cursor=").Append(Uri.EscapeDataString(cursor));
            }

            var bytes = await ImportFetcher.GetAsync(client, new Uri(listUrl.AbsoluteUri + query), cancellationToken).ConfigureAwait(false);
            var failure = Collect(bytes, $"pages[{page}]", RegistryShape.RegistryApiPage, @namespace, collected, stripSecrets: true, out var next);
            if (failure is not null)
            {
                throw new InvalidDataException($"page {page + 1} is not a Registry API page: {failure}");
            }

            if (string.IsNullOrEmpty(next))
            {
                return;
            }

            if (next == cursor)
            {
                throw new InvalidDataException($"page {page + 1} gave the same nextCursor as the page before");
            }

            cursor = next;
        }
    }

    [LoggerMessage(EventId = 1250, Level = LogLevel.Warning, Message = "A registry import of organisation {Organisation} from {Source} got no answer: {Reason}")]
    private static partial void FetchFailed(ILogger logger, string organisation, string source, string reason);

    private static ReadFailure? Collect(byte[] bytes, string prefix, RegistryShape? shape, string @namespace, Collected collected) =>
        Collect(bytes, prefix, shape, @namespace, collected, stripSecrets: false, out _);

    /// <summary>
    /// Reads and validates one document, sorting its entries into candidates and skipped ones (paths prefixed with
    /// <paramref name="prefix"/>). With <paramref name="stripSecrets"/> (a registry fetched by URL), a secret value the
    /// upstream publishes is removed and the entry imported with a warning, so that one such entry does not stop a mirror;
    /// otherwise it is an error like any other.
    /// </summary>
    internal static ReadFailure? Collect(byte[] bytes, string prefix, RegistryShape? shape, string @namespace, Collected collected, bool stripSecrets, out string? nextCursor)
    {
        nextCursor = null;
        var loaded = RegistryLoader.Load(bytes, shape);
        if (loaded.Failure is { } failure)
        {
            return failure;
        }

        var document = loaded.Document!;
        nextCursor = document.NextCursor;
        collected.Shapes.Add(document.Shape);
        var kiro = document.Shape == RegistryShape.KiroFile;
        var errors = loaded.Problems.Where(p => p.IsError).ToList();
        var claimed = new HashSet<Problem>();
        foreach (var entry in document.Entries)
        {
            var item = entry.Path.EndsWith(".server", StringComparison.Ordinal) ? entry.Path[..^".server".Length] : entry.Path;
            var mine = errors.Where(p => Belongs(p.Path, item)).ToList();
            claimed.UnionWith(mine);
            var server = entry.Server;
            var path = Join(prefix, item);
            if (stripSecrets && mine.Count > 0 && mine.TrueForAll(p => p.Rule == SecretValues.Rule))
            {
                server = SecretValues.Strip(server);
                collected.Warnings.Add(new Warned(path, server.Name, server.Version, mine.Select(p => Problem.Warning(Join(prefix, p.Path), SecretValues.Rule,
                    "a secret (isSecret: true) had its value published upstream; it was removed on import and is not served here",
                    "ask the upstream publisher to use a {placeholder} variable; secrets are supplied by the developer")).ToList()));
                mine.Clear();
            }

            if (mine.Count > 0)
            {
                collected.Skipped.Add(new Skipped(path, server.Name, server.Version, "invalid", mine.Select(p => p with { Path = Join(prefix, p.Path) }).ToList()));
                continue;
            }

            if (kiro)
            {
                server = server with { Name = KiroName(@namespace, server.Name) };
                var official = RegistryValidator.ValidateServer(server, entry.Path).Where(p => p.IsError).ToList();
                if (official.Count > 0)
                {
                    collected.Skipped.Add(new Skipped(path, server.Name, server.Version, "invalid once named " + server.Name,
                        official.Select(p => p with { Path = Join(prefix, p.Path) }).ToList()));
                    continue;
                }
            }

            if (!collected.Seen.Add((server.Name, server.Version)))
            {
                collected.Skipped.Add(new Skipped(path, server.Name, server.Version, "duplicate",
                    [Problem.Error(Join(prefix, entry.Path), "import.duplicate", $"{server.Name} {server.Version} appears more than once in this import", "keep one entry per name and version")]));
                continue;
            }

            if (entry.Official?.UpdatedAt is { } updated && (collected.MaxUpdatedAt is null || updated > collected.MaxUpdatedAt))
            {
                collected.MaxUpdatedAt = updated;
            }

            collected.Candidates.Add(new Candidate(path, server, RegistryJson.Canonical(server), entry.Official));
        }

        collected.DocumentProblems.AddRange(errors.Where(p => !claimed.Contains(p)).Select(p => p with { Path = Join(prefix, p.Path) }));
        return null;
    }

    private static bool Belongs(string problemPath, string itemPath) =>
        itemPath.Length == 0 ||
        (problemPath.StartsWith(itemPath, StringComparison.Ordinal) && (problemPath.Length == itemPath.Length || problemPath[itemPath.Length] is '.' or '['));

    private static string Join(string prefix, string path) => prefix.Length == 0 ? path : path.Length == 0 ? prefix : path[0] == '[' ? prefix + path : prefix + "." + path;

    /// <summary>A report of nothing imported: 422, with every reason.</summary>
    private static Outcome<ImportReport> Refused(ImportReport report) => Outcome<ImportReport>.Done(report, StatusCodes.Status422UnprocessableEntity);

    private static async Task<ImportCounts> ApplyAsync(DbConnection connection, DbTransaction transaction, string organisationId, string actor, Collected collected, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var existing = (await connection.QueryAsync($"SELECT {StoredEntry.Columns} FROM registry_entries WHERE organisation_id = @org", transaction, StoredEntry.Read, cancellationToken,
            ("org", organisationId)).ConfigureAwait(false)).ToDictionary(e => (e.Name, e.Version));
        var created = 0;
        var updated = 0;
        var unchanged = 0;
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var changes = new List<(StoredEntry? Before, string Name, string Version, string Action)>();
        foreach (var candidate in collected.Candidates)
        {
            var server = candidate.Server;
            var status = candidate.Official?.Status ?? ServerStatuses.Active;
            var message = status == ServerStatuses.Active ? null : candidate.Official?.StatusMessage;
            if (!existing.TryGetValue((server.Name, server.Version), out var before))
            {
                await Publishing.InsertImportedAsync(connection, transaction, organisationId, server.Name, server.Version, candidate.Json, status, message,
                    candidate.Official?.PublishedAt is { } published ? Truncate(published) : now,
                    candidate.Official?.StatusChangedAt is { } changed ? Truncate(changed) : now, now, cancellationToken).ConfigureAwait(false);
                created++;
                touched.Add(server.Name);
                changes.Add((null, server.Name, server.Version, "registry.import"));
            }
            else if (before.ServerJson != candidate.Json)
            {
                collected.Skipped.Add(new Skipped(candidate.Path, server.Name, server.Version, "conflict",
                    [Problem.Error(candidate.Path, "import.conflict", $"{server.Name} {server.Version} already exists here with a different server.json; published versions are immutable",
                        "publish a new version upstream, or correct this one with PUT /api/v1/orgs/{org}/registry/servers/{name}/versions/{version}")]));
            }
            else if (candidate.Official?.Status is not null && (before.Status != status || before.StatusMessage != message))
            {
                await Publishing.SetStatusAsync(connection, transaction, organisationId, server.Name, server.Version, status, message, now, cancellationToken).ConfigureAwait(false);
                updated++;
                touched.Add(server.Name);
                changes.Add((before, server.Name, server.Version, "registry.import.status"));
            }
            else
            {
                unchanged++;
            }
        }

        if (touched.Count == 0)
        {
            return new ImportCounts(created, updated, unchanged, null);
        }

        foreach (var name in touched)
        {
            await Publishing.RecomputeLatestAsync(connection, transaction, organisationId, name, now, cancellationToken).ConfigureAwait(false);
        }

        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisationId, now, cancellationToken).ConfigureAwait(false);
        var after = (await connection.QueryAsync($"SELECT {StoredEntry.Columns} FROM registry_entries WHERE organisation_id = @org AND updated_at = @at", transaction, StoredEntry.Read, cancellationToken,
            ("org", organisationId), ("at", Timestamps.ToText(now))).ConfigureAwait(false)).ToDictionary(e => (e.Name, e.Version));
        foreach (var (before, name, version, action) in changes)
        {
            var entry = after[(name, version)];
            await AuditLog.WriteAsync(connection, transaction, organisationId, now, actor, action, Publishing.Subject(entry),
                before is null ? null : RegistryJson.AuditView(before), RegistryJson.AuditView(entry), revision, cancellationToken).ConfigureAwait(false);
        }

        return new ImportCounts(created, updated, unchanged, revision);
    }

    private static DateTimeOffset Truncate(DateTimeOffset value) => Timestamps.Parse(Timestamps.ToText(value));

    internal static void WriteProblems(Utf8JsonWriter w, string property, IEnumerable<Problem> problems)
    {
        w.WriteStartArray(property);
        foreach (var problem in problems)
        {
            w.WriteStartObject();
            w.WriteString("path", problem.Path);
            w.WriteString("rule", problem.Rule);
            w.WriteString("severity", problem.IsError ? "error" : "warning");
            w.WriteString("message", problem.Message);
            if (problem.Hint.Length > 0)
            {
                w.WriteString("hint", problem.Hint);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}

/// <summary>
/// How many imports run at once on this server instance: two. An import holds its document (up to 20 MiB) and
/// every entry it read in memory until it commits; a third is answered 503 with <c>Retry-After</c> at once rather
/// than queued, so that imports cannot pile up and exhaust memory.
/// </summary>
internal sealed class ImportGate : IDisposable
{
    public const int Concurrent = 2;
    public const int RetryAfterSeconds = 10;

    private readonly SemaphoreSlim _slots = new(Concurrent, Concurrent);

    /// <summary>503: every slot is taken (the API answers it with <c>Retry-After</c>).</summary>
    public static ProblemBody Busy { get; } = Problems.Body(StatusCodes.Status503ServiceUnavailable, "Imports busy",
        $"{Concurrent} imports are already running on this server instance (at most {Concurrent} run at a time); nothing was imported: retry in {RetryAfterSeconds} seconds");

    /// <summary>Takes a slot without waiting: false when every slot is taken.</summary>
    public bool TryEnter() => _slots.Wait(0);

    public void Exit() => _slots.Release();

    /// <summary>Runs <paramref name="import"/> in a slot, taken without waiting: refused <see cref="Busy"/> when every slot is taken.</summary>
    public async Task<Outcome<T>> RunAsync<T>(Func<Task<Outcome<T>>> import)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(import);
        if (!TryEnter())
        {
            return Outcome<T>.Refused(Busy);
        }

        try
        {
            return await import().ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    public void Dispose() => _slots.Dispose();
}
