using System.Collections.Concurrent;

namespace Steward.Server.Registry;

/// <summary>
/// Registry API answers kept in memory, serialized with their ETag, per organisation and profile revision. Every
/// registry write moves the organisation's revision in the same transaction, and each request reads the revision from
/// the database before it looks here, so an answer is reused only while the data it was built from is current, on
/// every instance behind a load balancer alike. Only 200 answers are kept; the cache of an organisation is dropped
/// when a newer revision is seen, and everything when it grows past <see cref="MaxEntries"/>.
/// </summary>
internal sealed class RegistryPageCache
{
    public const int MaxEntries = 20_000;
    public const long MaxBytes = 256L * 1024 * 1024;

    internal sealed record Page(byte[] Body, string ETag);

    private sealed class Revision(long number)
    {
        public long Number { get; } = number;
        public ConcurrentDictionary<string, Page> Pages { get; } = new(StringComparer.Ordinal);
    }

    private readonly ConcurrentDictionary<string, Revision> _organisations = new(StringComparer.Ordinal);
    private int _entries;
    private long _bytes;

    public Page? Find(string organisationId, long revision, string key) =>
        _organisations.TryGetValue(organisationId, out var current) && current.Number == revision && current.Pages.TryGetValue(key, out var page) ? page : null;

    public Page Add(string organisationId, long revision, string key, byte[] body)
    {
        var page = new Page(body, ETags.Of(body));
        var current = _organisations.AddOrUpdate(organisationId, _ => new Revision(revision), (_, existing) => existing.Number < revision ? new Revision(revision) : existing);
        if (current.Number != revision)
        {
            return page; // an older revision than one already seen: answer it, do not keep it
        }

        if (Interlocked.Increment(ref _entries) > MaxEntries || Interlocked.Add(ref _bytes, body.Length) > MaxBytes)
        {
            _organisations.Clear();
            Interlocked.Exchange(ref _entries, 0);
            Interlocked.Exchange(ref _bytes, 0);
            return page;
        }

        current.Pages[key] = page;
        return page;
    }
}
