using System.Collections.Immutable;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

// Logging is a current feature of the revisions the gateway speaks; MCP9005 flags its deprecation in 2026-07-28.
#pragma warning disable MCP9005

namespace Steward.Agent.Gateway;

// The host's other requests (prompts, resources, completion, logging level), each routed to the upstream that serves it.
public sealed partial class Gateway
{
    private async Task<IReadOnlyList<T>> SafeListAsync<T>(Upstream upstream, string what, Func<Upstream, CancellationToken, ValueTask<IReadOnlyList<T>>> list,
        CancellationToken cancellationToken)
    {
        try
        {
            return await list(upstream, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is McpException or IOException or InvalidOperationException or OperationCanceledException)
        {
            GatewayLog.ListFailed(logger, what, upstream.Name, e.Message);
            return [];
        }
    }

    private async ValueTask<ListPromptsResult> ListPromptsAsync(RequestContext<ListPromptsRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<Prompt>();
        foreach (var upstream in upstreams)
        {
            foreach (var prompt in await SafeListAsync(upstream, "prompts", (u, ct) => u.PromptsAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                result.Add(PerServer ? prompt : new Prompt
                {
                    Name = Exposed(upstream, prompt.Name),
                    Title = prompt.Title,
                    Description = prompt.Description,
                    Arguments = prompt.Arguments,
                    Icons = prompt.Icons,
                    Meta = prompt.Meta,
                });
            }
        }

        return new ListPromptsResult { Prompts = result };
    }

    private async ValueTask<GetPromptResult> GetPromptAsync(RequestContext<GetPromptRequestParams> request, CancellationToken cancellationToken) =>
        await GetPromptAsync(new CallHost(request.Server), request.Params, cancellationToken).ConfigureAwait(false);

    /// <summary>A prompts/get of <paramref name="host"/>: what the upstream asks while it builds the prompt goes to that host.</summary>
    private async Task<GetPromptResult> GetPromptAsync(CallHost host, GetPromptRequestParams? get, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        get = get ?? throw new McpProtocolException("prompts/get needs params", McpErrorCode.InvalidParams);
        if (Route(get.Name) is not var (upstream, prompt))
        {
            throw new McpProtocolException($"Unknown prompt: '{get.Name}'", McpErrorCode.InvalidParams);
        }

        var meta = get.Meta?.DeepClone().AsObject();
        return await InFlightAsync(host, upstream, meta, ct => upstream.Client.GetPromptAsync(new GetPromptRequestParams
        {
            Name = prompt,
            Arguments = get.Arguments,
            Meta = meta,
        }, ct).AsTask(), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<ListResourcesResult> ListResourcesAsync(RequestContext<ListResourcesRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<Resource>();
        var owners = ImmutableDictionary.CreateBuilder<string, Upstream>(StringComparer.Ordinal);
        foreach (var upstream in upstreams)
        {
            foreach (var resource in await SafeListAsync(upstream, "resources", (u, ct) => u.ResourcesAsync(ct), cancellationToken).ConfigureAwait(false))
            {
                if (owners.TryGetValue(resource.Uri, out var owner))
                {
                    if (owner != upstream)
                    {
                        GatewayLog.ResourceClash(logger, resource.Uri, owner.Name, upstream.Name);
                    }

                    continue;
                }

                owners[resource.Uri] = upstream;
                result.Add(resource);
            }
        }

        resourceOwners = owners.ToImmutable();
        return new ListResourcesResult { Resources = result };
    }

    private async ValueTask<ListResourceTemplatesResult> ListResourceTemplatesAsync(RequestContext<ListResourceTemplatesRequestParams> request,
        CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<ResourceTemplate>();
        foreach (var upstream in upstreams)
        {
            result.AddRange(await SafeListAsync(upstream, "resource templates", (u, ct) => u.TemplatesAsync(ct), cancellationToken).ConfigureAwait(false));
        }

        return new ListResourceTemplatesResult { ResourceTemplates = result };
    }

    private async ValueTask<ReadResourceResult> ReadResourceAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken) =>
        await ReadResourceAsync(new CallHost(request.Server), request.Params, IsStatelessRevision(request.JsonRpcRequest.Context?.ProtocolVersion), cancellationToken)
            .ConfigureAwait(false);

    /// <summary>A resources/read of <paramref name="host"/>: what the upstream asks while it reads goes to that host.</summary>
    private async Task<ReadResourceResult> ReadResourceAsync(CallHost host, ReadResourceRequestParams? read, bool stateless, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        read = read ?? throw new McpProtocolException("resources/read needs params", McpErrorCode.InvalidParams);
        try
        {
            var upstream = await RouteUriAsync(read.Uri, cancellationToken).ConfigureAwait(false)
                           ?? throw ResourceNotFound(read.Uri);
            var meta = read.Meta?.DeepClone().AsObject();
            try
            {
                return await InFlightAsync(host, upstream, meta, ct => upstream.Client.ReadResourceAsync(new ReadResourceRequestParams { Uri = read.Uri, Meta = meta }, ct).AsTask(),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (McpProtocolException e) when (!stateless && e.ErrorCode == McpErrorCode.InvalidParams && IsStatelessRevision(upstream.Client.NegotiatedProtocolVersion)
                                                 && e.Data["uri"]?.ToString() == read.Uri)
            {
                // The reverse: an upstream of the stateless revision says invalid params naming the uri; a session host is told -32002.
                throw WithData(new McpProtocolException(e.Message, e, McpErrorCode.ResourceNotFound), e);
            }
        }
        catch (McpProtocolException e) when (e.ErrorCode == McpErrorCode.ResourceNotFound && stateless)
        {
            // The stateless revision reports an unknown resource as invalid params (-32602), not the session revisions' -32002.
            // The error's data (the upstream's, as the SDK keeps it in Exception.Data: the resource's uri) goes with it.
            throw WithData(new McpProtocolException(e.Message, e, McpErrorCode.InvalidParams), e);
        }
    }

    /// <summary><paramref name="mapped"/> with the error data of <paramref name="original"/> (the SDK keeps a JSON-RPC error's data in <see cref="Exception.Data"/>).</summary>
    private static McpProtocolException WithData(McpProtocolException mapped, McpProtocolException original)
    {
        foreach (System.Collections.DictionaryEntry entry in original.Data)
        {
            mapped.Data[entry.Key] = entry.Value;
        }

        return mapped;
    }

    /// <summary>No upstream serves <paramref name="uri"/>: -32002, with the uri in the error's data as the revisions suggest.</summary>
    private static McpProtocolException ResourceNotFound(string uri)
    {
        var e = new McpProtocolException($"Resource not found: '{uri}'", McpErrorCode.ResourceNotFound);
        e.Data["uri"] = uri;
        return e;
    }

    /// <summary>A host session's <c>resources/subscribe</c>: counted with the listen streams' subscriptions, so the upstream is subscribed once.</summary>
    private async ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var subscribe = request.Params ?? throw new McpProtocolException("resources/subscribe needs params", McpErrorCode.InvalidParams);
        var upstream = await RouteUriAsync(subscribe.Uri, cancellationToken).ConfigureAwait(false)
                       ?? throw ResourceNotFound(subscribe.Uri);
        await AddSubscriberAsync(upstream, subscribe.Uri, always: true, cancellationToken).ConfigureAwait(false);
        return new EmptyResult();
    }

    /// <summary>A host session's <c>resources/unsubscribe</c>: the upstream is unsubscribed unless a listen stream (or another session) still subscribes.</summary>
    private async ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var unsubscribe = request.Params ?? throw new McpProtocolException("resources/unsubscribe needs params", McpErrorCode.InvalidParams);
        var upstream = await RouteUriAsync(unsubscribe.Uri, cancellationToken).ConfigureAwait(false)
                       ?? throw ResourceNotFound(unsubscribe.Uri);
        await RemoveSubscriberAsync(upstream, unsubscribe.Uri, cancellationToken).ConfigureAwait(false);
        return new EmptyResult();
    }

    private async ValueTask<CompleteResult> CompleteAsync(RequestContext<CompleteRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var complete = request.Params ?? throw new McpProtocolException("completion/complete needs params", McpErrorCode.InvalidParams);
        Upstream? upstream;
        Reference reference;
        switch (complete.Ref)
        {
            case PromptReference prompt:
                if (Route(prompt.Name) is not var (owner, name))
                {
                    throw new McpProtocolException($"Unknown prompt: '{prompt.Name}'", McpErrorCode.InvalidParams);
                }

                upstream = owner;
                reference = new PromptReference { Name = name, Title = prompt.Title };
                break;
            case ResourceTemplateReference template:
                upstream = await RouteTemplateAsync(template.Uri, cancellationToken).ConfigureAwait(false);
                reference = template;
                break;
            default:
                throw new McpProtocolException("completion/complete needs a prompt or resource template reference", McpErrorCode.InvalidParams);
        }

        if (upstream is null || upstream.Capabilities.Completions is null)
        {
            return new CompleteResult { Completion = new Completion { Values = [] } };
        }

        return await upstream.Client.CompleteAsync(new CompleteRequestParams
        {
            Ref = reference,
            Argument = complete.Argument,
            Context = complete.Context,
            Meta = complete.Meta?.DeepClone().AsObject(),
        }, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<EmptyResult> SetLoggingLevelAsync(RequestContext<SetLevelRequestParams> request, CancellationToken cancellationToken)
    {
        await SettledAsync(cancellationToken).ConfigureAwait(false);
        var level = (request.Params ?? throw new McpProtocolException("logging/setLevel needs params", McpErrorCode.InvalidParams)).Level;
        hostLoggingLevel = level;
        foreach (var upstream in upstreams.Where(u => u.Capabilities.Logging is not null))
        {
            try
            {
                await upstream.Client.SetLoggingLevelAsync(level, null, cancellationToken).ConfigureAwait(false);
            }
            catch (McpException e)
            {
                GatewayLog.ForwardFailed(logger, RequestMethods.LoggingSetLevel, e.Message);
            }
        }

        return new EmptyResult();
    }
}
