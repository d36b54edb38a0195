//! An OTLP trace receiver to run inside a test: services export their spans to it over gRPC
//! (the same protocol a real collector speaks), and the test inspects what arrived.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
    trace::v1::span::SpanKind,
};
use tokio::net::TcpListener;

/// One span as received, ids in hex.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub service: String,
    pub name: String,
    pub kind: SpanKind,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// `(trace_id, span_id)` of every linked span.
    pub links: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    Value::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.push(ReceivedSpan {
                    service: service.clone(),
                    kind: span.kind(),
                    name: span.name,
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    links: span.links.iter().map(|l| (hex::encode(&l.trace_id), hex::encode(&l.span_id))).collect(),
                });
            }
        }
        self.spans.lock().expect("spans lock").extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// A running receiver; stops when dropped.
pub struct TraceCollector {
    /// Where to send spans, e.g. `http://127.0.0.1:4317`.
    pub endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    server: tokio::task::JoinHandle<()>,
}

impl TraceCollector {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind OTLP receiver");
        let endpoint = format!("http://{}", listener.local_addr().expect("receiver address"));
        let receiver = Receiver::default();
        let spans = receiver.spans.clone();
        let server = tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let service = TraceServiceServer::new(receiver);
            if let Err(e) = tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await
            {
                eprintln!("OTLP receiver stopped: {e}");
            }
        });
        Self { endpoint, spans, server }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("spans lock").clone()
    }

    /// The spans of one trace.
    pub fn trace(&self, trace_id: &str) -> Vec<ReceivedSpan> {
        self.spans().into_iter().filter(|s| s.trace_id == trace_id).collect()
    }
}

impl Drop for TraceCollector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Why a set of spans is not one connected tree: the roots (should be exactly one) and the
/// spans whose parent is not in the set.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TreeDefects {
    pub roots: Vec<String>,
    pub orphans: Vec<String>,
}

/// Checks that `spans` (one trace) form a single tree: one root, every other span's parent
/// present. Returns what is wrong, naming spans as `service/name`.
pub fn tree_defects(spans: &[ReceivedSpan]) -> TreeDefects {
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let label = |s: &ReceivedSpan| format!("{}/{}", s.service, s.name);
    let mut defects = TreeDefects::default();
    for span in spans {
        if span.parent_span_id.is_empty() {
            defects.roots.push(label(span));
        } else if !ids.contains(span.parent_span_id.as_str()) {
            defects.orphans.push(label(span));
        }
    }
    if defects.roots.len() == 1 {
        defects.roots.clear();
    }
    defects
}

/// The spans of a trace as an indented tree, for failure messages.
pub fn render_tree(spans: &[ReceivedSpan]) -> String {
    let mut children: HashMap<&str, Vec<&ReceivedSpan>> = HashMap::new();
    for span in spans {
        children.entry(span.parent_span_id.as_str()).or_default().push(span);
    }
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut out = String::new();
    fn walk(span: &ReceivedSpan, depth: usize, children: &HashMap<&str, Vec<&ReceivedSpan>>, out: &mut String) {
        out.push_str(&format!("{}{} {} ({:?})\n", "  ".repeat(depth), span.service, span.name, span.kind));
        for child in children.get(span.span_id.as_str()).into_iter().flatten() {
            walk(child, depth + 1, children, out);
        }
    }
    for span in spans.iter().filter(|s| s.parent_span_id.is_empty() || !ids.contains(s.parent_span_id.as_str())) {
        walk(span, 0, &children, &mut out);
    }
    out
}
