//! The gateway's rows of the authorization matrix (`tuan_testkit::authz`): every RPC but the
//! public ones refuses a missing, expired, forged or malformed token itself, before any backend
//! hears of the call; a valid token is forwarded as it came (the caller's own), and the
//! backend's refusal reaches the client unchanged. The backends' own rows are proven in their
//! services' tests/authz.rs.
//!
//! The backends here are one fake that records what reached it and refuses everything with
//! PERMISSION_DENIED, so the gateway's part is seen alone (see `fake_backend`).

mod fake_backend;

use std::time::Duration;

use fake_backend::Harness;
use prost::Message as _;
use tonic::Code;
use tuan_proto::gateway::v1 as gw;
use tuan_testkit::{
    authz::{self, Access, GATEWAY, assert_probes_are_public},
    rpc::{Schema, bad_credentials, bearer, call_raw, token},
};
use uuid::Uuid;

/// A request the gateway can decode and act on (the screens need a campaign id).
fn body(method: &str) -> Vec<u8> {
    match method {
        "CampaignDetail" => gw::CampaignDetailRequest { campaign_id: Uuid::now_v7().to_string() }.encode_to_vec(),
        _ => Vec::new(),
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_gateway_refuses_bad_tokens_itself_and_forwards_the_callers_own() {
    let h = Harness::start().await;
    let auth = h.config.common.auth.clone();
    let mut rows = 0;
    for rule in authz::rules_of(GATEWAY) {
        rows += 1;
        let rpc = rule.rpc;

        // Bad credentials never get past the gateway (public calls need none).
        if !rule.is_public() {
            for (what, credential) in bad_credentials(&auth, Uuid::now_v7()) {
                let status = call_raw(&h.channel, rpc, &credential, body(rule.method()), TIMEOUT)
                    .await
                    .expect_err("a bad credential must be refused");
                assert_eq!(status.code(), Code::Unauthenticated, "{rpc} with {what}: {}", status.message());
                assert_eq!(h.take_seen(), vec![], "{rpc} with {what} reached a backend");
            }
        }

        let user = Uuid::now_v7();
        let credential = bearer(&token(&auth, user, &[]));
        match rule.access {
            Access::Public => {
                // No token needed: the call goes to its backend, which answers for itself.
                let status = call_raw(&h.channel, rpc, &None, body(rule.method()), TIMEOUT).await.unwrap_err();
                assert_eq!(status.code(), Code::PermissionDenied, "{rpc}: {}", status.message());
                let expected = format!("/{}/{}", authz::USERS, rule.method());
                assert_eq!(h.take_seen(), vec![(expected, None)], "{rpc} without a token");
            }
            Access::Forwarded(backend) => {
                // Exactly one call, to the named backend RPC, with the caller's own token; its
                // refusal is passed on unchanged.
                let status = call_raw(&h.channel, rpc, &credential, body(rule.method()), TIMEOUT).await.unwrap_err();
                assert_eq!(status.code(), Code::PermissionDenied, "{rpc}: {}", status.message());
                assert_eq!(status.message(), "the fake backend refuses", "{rpc}");
                assert_eq!(h.take_seen(), vec![(format!("/{backend}"), credential.clone())], "{rpc}");
            }
            Access::SignedIn => {
                // A screen: whatever its parts do, each backend call carries the caller's token.
                let result = call_raw(&h.channel, rpc, &credential, body(rule.method()), TIMEOUT).await;
                if let Err(status) = &result {
                    assert_ne!(status.code(), Code::Unauthenticated, "{rpc}: {}", status.message());
                }
                let seen = h.take_seen();
                assert!(!seen.is_empty(), "{rpc} asked no backend");
                for (path, auth) in seen {
                    assert_eq!(auth, credential, "{rpc} called {path} without the caller's token");
                }
            }
            Access::Role(_) | Access::Party { .. } => panic!("{rpc}: the gateway decides no roles or parties"),
        }
    }
    assert_eq!(rows, Schema::tuan().service_methods(GATEWAY).count(), "every gateway RPC has a row");
}

#[tokio::test]
async fn the_wallet_screen_reads_the_callers_own_wallet_whatever_the_request_carries() {
    use tuan_proto::payments::v1 as pay;
    let h = Harness::start().await;
    let auth = h.config.common.auth.clone();
    let (me, someone) = (Uuid::now_v7(), Uuid::now_v7());
    let credential = bearer(&token(&auth, me, &[]));
    // A WalletRequest with someone else's id smuggled in as unknown fields.
    let mut body = gw::WalletRequest { statement_limit: 5 }.encode_to_vec();
    for field in [2u8, 3] {
        let id = someone.to_string();
        body.extend([(field << 3) | 2, id.len() as u8]);
        body.extend(id.as_bytes());
    }
    let _ = call_raw(&h.channel, &format!("{GATEWAY}/Wallet"), &credential, body, TIMEOUT).await;
    let sent = h.bodies_of(&format!("/{}/GetWallet", authz::PAYMENTS));
    assert_eq!(sent.len(), 1, "one wallet read");
    let request = pay::GetWalletRequest::decode(sent[0].as_slice()).unwrap();
    assert_eq!(request.user_id, "", "the screen names no user: payments answers for the token's");
    assert!(h.take_seen().iter().all(|(_, a)| *a == credential), "every call carries the caller's own token");
}

#[tokio::test]
async fn health_and_reflection_answer_without_a_token() {
    let h = Harness::start().await;
    assert_probes_are_public(&h.channel).await;
}
