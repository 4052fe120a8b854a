using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Registry;

/// <summary>
/// The registry: the Registry API hosts read, the mcp-publisher endpoints, the admin's registry (edits, imports) and
/// external registries kept in sync. Their services (page cache, revisions, the import gate, the sync) and routes.
/// </summary>
internal static class RegistryModule
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<RegistryPageCache>();
        services.AddSingleton<RegistryRevisions>();
        services.AddSingleton<ImportGate>();
        services.AddSingleton<ExternalRegistrySync>();
        services.AddHostedService(provider => provider.GetRequiredService<ExternalRegistrySync>());
    }

    /// <summary>The routes; <paramref name="organisationAdmin"/> is <c>/api/v1/orgs/{org}</c> with the admin filter.</summary>
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisationAdmin)
    {
        RegistryApi.Map(app);
        PublisherApi.Map(app);
        AdminRegistryApi.Map(organisationAdmin);
        ExternalRegistrySync.Map(organisationAdmin);
    }
}
