using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Steward.Server.Hosting;

/// <summary>
/// OpenTelemetry traces and metrics exported over OTLP when an endpoint is configured (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>),
/// nothing at all otherwise. Traces: ASP.NET Core's request activities, Npgsql's commands and the server's own source;
/// metrics: ASP.NET Core hosting and Kestrel, outbound HTTP, the runtime and the server's own meter. The protocol is
/// http/protobuf (port 4318, <c>/v1/traces</c> and <c>/v1/metrics</c> appended) unless
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL=grpc</c>. <c>OTEL_SERVICE_NAME</c> and <c>OTEL_RESOURCE_ATTRIBUTES</c> are honoured.
/// </summary>
internal sealed class Telemetry : IDisposable
{
    public const string Name = "Steward.Server";
    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    /// <summary>Registry versions written (publish, import, status), by action.</summary>
    public static readonly Counter<long> RegistryWrites = Meter.CreateCounter<long>("steward.registry.writes", "{version}", "Registry versions written, by action");

    private readonly TracerProvider _tracer;
    private readonly MeterProvider _meter;

    private Telemetry(TracerProvider tracer, MeterProvider meter)
    {
        _tracer = tracer;
        _meter = meter;
    }

    /// <summary>Providers exporting to <paramref name="endpoint"/>; null (nothing collected) when no endpoint is configured.</summary>
    public static Telemetry? Start(string? endpoint, string? protocol)
    {
        if (string.IsNullOrWhiteSpace(endpoint) || !Uri.TryCreate(endpoint, UriKind.Absolute, out var baseUri))
        {
            return null;
        }

        var grpc = string.Equals(protocol, "grpc", StringComparison.OrdinalIgnoreCase);
        Uri Signal(string path) => grpc ? baseUri : new Uri(baseUri.AbsoluteUri.TrimEnd('/') + path);
        void Configure(OtlpExporterOptions options, string path)
        {
            options.Endpoint = Signal(path);
            options.Protocol = grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        }

        var resource = ResourceBuilder.CreateDefault().AddService("steward-server", serviceVersion: typeof(Telemetry).Assembly.GetName().Version?.ToString()).AddEnvironmentVariableDetector();
        var tracer = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource("Microsoft.AspNetCore", "Npgsql", Name)
            .AddOtlpExporter(o => Configure(o, "/v1/traces"))
            .Build();
        var meter = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "System.Runtime", "Npgsql", Name)
            .AddOtlpExporter((o, reader) =>
            {
                Configure(o, "/v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 15_000;
            })
            .Build();
        return new Telemetry(tracer, meter);
    }

    /// <summary>Flushes what is buffered and stops exporting (at shutdown).</summary>
    public void Dispose()
    {
        _tracer.ForceFlush(5_000);
        _meter.ForceFlush(5_000);
        _tracer.Dispose();
        _meter.Dispose();
    }
}
