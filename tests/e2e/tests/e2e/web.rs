//! gRPC-Web: a browser page (the merchant console) calls the gateway over HTTP/1.1, with CORS,
//! and reads the gRPC status from the grpc-web trailer frame. The client here is a plain TCP
//! socket writing what a grpc-web library writes, so nothing but the wire format is assumed.

use std::time::Duration;

use prost::Message;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tuan_proto::{gateway::v1 as gw, users::v1 as users};

use crate::{
    flows::{PASSWORD, login},
    harness::{Options, Stack, exclusive},
};

const ORIGIN: &str = crate::harness::CONSOLE_ORIGIN;
const GRPC_WEB: &str = "application/grpc-web+proto";

/// An HTTP/1.1 response, its body de-chunked.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The grpc-web frames of the body: (is trailers, payload).
    fn frames(&self) -> Vec<(bool, Vec<u8>)> {
        let mut frames = Vec::new();
        let mut rest = &self.body[..];
        while rest.len() >= 5 {
            let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
            assert!(rest.len() >= 5 + len, "truncated grpc-web frame: {self:?}");
            frames.push((rest[0] & 0x80 != 0, rest[5..5 + len].to_vec()));
            rest = &rest[5 + len..];
        }
        assert!(rest.is_empty(), "trailing bytes after the grpc-web frames: {rest:?}");
        frames
    }

    /// The one message of a unary answer.
    fn message<M: Message + Default>(&self) -> M {
        let data: Vec<_> = self.frames().into_iter().filter(|(trailers, _)| !trailers).collect();
        assert_eq!(data.len(), 1, "one message frame expected: {self:?}");
        M::decode(&data[0].1[..]).expect("decode the message frame")
    }

    /// The trailers of the grpc-web trailer frame (`name:value` lines), names lower-cased.
    fn trailers(&self) -> Vec<(String, String)> {
        let frames = self.frames();
        let Some((_, text)) = frames.iter().find(|(trailers, _)| *trailers) else { return Vec::new() };
        String::from_utf8_lossy(text)
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect()
    }

    /// `grpc-status` from the trailer frame, or from the headers of a trailers-only answer.
    fn grpc_status(&self) -> Option<String> {
        self.trailers()
            .into_iter()
            .find(|(k, _)| k == "grpc-status")
            .map(|(_, v)| v)
            .or_else(|| self.header("grpc-status").map(str::to_string))
    }
}

/// Sends one HTTP/1.1 request (the connection closes after it) and reads the whole answer.
async fn http1(addr: &str, head: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the gateway");
    let request = format!("{head}Host: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(request.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("the gateway answered within 30 s")
        .expect("read the answer");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    assert!(status_line.starts_with("HTTP/1.1 "), "an HTTP/1.1 answer: {status_line}");
    let status = status_line[9..12].parse().expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
            let size_text = String::from_utf8_lossy(&rest[..line_end]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).expect("chunk size");
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body
    } else {
        rest.to_vec()
    };
    Reply { status, headers, body }
}

/// A unary grpc-web call as a browser makes it: POST, one length-prefixed message.
async fn grpc_web(addr: &str, method: &str, token: Option<&str>, message: &impl Message) -> Reply {
    let payload = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /tuan.gateway.v1.MobileGateway/{method} HTTP/1.1\r\nContent-Type: {GRPC_WEB}\r\n\
         Accept: {GRPC_WEB}\r\nX-Grpc-Web: 1\r\nX-User-Agent: grpc-web-javascript/0.1\r\nOrigin: {ORIGIN}\r\n{auth}"
    );
    let reply = http1(addr, &head, &frame).await;
    assert_eq!(reply.status, 200, "grpc-web answers carry the status inside: {reply:?}");
    assert_eq!(reply.header("access-control-allow-origin"), Some(ORIGIN), "{reply:?}");
    let exposed = reply.header("access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("grpc-status") && exposed.contains("grpc-message"), "{reply:?}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_up_logs_in_and_reads_home_over_grpc_web() {
    let _turn = exclusive().await;
    let stack = Stack::start("grpc_web", Options::default()).await;
    let addr = stack.gateway_url.trim_start_matches("http://").to_string();

    // The CORS preflight a page sends before its first call.
    let preflight = http1(
        &addr,
        &format!(
            "OPTIONS /tuan.gateway.v1.MobileGateway/SignUp HTTP/1.1\r\nOrigin: {ORIGIN}\r\n\
             Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type,x-grpc-web,x-user-agent,authorization\r\n"
        ),
        b"",
    )
    .await;
    assert_eq!(preflight.status, 200, "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), Some(ORIGIN), "{preflight:?}");
    let methods = preflight.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{preflight:?}");
    let headers = preflight.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("x-grpc-web"), "{preflight:?}");

    // A page from an origin not on the list gets no CORS grant: the browser refuses it the
    // answer, so it cannot call with a user's token.
    let unlisted = http1(
        &addr,
        "OPTIONS /tuan.gateway.v1.MobileGateway/SignUp HTTP/1.1\r\nOrigin: https://evil.example\r\n\
         Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type,authorization\r\n",
        b"",
    )
    .await;
    assert_eq!(unlisted.header("access-control-allow-origin"), None, "{unlisted:?}");

    // The page asks for a code; the person reads it in the SMS.
    let phone = "+8613900000061";
    let ask = users::RequestPhoneCodeRequest { phone: phone.into(), purpose: users::PhoneCodePurpose::SignUp as i32 };
    let users_db = &stack.db("users").pool;
    let before = tuan_testkit::sms::last_id(users_db, phone).await;
    let reply = grpc_web(&addr, "RequestPhoneCode", None, &ask).await;
    assert_eq!(reply.grpc_status().as_deref(), Some("0"), "{reply:?}");
    let code = tuan_testkit::sms::next(users_db, phone, before).await.code.expect("a sign-up code");

    // Sign-up answers with the tokens in a message frame and status 0 in the trailer frame.
    let sign_up = users::SignUpRequest {
        phone: phone.into(),
        password: PASSWORD.into(),
        display_name: "Console".into(),
        region: "CN-31".into(),
        code,
    };
    let reply = grpc_web(&addr, "SignUp", None, &sign_up).await;
    assert_eq!(reply.header("content-type"), Some(GRPC_WEB), "{reply:?}");
    assert!(reply.trailers().iter().any(|(k, v)| k == "grpc-status" && v == "0"), "{reply:?}");
    let tokens: users::AuthTokens = reply.message();
    assert!(!tokens.access_token.is_empty() && !tokens.user_id.is_empty());

    // A wrong password is the users service's UNAUTHENTICATED, passed through to the page.
    let bad = users::LoginRequest { phone: phone.into(), password: "not-the-password-2026".into() };
    let reply = grpc_web(&addr, "Login", None, &bad).await;
    assert_eq!(reply.grpc_status().as_deref(), Some("16"), "{reply:?}");

    // A screen, with the token; and without one the gateway itself refuses.
    let reply = grpc_web(&addr, "Home", Some(&tokens.access_token), &gw::HomeRequest {}).await;
    assert_eq!(reply.grpc_status().as_deref(), Some("0"), "{reply:?}");
    let home: gw::HomeScreen = reply.message();
    assert!(home.missing_parts.is_empty(), "{:?}", home.missing_parts);
    let reply = grpc_web(&addr, "Home", None, &gw::HomeRequest {}).await;
    assert_eq!(reply.grpc_status().as_deref(), Some("16"), "{reply:?}");

    // Native gRPC on the same port is unchanged.
    let mut gw = stack.gateway().await;
    let user = crate::flows::User { id: tokens.user_id.clone(), token: tokens.access_token, phone: phone.into() };
    let again = login(&mut gw, &user).await;
    assert!(!again.token.is_empty());
}
