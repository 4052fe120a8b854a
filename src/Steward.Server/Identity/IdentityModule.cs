using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Identity;

/// <summary>
/// Who calls: API tokens, single sign-on (OIDC: each organisation's identity provider, the ID token exchange) and the
/// throttle on failed authentication. Their services and their routes.
/// </summary>
internal static class IdentityModule
{
    public static void AddServices(IServiceCollection services, ServeOptions options)
    {
        services.AddSingleton<AuthenticationThrottle>();
        OidcApi.AddServices(services, options);
    }

    /// <summary>The routes; <paramref name="organisationAdmin"/> is <c>/api/v1/orgs/{org}</c> with the admin filter.</summary>
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisationAdmin)
    {
        TokensApi.Map(organisationAdmin);
        OidcApi.Map(app, organisationAdmin);
    }
}
