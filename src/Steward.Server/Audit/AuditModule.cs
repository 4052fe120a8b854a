using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Audit;

/// <summary>
/// The audit: the admin-change trail and its hash chain, the tool calls gateways send, their retention and the hourly
/// maintenance. Its service and its routes.
/// </summary>
internal static class AuditModule
{
    public static void AddServices(IServiceCollection services) => services.AddHostedService<AuditMaintenance>();

    /// <summary>The routes; <paramref name="organisationAdmin"/> is <c>/api/v1/orgs/{org}</c> with the admin filter.</summary>
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisationAdmin)
    {
        AuditApi.Map(app, organisationAdmin);
        ToolCallsApi.Map(app, organisationAdmin);
        ToolCallRetention.Map(organisationAdmin);
    }
}
