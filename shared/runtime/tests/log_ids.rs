//! JSON log lines written while handling a request or an event carry the trace id it arrived
//! with and the id of the span handling it, so logs and traces can be joined.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn log_lines_inside_a_continued_trace_carry_its_trace_id_and_their_span_id() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(tracing_subscriber::fmt::layer().json().with_current_span(true).with_writer(buffer.clone()));

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let carrier = HashMap::from([("traceparent".to_string(), format!("00-{trace_id}-00f067aa0ba902b7-01"))]);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("process", trace_id = tracing::field::Empty, span_id = tracing::field::Empty);
        tuan_runtime::telemetry::set_parent(&span, &carrier);
        span.in_scope(|| tracing::info!("applied"));
    });

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().last().expect("a log line")).unwrap();
    assert_eq!(line["span"]["trace_id"], trace_id, "{line}");
    let span_id = line["span"]["span_id"].as_str().unwrap_or_default();
    assert_eq!(span_id.len(), 16, "{line}");
    assert_ne!(span_id, "00f067aa0ba902b7", "the span's own id, not its parent's: {line}");
}
