using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Models;

/// <summary>
/// Model governance on the server: the catalog, the availability policy of each profile, the developer listing, the
/// enforcing model endpoint and its upstreams. The server's start-up names each step with one line.
/// </summary>
internal static class ModelsModule
{
    public static void AddServices(IServiceCollection services, ServeOptions options)
    {
        var sealingKey = ModelUpstreams.LoadSealingKey(options.DataDir, Environment.GetEnvironmentVariable);
        services.AddSingleton<ModelCatalogStore>();
        services.AddSingleton(new ModelUpstreams(sealingKey));
        services.AddSingleton<ModelHttp>();
        services.AddSingleton<ModelRefusals>();
    }

    /// <summary>After the migrations: the shipped catalog is stored on first start.</summary>
    public static async Task StartAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        await ModelCatalogStore.SeedAsync(services.GetRequiredService<Database>(), services.GetRequiredService<TimeProvider>(), cancellationToken).ConfigureAwait(false);

    /// <summary>The routes; <paramref name="organisationAdmin"/> is <c>/api/v1/orgs/{org}</c> with the admin filter.</summary>
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisationAdmin)
    {
        ModelsAdminApi.Map(app, organisationAdmin);
        TokenGroupsApi.Map(organisationAdmin);
        UpstreamsApi.Map(app);
        DeveloperModelsApi.Map(app);
        ModelGateway.Map(app);
        ModelExports.Map(app);
    }
}
