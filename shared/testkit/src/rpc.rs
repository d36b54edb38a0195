//! Calling any RPC by its path with raw protobuf bytes, the tokens a caller must never get
//! through with, and the check that a refused call changed nothing.
//!
//! Raw calls let one test walk every RPC of the descriptors (new ones included) without a
//! hand-written client call per method.

use std::{collections::HashMap, fmt::Debug, sync::OnceLock, time::Duration};

use bytes::{Buf as _, BufMut as _};
use prost::Message as _;
use prost_types::{DescriptorProto, FileDescriptorSet, MethodDescriptorProto};
use tonic::{
    Code, Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};
use tuan_runtime::{
    auth::{Caller, TokenKeys},
    config::AuthConfig,
};
use uuid::Uuid;

/// Message and service descriptors, by full name (without the leading dot).
pub struct Schema {
    pub messages: HashMap<String, DescriptorProto>,
    pub enums: HashMap<String, Vec<i32>>,
    /// `package.Service/Method` -> method.
    pub methods: Vec<(String, MethodDescriptorProto)>,
    /// Top-level messages by the file that defines them (`tuan/users/v1/events.proto`).
    pub files: HashMap<String, Vec<String>>,
}

impl Schema {
    /// Decodes an encoded `FileDescriptorSet`.
    pub fn decode(bytes: &[u8]) -> Self {
        let set = FileDescriptorSet::decode(bytes).expect("a valid file descriptor set");
        let mut schema =
            Schema { messages: HashMap::new(), enums: HashMap::new(), methods: Vec::new(), files: HashMap::new() };
        for file in &set.file {
            let package = file.package();
            for message in &file.message_type {
                schema.add_message(package, message);
                let name = format!("{package}.{}", message.name());
                schema.files.entry(file.name().to_string()).or_default().push(name);
            }
            for e in &file.enum_type {
                schema.enums.insert(format!("{package}.{}", e.name()), e.value.iter().map(|v| v.number()).collect());
            }
            for service in &file.service {
                for method in &service.method {
                    schema.methods.push((format!("{package}.{}/{}", service.name(), method.name()), method.clone()));
                }
            }
        }
        schema
    }

    fn add_message(&mut self, scope: &str, message: &DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            self.add_message(&name, nested);
        }
        for e in &message.enum_type {
            self.enums.insert(format!("{name}.{}", e.name()), e.value.iter().map(|v| v.number()).collect());
        }
        self.messages.insert(name, message.clone());
    }

    /// tuan's own APIs.
    pub fn tuan() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::decode(tuan_proto::FILE_DESCRIPTOR_SET))
    }

    /// Every API a tuan process serves: tuan's own, health and reflection.
    pub fn served() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let mut all = Schema::decode(tuan_proto::FILE_DESCRIPTOR_SET);
            for set in [
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            ] {
                let more = Schema::decode(set);
                all.messages.extend(more.messages);
                all.enums.extend(more.enums);
                all.methods.extend(more.methods);
                all.files.extend(more.files);
            }
            all
        })
    }

    /// Every `package.Service/Method`.
    pub fn rpcs(&self) -> Vec<String> {
        self.methods.iter().map(|(path, _)| path.clone()).collect()
    }

    pub fn method(&self, rpc: &str) -> Option<&MethodDescriptorProto> {
        self.methods.iter().find(|(path, _)| path == rpc).map(|(_, m)| m)
    }

    /// The methods of one service, as (`package.Service/Method`, descriptor).
    pub fn service_methods<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = &'a (String, MethodDescriptorProto)> + 'a {
        self.methods.iter().filter(move |(path, _)| path.split_once('/').map(|(s, _)| s) == Some(service))
    }
}

/// Sends and receives messages as the bytes they are on the wire.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len).to_vec()))
    }
}

/// What goes into the `authorization` metadata: a full header value, or nothing.
pub type Credential = Option<String>;

/// `Bearer <token>`.
pub fn bearer(token: &str) -> Credential {
    Some(format!("Bearer {token}"))
}

/// Calls `rpc` (`package.Service/Method`) with `body` (an encoded request message). A
/// streaming call sends `body` as its one message and answers with the first message back
/// (or its status); the stream is then dropped. Every call is bounded by `timeout`.
pub async fn call_raw(
    channel: &Channel,
    rpc: &str,
    credential: &Credential,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, Status> {
    let method = Schema::served().method(rpc);
    let (client_streaming, server_streaming) =
        method.map(|m| (m.client_streaming(), m.server_streaming())).unwrap_or_default();
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Some(value) = credential {
        let value = value.parse().map_err(|_| Status::invalid_argument("credential is not a header value"))?;
        metadata.insert("authorization", value);
    }
    let path = http::uri::PathAndQuery::from_maybe_shared(format!("/{rpc}")).expect("rpc path");
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    let call = async move {
        grpc.ready().await.map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
        if client_streaming {
            let messages = tonic::codegen::tokio_stream::once(body);
            let request = Request::from_parts(metadata, Default::default(), messages);
            let mut stream = grpc.streaming(request, path, RawCodec).await?.into_inner();
            Ok(stream.message().await?.unwrap_or_default())
        } else if server_streaming {
            let request = Request::from_parts(metadata, Default::default(), body);
            let mut stream = grpc.server_streaming(request, path, RawCodec).await?.into_inner();
            Ok(stream.message().await?.unwrap_or_default())
        } else {
            let request = Request::from_parts(metadata, Default::default(), body);
            Ok(grpc.unary(request, path, RawCodec).await?.into_inner())
        }
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(Status::deadline_exceeded(format!("{rpc} did not answer within {timeout:?}"))),
    }
}

/// Credentials that must never get a caller through: no token, an expired one, one signed
/// with another key, one from another issuer, garbage, and the wrong scheme. Each names
/// `user`, as a real stolen or stale token would.
pub fn bad_credentials(auth: &AuthConfig, user: Uuid) -> Vec<(&'static str, Credential)> {
    let caller = Caller { user_id: user, session_id: Uuid::now_v7(), roles: vec!["operator".into()] };
    let now = chrono::Utc::now();
    let mut other_issuer = auth.clone();
    other_issuer.issuer = format!("{}-impostor", auth.issuer);
    let (foreign, _) = TokenKeys::new(&other_issuer).issue(&caller, now, TTL).expect("foreign token");
    let (valid, _) = TokenKeys::new(auth).issue(&caller, now, TTL).expect("token");
    vec![
        ("no token", None),
        ("an expired token", bearer(&expired_token(auth, &caller))),
        ("a token signed with another key", bearer(&forged_token(auth, &caller))),
        ("a token of another issuer", bearer(&foreign)),
        ("a malformed token", bearer("not.a.jwt")),
        ("an empty bearer", Some("Bearer ".into())),
        ("a valid token under another scheme", Some(format!("Basic {valid}"))),
    ]
}

/// How long the tokens of the bad credentials are good for (expired: since 1 h 45 min).
const TTL: chrono::Duration = chrono::Duration::minutes(15);

/// A token for `caller` that expired 1 h 45 min ago (issued two hours ago).
pub fn expired_token(auth: &AuthConfig, caller: &Caller) -> String {
    let issued = chrono::Utc::now() - chrono::Duration::hours(2);
    TokenKeys::new(auth).issue(caller, issued, TTL).expect("expired token").0
}

/// A token for `caller`, current, but signed with a key other than `auth`'s.
pub fn forged_token(auth: &AuthConfig, caller: &Caller) -> String {
    let mut other_key = auth.clone();
    other_key.jwt_secret = "someone-elses-secret-entirely".to_string().into();
    TokenKeys::new(&other_key).issue(caller, chrono::Utc::now(), TTL).expect("forged token").0
}

/// A valid access token for `user` with `roles`, as the users service would issue.
pub fn token(auth: &AuthConfig, user: Uuid, roles: &[&str]) -> String {
    let caller =
        Caller { user_id: user, session_id: Uuid::now_v7(), roles: roles.iter().map(|r| r.to_string()).collect() };
    TokenKeys::new(auth).issue(&caller, chrono::Utc::now(), chrono::Duration::minutes(30)).expect("token").0
}

/// Runs `call`, expects it refused with `expected`, and checks that `snapshot` reads the same
/// before and after: a refused call must leave nothing behind. Returns the status.
pub async fn assert_refused_cleanly<T, S, F, Fut>(
    what: &str,
    expected: Code,
    snapshot: F,
    call: impl Future<Output = Result<T, Status>>,
) -> Status
where
    T: Debug,
    S: PartialEq + Debug,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let before = snapshot().await;
    let result = call.await;
    let after = snapshot().await;
    let status = match result {
        Ok(reply) => panic!("{what}: expected {expected:?}, but the call succeeded with {reply:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), expected, "{what}: wrong status ({})", status.message());
    assert_eq!(before, after, "{what}: refused with {expected:?}, yet something changed");
    status
}
