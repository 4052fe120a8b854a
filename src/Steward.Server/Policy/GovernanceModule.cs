using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Steward.Server.Exports;
using Steward.Server.Hosting;
using Steward.Server.Identity;
using Steward.Server.Organisations;
using Steward.Server.Storage;

namespace Steward.Server.Policy;

/// <summary>
/// Profiles, accounts, tokens, exports and the signed policy bundle: their services, their start-up step (the signing
/// key) and their routes, so the server's start-up names each with one line.
/// </summary>
internal static partial class GovernanceModule
{
    public static void AddServices(IServiceCollection services, ServeOptions options)
    {
        var keyEncryptionKey = KeyEncryptionKey.Load(options.DataDir);
        services.AddSingleton(provider => new SigningKeys(provider.GetRequiredService<Database>(), provider.GetRequiredService<TimeProvider>(), keyEncryptionKey));
        services.AddSingleton<BundleCache>();
        services.AddSingleton<LocalChanges>();
        services.AddSingleton<BundleResolutions>();
        services.AddSingleton<PolicyChannels>();
        services.AddHostedService<ChangeListener>();
    }

    /// <summary>After the migrations: the first signing key on first start; a start whose key encryption key cannot open the keys fails.</summary>
    public static async Task StartAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        try
        {
            if (await services.GetRequiredService<SigningKeys>().EnsureAsync(cancellationToken).ConfigureAwait(false))
            {
                KeyCreated(services.GetRequiredService<ILoggerFactory>().CreateLogger("Steward.Server"));
            }
        }
        catch (KeyEncryptionKeyException e)
        {
            throw new ServeException("--data-dir", e.Message, e);
        }
    }

    /// <summary>The routes; <paramref name="organisationAdmin"/> is <c>/api/v1/orgs/{org}</c> with the admin filter.</summary>
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisationAdmin)
    {
        PolicyApi.Map(app);
        ExportsApi.Map(app, app.MapGroup("/api/v1/orgs/{org}/exports").AddEndpointFilter(Authentication.RequireOrganisationMember));
        ProfilesApi.Map(organisationAdmin);
        SandboxApi.Map(organisationAdmin);
        EmergencyStops.Map(organisationAdmin);
        TokensApi.Map(organisationAdmin);
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Created the policy signing key (ES256); its public key is at /api/v1/policy/keys")]
    private static partial void KeyCreated(ILogger logger);
}
