namespace Steward.Server.Organisations;

/// <summary>
/// Organisations, their profiles and accounts, each profile's sandbox settings and the emergency stop: their routes
/// (the state is all in the database, so there are no services).
/// </summary>
internal static class OrganisationsModule
{
    /// <summary>The routes; <paramref name="organisationAdmin"/> is <c>/api/v1/orgs/{org}</c> with the admin filter.</summary>
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisationAdmin)
    {
        OrganisationsApi.Map(app);
        ProfilesApi.Map(organisationAdmin);
        SandboxApi.Map(organisationAdmin);
        EmergencyStops.Map(organisationAdmin);
    }
}
