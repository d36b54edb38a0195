//! Random and malformed requests to every gateway RPC (`tuan_testkit::fuzz`), in front of a fake
//! backend that refuses everything: no panic, never INTERNAL or UNKNOWN, a bad token always
//! UNAUTHENTICATED, and never a call reaching a backend with a token other than the caller's
//! valid one. 64 cases per RPC; `PROPTEST_CASES` raises it.

mod fake_backend;

use fake_backend::Harness;
use tuan_testkit::{
    authz::GATEWAY,
    fuzz::{self, Target},
    rpc::{bad_credentials, bearer, token},
};
use uuid::Uuid;

#[test]
fn every_gateway_rpc_survives_random_and_malformed_requests() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let h = runtime.block_on(Harness::start());
    let auth = &h.config.common.auth;
    let users = [Uuid::now_v7(), Uuid::now_v7()];
    let valid: Vec<_> = users.iter().map(|u| bearer(&token(auth, *u, &[]))).collect();
    let mut target = Target::new(h.channel.clone(), GATEWAY);
    target.callers = vec![
        ("a user", valid[0].clone(), true),
        ("a user", valid[0].clone(), true),
        ("another user", valid[1].clone(), true),
    ];
    let bad = bad_credentials(auth, users[0]);
    target.callers.extend(bad.into_iter().take(3).map(|(what, credential)| (what, credential, false)));
    target.hints.ids = users.iter().map(Uuid::to_string).collect();
    // Calls that reached a backend with a credential that is not a caller's valid token: none,
    // ever (public calls carry none).
    let foreign = || {
        let seen = h.seen.lock().unwrap();
        let count =
            seen.iter().filter(|(_, auth)| auth.as_ref().is_some_and(|a| !valid.contains(&Some(a.clone())))).count();
        std::future::ready(count)
    };
    let report = fuzz::run(&runtime, &target, foreign);
    println!("gateway: {report}");
    assert_eq!(runtime.block_on(foreign()), 0);
}
