//! Tracing for every service: JSON (or pretty) logs, OpenTelemetry spans exported over OTLP
//! when an endpoint is configured, and W3C trace context carried across gRPC and Kafka hops.

use std::collections::HashMap;

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::TelemetryConfig;

/// Keeps the tracer provider alive; call [`TelemetryGuard::shutdown`] before exit to flush.
#[must_use]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Flushes spans, giving up after a few seconds so a dead collector cannot block exit.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flush = tokio::task::spawn_blocking(move || provider.shutdown());
        if tokio::time::timeout(std::time::Duration::from_secs(5), flush).await.is_err() {
            eprintln!("telemetry flush timed out");
        }
    }
}

/// Installs the global subscriber and propagator. Call once, at the top of `main`.
pub fn init(service: &'static str, config: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = Resource::builder().with_service_name(service).build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if !config.otlp_endpoint.is_empty() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .build()?;
        // The batch processor that runs on the Tokio runtime: the default one exports from a
        // plain thread with `block_on`, where tonic's channel finds no reactor and panics,
        // after which every span is silently dropped.
        let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        builder = builder.with_span_processor(processor);
    }
    // Spans are created (and ids propagated) even with no exporter, so every event and call
    // still carries a trace context.
    let provider = builder.build();
    global::set_tracer_provider(provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log_filter));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    if config.log_format == "pretty" {
        registry.with(tracing_subscriber::fmt::layer()).try_init()?;
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false))
            .try_init()?;
    }
    Ok(TelemetryGuard { provider })
}

/// The W3C trace context of the current span, to put in event metadata or message headers.
pub fn current_trace_context() -> HashMap<String, String> {
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier
}

/// Makes `span` a child of the trace described by `carrier` (from headers or an event), and
/// records the trace and span ids in the span's `trace_id` and `span_id` fields (declare them
/// `Empty`) so JSON logs written inside the span carry them.
pub fn set_parent(span: &tracing::Span, carrier: &HashMap<String, String>) {
    if !carrier.is_empty() {
        let cx = global::get_text_map_propagator(|p| p.extract(carrier));
        let _ = span.set_parent(cx);
    }
    use opentelemetry::trace::TraceContextExt;
    let cx = span.context();
    let ids = cx.span().span_context().clone();
    if ids.trace_id() != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
    }
}

/// The trace id of the current span, as hex; empty when there is none.
pub fn current_trace_id() -> String {
    use opentelemetry::trace::TraceContextExt;
    let cx = tracing::Span::current().context();
    let id = cx.span().span_context().trace_id();
    if id == opentelemetry::trace::TraceId::INVALID { String::new() } else { id.to_string() }
}
