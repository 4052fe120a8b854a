using Microsoft.Extensions.Logging;

namespace Steward.Server;

/// <summary>How <c>steward serve</c> runs: where its data lives, where it listens, which database.</summary>
public sealed record ServeOptions
{
    public const string DefaultUrl = "http://127.0.0.1:5480";
    public const string AdminTokenVariable = "STEWARD_ADMIN_TOKEN";

    /// <summary>A PostgreSQL connection string from the environment, when <c>--database</c> is not given (keeps the password off the command line).</summary>
    public const string DatabaseVariable = "STEWARD_DATABASE";

    /// <summary>The data directory (created 0700). Default: <c>$XDG_DATA_HOME/steward</c> or <c>~/.local/share/steward</c>.</summary>
    public string DataDir { get; init; } = DefaultDataDir();

    /// <summary>Where Kestrel listens: http URLs; port 0 picks a free port (see <see cref="StewardServer.Urls"/>).</summary>
    public IReadOnlyList<string> Urls { get; init; } = [DefaultUrl];

    /// <summary>A PostgreSQL connection string (<c>Host=…</c>); null for the SQLite file <c>&lt;data-dir&gt;/steward.db</c>.</summary>
    public string? Database { get; init; }

    /// <summary>The bootstrap admin token to record on first start instead of generating one (from <c>STEWARD_ADMIN_TOKEN</c>).</summary>
    public string? BootstrapAdminToken { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where the first-start banner (console URL, one-time token) and fatal errors go. Default: standard error.</summary>
    public TextWriter? Messages { get; init; }

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Console logs as one JSON object per line (for log collectors) instead of one text line per event.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>
    /// <c>POST /v0/auth/none</c> hands out short-lived registry tokens that may publish <c>io.modelcontextprotocol.anonymous/*</c>
    /// (as the official registry's <c>MCP_REGISTRY_ENABLE_ANONYMOUS_AUTH</c>). Off by default; <c>--allow-anonymous-publish</c>
    /// or <c>STEWARD_ALLOW_ANONYMOUS_PUBLISH=true</c>.
    /// </summary>
    public bool AllowAnonymousPublish { get; init; }

    /// <summary>
    /// Registry imports from a URL may use plain http to a loopback address (tests and local mirrors), and any
    /// organisation's imports may reach loopback addresses. Off by default.
    /// </summary>
    public bool AllowHttpLoopbackImport { get; init; }

    /// <summary>
    /// The server's outbound requests (registry imports, OIDC discovery and keys, model upstreams) may reach link-local
    /// and cloud metadata addresses (169.254.0.0/16, 100.100.100.200, fe80::/10, fd00:ec2::254, fd20:ce::254, their
    /// IPv4-mapped, NAT64 and 6to4 forms, metadata.google.internal). Off by default; <c>STEWARD_IMPORT_ALLOW_LINK_LOCAL=true</c>.
    /// </summary>
    public bool AllowLinkLocalImport { get; init; }

    /// <summary>The variable of <see cref="OutboundAllowPrivate"/>.</summary>
    public const string OutboundAllowPrivateVariable = "STEWARD_OUTBOUND_ALLOW_PRIVATE";

    /// <summary>
    /// What URLs given by an organisation admin who is not a server administrator (registry imports, the organisation's
    /// OIDC issuer) may reach among loopback and private addresses, which are otherwise refused: a comma-separated list of
    /// CIDR ranges, addresses and exact host names, such as <c>10.1.0.0/16,registry.internal</c>. Never lifts the
    /// link-local rule (<see cref="AllowLinkLocalImport"/>). From <c>STEWARD_OUTBOUND_ALLOW_PRIVATE</c>; checked at start.
    /// </summary>
    public string? OutboundAllowPrivate { get; init; }

    /// <summary>
    /// A PEM file of certificate authorities the server's outbound clients (external registries, imports, OIDC, model
    /// upstreams) trust in addition to the platform's: an organisation's private CA, or a test CA. Never disables
    /// validation: a certificate must still chain to a trusted CA and match its host. From <c>STEWARD_OUTBOUND_CA_FILE</c>;
    /// checked at start.
    /// </summary>
    public string? OutboundCaFile { get; init; }

    /// <summary>Name resolution for the server's outbound connections; null for DNS. Tests give their own.</summary>
    public Func<string, CancellationToken, Task<System.Net.IPAddress[]>>? Resolve { get; init; }

    /// <summary>
    /// An organisation's OIDC issuer may be plain http on a loopback address (tests with a local issuer), and any
    /// organisation's issuer may be on a loopback address. Off by default: an issuer is https.
    /// </summary>
    public bool AllowHttpLoopbackOidc { get; init; }

    /// <summary>
    /// The address people and tools use to reach this server, when it differs from where Kestrel listens (a reverse proxy
    /// in front). When https, cookies are always <c>Secure</c>, and the OIDC redirect URI is built from it.
    /// <c>--public-url</c> or <c>STEWARD_PUBLIC_URL</c>.
    /// </summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>
    /// The reverse proxies (addresses or networks) whose <c>X-Forwarded-Proto</c> and <c>X-Forwarded-For</c> are believed;
    /// empty believes no one. <c>--trusted-proxy</c> or <c>STEWARD_TRUSTED_PROXIES</c> (comma-separated).
    /// </summary>
    public IReadOnlyList<string> TrustedProxies { get; init; } = [];

    /// <summary>
    /// Failed authentications (answers 401) allowed per client address and per token prefix, a minute (refilled evenly);
    /// past them the address or prefix gets 429 until a permit is back. Default 30.
    /// </summary>
    public int FailedAuthenticationsPerMinute { get; init; } = 30;

    /// <summary>Where OpenTelemetry traces and metrics go (OTLP); null exports nothing. From <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary><c>http/protobuf</c> (default) or <c>grpc</c>. From <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>.</summary>
    public string? OtlpProtocol { get; init; }

    public static string DefaultDataDir()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(root, "steward");
    }

    /// <summary>These options with what the environment adds: <c>STEWARD_ADMIN_TOKEN</c>, <c>STEWARD_LOG_FORMAT=json</c>, <c>STEWARD_OUTBOUND_ALLOW_PRIVATE</c>, ….</summary>
    public ServeOptions WithEnvironment() => this with
    {
        BootstrapAdminToken = BootstrapAdminToken ?? (Environment.GetEnvironmentVariable(AdminTokenVariable) is { Length: > 0 } token ? token : null),
        JsonLogs = JsonLogs || string.Equals(Environment.GetEnvironmentVariable("STEWARD_LOG_FORMAT"), "json", StringComparison.OrdinalIgnoreCase),
        AllowAnonymousPublish = AllowAnonymousPublish || IsTrue("STEWARD_ALLOW_ANONYMOUS_PUBLISH"),
        AllowLinkLocalImport = AllowLinkLocalImport || IsTrue("STEWARD_IMPORT_ALLOW_LINK_LOCAL"),
        OutboundCaFile = OutboundCaFile ?? (Environment.GetEnvironmentVariable(Core.Net.OutboundTrust.Variable) is { Length: > 0 } caFile ? caFile : null),
        OutboundAllowPrivate = OutboundAllowPrivate ?? (Environment.GetEnvironmentVariable(OutboundAllowPrivateVariable) is { Length: > 0 } allow ? allow : null),
        Database = Database ?? (Environment.GetEnvironmentVariable(DatabaseVariable) is { Length: > 0 } database ? database : null),
        OtlpEndpoint = OtlpEndpoint ?? (Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT") is { Length: > 0 } otlp ? otlp : null),
        OtlpProtocol = OtlpProtocol ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_PROTOCOL"),
        PublicUrl = PublicUrl ?? ParsePublicUrl(Environment.GetEnvironmentVariable("STEWARD_PUBLIC_URL")),
        TrustedProxies = TrustedProxies.Count > 0
            ? TrustedProxies
            : (Environment.GetEnvironmentVariable("STEWARD_TRUSTED_PROXIES") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
    };

    /// <summary>The public URL, checked: an absolute http(s) URL without credentials, query or fragment; null when not set.</summary>
    // Not UrlRules' "https, or http to loopback": Steward connects to nothing here; the URL only says where people reach
    // this server, which its operator decides (plain http is taken as given: cookies are then not forced Secure).
    public static Uri? ParsePublicUrl(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp) ||
            url.UserInfo.Length > 0 || url.Query.Length > 0 || url.Fragment.Length > 0)
        {
            throw new ServeException("--public-url", $"\"{text}\" is not the server's public URL; give the address people use, such as https://steward.example.com");
        }

        return url;
    }

    private static bool IsTrue(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { } value && (value == "1" || string.Equals(value, "true", StringComparison.OrdinalIgnoreCase));
}

/// <summary>A start-up failure the user can fix: which option (or variable) is wrong, and why. <c>steward serve</c> exits 2.</summary>
public sealed class ServeException : Exception
{
    public ServeException(string option, string message, Exception? inner = null) : base($"{option}: {message}", inner) => Option = option;

    public ServeException() : this("serve", "the server could not start")
    {
    }

    public ServeException(string message) : this("serve", message)
    {
    }

    public ServeException(string message, Exception innerException) : this("serve", message, innerException)
    {
    }

    public string Option { get; } = "serve";
}
