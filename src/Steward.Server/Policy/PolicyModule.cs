using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Policy;

/// <summary>
/// The signed policy bundle and its change channel: the signing keys, the bundle cache, what each token resolved to,
/// the held change channels and the PostgreSQL change listener; the first signing key at start; the policy routes.
/// </summary>
internal static partial class PolicyModule
{
    public static void AddServices(IServiceCollection services, ServeOptions options)
    {
        var keyEncryptionKey = KeyEncryptionKey.Load(options.DataDir);
        services.AddSingleton(provider => new SigningKeys(provider.GetRequiredService<Storage.Database>(), provider.GetRequiredService<TimeProvider>(), keyEncryptionKey));
        services.AddSingleton<BundleCache>();
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

    /// <summary>The bundle, its keys, its change channel and the admin's key rotation.</summary>
    public static void Map(IEndpointRouteBuilder app) => PolicyApi.Map(app);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Created the policy signing key (ES256); its public key is at /api/v1/policy/keys")]
    private static partial void KeyCreated(ILogger logger);
}
