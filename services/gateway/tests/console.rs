//! The console's file service on the gateway's port: every file of the build directory is
//! served as the bytes on disk with the content type of its extension (binary images, icons
//! and fonts included), HEAD gives the headers alone, and nothing outside the directory is
//! reachable.

use std::path::PathBuf;

use gateway::{Application, config::GatewayConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A build directory of its own, removed when dropped.
struct Dist(PathBuf);

impl Drop for Dist {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes that are not UTF-8 (a PNG signature, a 0xFF), as real images and fonts have.
fn binary(tag: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80];
    bytes.extend_from_slice(tag);
    bytes.extend((0..=255u8).rev());
    bytes
}

fn files() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("index.html", b"<!doctype html><title>tuan</title>".to_vec(), "text/html; charset=utf-8"),
        ("assets/index-Ab1.js", "console.log('\u{56e2}')".as_bytes().to_vec(), "text/javascript; charset=utf-8"),
        ("assets/index-Ab1.css", b"body{margin:0}".to_vec(), "text/css; charset=utf-8"),
        ("assets/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(), "image/svg+xml"),
        ("assets/photo.png", binary(b"png"), "image/png"),
        ("favicon.ico", binary(b"ico"), "image/x-icon"),
        ("assets/inter.woff2", binary(b"wOF2"), "font/woff2"),
        ("manifest.json", br#"{"name":"tuan"}"#.to_vec(), "application/json"),
        ("assets/index-Ab1.js.map", br#"{"version":3}"#.to_vec(), "application/json"),
    ]
}

/// One HTTP/1.1 request; answers the status line, the headers (lower-cased names) and the body.
async fn get(port: u16, method: &str, path: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn every_build_file_is_served_as_its_bytes_with_its_content_type() {
    let dist = Dist(std::env::temp_dir().join(format!("tuan-console-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(dist.0.join("assets")).unwrap();
    for (path, bytes, _) in files() {
        std::fs::write(dist.0.join(path), bytes).unwrap();
    }
    std::fs::write(dist.0.join(".env"), b"SECRET=1").unwrap();

    let mut config = GatewayConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common.grpc_addr = "127.0.0.1:0".parse().unwrap();
    config.common.metrics_addr = None;
    config.gateway.console_dir = dist.0.to_string_lossy().into_owned();
    let app = Application::build(config).await.expect("build gateway");
    let port = app.port();
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    for (path, bytes, content_type) in files() {
        let (status, headers, body) = get(port, "GET", &format!("/console/{path}")).await;
        assert!(status.contains(" 200 "), "{path}: {status}");
        assert_eq!(header(&headers, "content-type"), Some(content_type), "{path}");
        assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"), "{path}");
        // Only its own origin: no script from elsewhere, no call to another gateway, no framing.
        let csp = header(&headers, "content-security-policy").unwrap_or_default();
        for directive in ["default-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
            assert!(csp.contains(directive), "{path}: {csp:?} lacks {directive}");
        }
        assert_eq!(header(&headers, "referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(body, bytes, "{path} is served byte for byte");
        assert_eq!(header(&headers, "content-length"), Some(bytes.len().to_string().as_str()), "{path}");
        let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
        assert_eq!(header(&headers, "cache-control"), Some(cache), "{path}");
    }

    // HEAD: the same headers, no body.
    let (status, headers, body) = get(port, "HEAD", "/console/assets/photo.png").await;
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    assert!(body.is_empty());

    // Missing, hidden or outside the directory: not found; other methods: not allowed.
    for path in ["/console/nope.png", "/console/.env", "/console/../Cargo.toml", "/console/assets/../../x"] {
        let (status, _, body) = get(port, "GET", path).await;
        assert!(status.contains(" 404 "), "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("SECRET"), "{path}");
    }
    let (status, _, _) = get(port, "POST", "/console/index.html").await;
    assert!(status.contains(" 405 "), "{status}");
}
