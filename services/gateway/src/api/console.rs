//! The merchant console's static build (services/gateway/console/dist), served on the
//! gateway's own port under `/console/`: the page and its gRPC-Web calls share one origin, and
//! there is no second server to run. Native gRPC and gRPC-Web routes are untouched: the router
//! sends `/console/*` here because this service is named `console`, as a gRPC service named
//! `tuan.gateway.v1.MobileGateway` gets `/tuan.gateway.v1.MobileGateway/*`.
//!
//! The build is text only (HTML, JS, CSS, SVG), so files are sent as UTF-8 strings; that keeps
//! this free of extra body crates. Anything else is refused rather than served corrupted.

use std::{
    convert::Infallible,
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tonic::{body::Body, server::NamedService};
use tower::Service;

/// The URL prefix of the console: the router's "service name".
pub const PREFIX: &str = "console";

/// Serves the files under `root` at `/console/<path>`; `/console/` alone is not routed (the
/// router needs a non-empty rest), so the page is `/console/index.html`.
#[derive(Clone)]
pub struct Console {
    root: Arc<PathBuf>,
}

impl Console {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: Arc::new(root.into()) }
    }
}

impl NamedService for Console {
    const NAME: &'static str = PREFIX;
}

impl Service<Request<Body>> for Console {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let root = self.root.clone();
        let (method, path) = (request.method().clone(), request.uri().path().to_string());
        Box::pin(async move { Ok(serve(&root, &method, &path).await) })
    }
}

async fn serve(root: &Path, method: &Method, path: &str) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET only");
    }
    let Some(relative) = file_path(path) else { return plain(StatusCode::NOT_FOUND, "not found") };
    let bytes = match tokio::fs::read(root.join(&relative)).await {
        Ok(bytes) => bytes,
        Err(_) => return plain(StatusCode::NOT_FOUND, "not found"),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        tracing::warn!(path, "console file is not UTF-8 text; not served");
        return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not a text file");
    };
    let mut response = Response::new(if method == Method::HEAD { Body::empty() } else { Body::new(text) });
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&relative)));
    // Vite puts a content hash in every asset's name; index.html must be re-read to see a new build.
    let cache = if relative.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The file a request path names, relative to the build directory; `None` for anything that
/// could step outside it (`..`, empty or hidden segments, backslashes, percent escapes).
fn file_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(&format!("/{PREFIX}/"))?;
    let rest = if rest.is_empty() { "index.html" } else { rest };
    let safe = rest.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    safe.then(|| rest.to_string())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") | Some("map") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(text.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_inside_the_build_are_files() {
        assert_eq!(file_path("/console/index.html").as_deref(), Some("index.html"));
        assert_eq!(file_path("/console/assets/index-Ab_1.js").as_deref(), Some("assets/index-Ab_1.js"));
        for bad in [
            "/console/../Cargo.toml",
            "/console/assets/../../x",
            "/console/.env",
            "/console//etc/passwd",
            "/console/a%2e%2e/b",
            "/console/a\\b",
            "/other/index.html",
        ] {
            assert_eq!(file_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(content_type("assets/x.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
    }
}
