using System.Globalization;

namespace Steward.Server.Audit;

/// <summary>The paging of the audit listings: <c>limit</c> 1–500 (default 50) and <c>cursor</c>, the id below which the next page starts.</summary>
internal readonly record struct AuditPage(int Limit, long? Before)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    /// <summary>The page the query asks for, or a 422 naming the parameter that is wrong.</summary>
    public static (AuditPage Page, IResult? Problem) From(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var limit = DefaultLimit;
        if (query["limit"].ToString() is { Length: > 0 } limitText &&
            (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            return (default, Problems.Query("limit", $"expected an integer from 1 to {MaxLimit}", limitText));
        }

        long? before = null;
        if (query["cursor"].ToString() is { Length: > 0 } cursorText)
        {
            if (!long.TryParse(cursorText, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                return (default, Problems.Query("cursor", "expected the nextCursor of a previous page", cursorText));
            }

            before = id;
        }

        return (new AuditPage(limit, before), null);
    }

    /// <summary>
    /// Drops the row read past a page of <paramref name="limit"/> (a listing reads one more to learn whether another page
    /// follows) and answers the next page's cursor, the id of the page's last row; null on the last page.
    /// </summary>
    public static long? Trim<T>(List<T> rows, int limit, Func<T, long> id)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(id);
        if (rows.Count <= limit)
        {
            return null;
        }

        rows.RemoveRange(limit, rows.Count - limit);
        return id(rows[^1]);
    }
}
