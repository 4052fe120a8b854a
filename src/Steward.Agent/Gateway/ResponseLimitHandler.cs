using System.Net;

namespace Steward.Agent.Gateway;

/// <summary>
/// Remote upstreams' answers under the gateway's message limit: every response body is read through a
/// <see cref="BoundedLineStream"/> (a JSON body is one line, an event stream one line per <c>data:</c> field), so no line
/// past the limit is held, and an answer past it is replaced by a JSON-RPC error for its request, as on stdio.
/// </summary>
internal sealed class ResponseLimitHandler(HttpMessageHandler inner, long limit) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NoContent || response.Content is null)
        {
            return response;
        }

        var server = request.RequestUri?.Authority ?? "the remote server";
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var bounded = new StreamContent(new BoundedLineStream(body, limit, server, static (_, _) => { }));
        foreach (var header in response.Content.Headers)
        {
            bounded.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        // The length of the bounded body may differ from the original (a line replaced); the server's own length is dropped.
        bounded.Headers.ContentLength = null;
        response.Content = bounded;
        return response;
    }
}
