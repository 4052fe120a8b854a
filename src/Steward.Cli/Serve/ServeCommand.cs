using System.CommandLine;
using Steward.Server;

namespace Steward.Cli.Serve;

/// <summary><c>steward serve</c>: runs the Steward server until SIGTERM or Ctrl-C.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter stderr)
    {
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "Where the server keeps its data (the SQLite file steward.db). Default: $XDG_DATA_HOME/steward or ~/.local/share/steward.",
            DefaultValueFactory = _ => ServeOptions.DefaultDataDir(),
        };
        var urls = new Option<string>("--urls")
        {
            Description = "Where to listen, one or more http URLs separated by ';'.",
            DefaultValueFactory = _ => ServeOptions.DefaultUrl,
        };
        var database = new Option<string?>("--database")
        {
            Description = "A PostgreSQL connection string (\"Host=…;Database=…;Username=…\"). Default: the SQLite file in the data directory.",
        };

        var anonymous = new Option<bool>("--allow-anonymous-publish")
        {
            Description = "Let POST /v0/auth/none hand out short-lived tokens that may publish io.modelcontextprotocol.anonymous/* (for mcp-publisher tests). Off by default; also STEWARD_ALLOW_ANONYMOUS_PUBLISH=true.",
        };

        var publicUrl = new Option<string?>("--public-url")
        {
            Description = "The address people and tools use to reach this server when a reverse proxy is in front (https://steward.example.com): cookies are then Secure and the sign-in redirect uses it. Also STEWARD_PUBLIC_URL.",
        };
        var trustedProxy = new Option<string[]>("--trusted-proxy")
        {
            Description = "A reverse proxy (address or network, such as 10.0.0.5 or 10.0.0.0/24) whose X-Forwarded-Proto and X-Forwarded-For are believed; repeat for several. Default: none. Also STEWARD_TRUSTED_PROXIES (comma-separated).",
            AllowMultipleArgumentsPerToken = false,
        };

        var command = new Command("serve", "Run the Steward server: the Registry API for hosts, the admin API and the audit log. Set STEWARD_ADMIN_TOKEN at first start to choose the admin token.")
        {
            dataDir, urls, database, anonymous, publicUrl, trustedProxy,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Uri? publicAddress;
            try
            {
                publicAddress = ServeOptions.ParsePublicUrl(parse.GetValue(publicUrl));
            }
            catch (ServeException e)
            {
                await stderr.WriteLineAsync("steward serve: " + e.Message).ConfigureAwait(false);
                return 2;
            }

            var options = new ServeOptions
            {
                PublicUrl = publicAddress,
                TrustedProxies = [.. (parse.GetValue(trustedProxy) ?? []).SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))],
                DataDir = parse.GetValue(dataDir)!,
                Urls = parse.GetValue(urls)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Database = parse.GetValue(database),
                AllowAnonymousPublish = parse.GetValue(anonymous),
                Messages = stderr,
            };
            return await StewardServer.RunAsync(options, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
