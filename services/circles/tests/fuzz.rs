//! Random and malformed requests to every circles RPC (`tuan_testkit::fuzz`): no panic, never
//! INTERNAL or UNKNOWN, bad tokens always UNAUTHENTICATED, and a refusal appends no event.
//! 64 cases per RPC; `PROPTEST_CASES` raises it.

mod common;
mod fixture;

use common::TestApp;
use fixture::Fixture;
use tuan_testkit::{
    authz::CIRCLES,
    fuzz::{self, Target},
    request_event_count,
    rpc::{bad_credentials, bearer},
};

#[test]
fn every_circles_rpc_survives_random_and_malformed_requests() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut app = runtime.block_on(TestApp::spawn());
    let f = runtime.block_on(Fixture::new(&mut app));
    let operator = app.operator();
    let ids = vec![
        f.owner.id.to_string(),
        f.member.id.to_string(),
        f.invitee.id.to_string(),
        operator.id.to_string(),
        f.group.circle_id.clone(),
        f.account.account_id.clone(),
    ];
    let channel = runtime.block_on(app.server.channel());
    let mut target = Target::new(channel, CIRCLES);
    target.callers = vec![
        ("the owner", bearer(&f.owner.token), true),
        ("the owner", bearer(&f.owner.token), true),
        ("a member", bearer(&f.member.token), true),
        ("an invitee", bearer(&f.invitee.token), true),
        ("an operator", bearer(&operator.token), true),
    ];
    let bad = bad_credentials(&app.config.common.auth, f.owner.id);
    target.callers.extend(bad.into_iter().take(3).map(|(what, credential)| (what, credential, false)));
    target.hints.ids = ids;
    target.templates = fuzz::templates(CIRCLES, |m| f.request(m));
    let pool = app.pool().clone();
    // Consumers append with other causes, at any moment: only requests' events count.
    let report = fuzz::run(&runtime, &target, || request_event_count(&pool));
    println!("circles: {report}");
    runtime.block_on(app.stop());
}
