namespace Steward.Server.Exports;

/// <summary>The host exports (Claude Code, Copilot, Cursor, Gemini, Kiro): their routes, open to every member of the organisation.</summary>
internal static class ExportsModule
{
    public static void Map(IEndpointRouteBuilder app) =>
        ExportsApi.Map(app, app.MapGroup("/api/v1/orgs/{org}/exports").AddEndpointFilter(Authentication.RequireOrganisationMember));
}
