namespace Steward.Agent.Sources;

/// <summary>
/// The export, or why there is none: <see cref="Refused"/> when the server answered other than 200, else the server
/// could not be reached or read.
/// </summary>
public sealed record RegistryExportResult(byte[]? Document, RegistryExportReport? Report, string? Error, bool Refused);

/// <summary>
/// <c>steward registry export</c>'s side of the server's export endpoints: the document in a host's own format
/// (<c>api/v1/orgs/{org}/exports/{export}</c>) and the report of what it left out (<c>…/report</c>), asked with the same
/// query so that the report describes the document.
/// </summary>
public sealed class RegistryExportClient(StewardServerClient server)
{
    /// <summary>
    /// The server's root for <paramref name="server"/>, or null when it is not an absolute https URL (http only to a
    /// loopback address): the token goes with every request.
    /// </summary>
    public static Uri? RootOf(string? server) =>
        !string.IsNullOrEmpty(server) && Uri.TryCreate(server, UriKind.Absolute, out var baseUri) && Core.Net.UrlRules.Allows(baseUri, allowLoopbackHttp: true)
            ? StewardServerClient.RootOf(baseUri)
            : null;

    /// <summary>The query both requests carry: the account's profile, the gateway or direct mode, the gateway's command.</summary>
    public static string Query(string? account, string? mode, string? command)
    {
        var parameters = new List<string>();
        if (account is { Length: > 0 })
        {
            parameters.Add("account=" + Uri.EscapeDataString(account));
        }

        if (mode is { Length: > 0 })
        {
            parameters.Add("mode=" + Uri.EscapeDataString(mode));
        }

        if (command is { Length: > 0 })
        {
            parameters.Add("command=" + Uri.EscapeDataString(command));
        }

        return parameters.Count > 0 ? "?" + string.Join('&', parameters) : "";
    }

    /// <summary>GETs the document, then its report; the first that fails ends it.</summary>
    public async Task<RegistryExportResult> FetchAsync(
        HttpClient http, string organisation, string export, string? account, string? mode, string? command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(organisation);
        var path = $"api/v1/orgs/{Uri.EscapeDataString(organisation)}/exports/{export}";
        var query = Query(account, mode, command);
        var documentAnswer = await server.GetAsync(http, path + query, cancellationToken).ConfigureAwait(false);
        if (documentAnswer.Body is not { } document)
        {
            return new RegistryExportResult(null, null, server.Unread(documentAnswer), Refused: false);
        }

        if (documentAnswer.Status != 200)
        {
            return new RegistryExportResult(null, null, $"the server answered {documentAnswer.Status}: {StewardServerClient.Detail(document)}", Refused: true);
        }

        var reportAnswer = await server.GetAsync(http, path + "/report" + query, cancellationToken).ConfigureAwait(false);
        if (reportAnswer.Body is not { } reportBody)
        {
            return new RegistryExportResult(null, null, server.Unread(reportAnswer), Refused: false);
        }

        if (reportAnswer.Status != 200)
        {
            return new RegistryExportResult(null, null, $"the server answered {reportAnswer.Status} for the report: {StewardServerClient.Detail(reportBody)}", Refused: true);
        }

        return new RegistryExportResult(document, RegistryExportReport.Read(reportBody), null, Refused: false);
    }

    /// <summary>
    /// Writes the document to <paramref name="file"/> through a temporary file beside it and a rename, so that a host
    /// reading it never sees half a document; null when written, else why not.
    /// </summary>
    public static async Task<string?> WriteAsync(string file, byte[] document, CancellationToken cancellationToken)
    {
        try
        {
            var full = Path.GetFullPath(file);
            var temporary = full + ".tmp-" + Environment.ProcessId;
            await File.WriteAllBytesAsync(temporary, document, cancellationToken).ConfigureAwait(false);
            File.Move(temporary, full, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }
}
