//! The merchant console's static build (services/gateway/console/dist), served on the
//! gateway's own port under `/console/`: the page and its gRPC-Web calls share one origin, and
//! there is no second server to run. Native gRPC and gRPC-Web routes are untouched: the router
//! sends `/console/*` here because this service is named `console`, as a gRPC service named
//! `tuan.gateway.v1.MobileGateway` gets `/tuan.gateway.v1.MobileGateway/*`.
//!
//! Files are sent as the bytes on disk, with the content type their extension names (pages,
//! scripts, styles, images, icons, fonts, JSON and source maps); unknown extensions go out as
//! `application/octet-stream`, never sniffed (`nosniff`).

use std::{
    convert::Infallible,
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use tonic::{body::Body, server::NamedService};
use tower::Service;

/// What the console's responses allow the page to load and call: its own origin only.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

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
    let length = bytes.len();
    let body = if method == Method::HEAD { Body::empty() } else { Body::new(Full::new(bytes::Bytes::from(bytes))) };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&relative)));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // Vite puts a content hash in every asset's name; index.html must be re-read to see a new build.
    let cache = if relative.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The page talks only to its own origin and runs only its own files: an injected script
    // could not load, and could not send a merchant's password or tokens anywhere else; no
    // other site may frame it (clickjacking), and its URLs are not sent to other sites.
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
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

/// The media type of a build file, by its extension (Vite's output and the usual static assets).
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
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
        for (path, expected) in [
            ("index.html", "text/html; charset=utf-8"),
            ("assets/index-Ab_1.js", "text/javascript; charset=utf-8"),
            ("assets/index-Ab_1.css", "text/css; charset=utf-8"),
            ("logo.svg", "image/svg+xml"),
            ("assets/photo.png", "image/png"),
            ("favicon.ico", "image/x-icon"),
            ("assets/inter.woff2", "font/woff2"),
            ("manifest.json", "application/json"),
            ("assets/index-Ab_1.js.map", "application/json"),
            ("LOGO.PNG", "image/png"),
            ("data.bin", "application/octet-stream"),
            ("README", "application/octet-stream"),
        ] {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }
}
