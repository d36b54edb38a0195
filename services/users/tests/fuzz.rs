//! Random and malformed requests to every users RPC (`tuan_testkit::fuzz`): no panic, never
//! INTERNAL or UNKNOWN, bad tokens always UNAUTHENTICATED, and a refusal appends no event.
//! 64 cases per RPC; `PROPTEST_CASES` raises it.

mod common;
mod fixture;

use common::{OPERATOR_PHONE, TestApp, phone};
use fixture::Fixture;
use tuan_testkit::{
    authz::{ADMIN, USERS},
    event_count,
    fuzz::{self, Target},
    rpc::{bad_credentials, bearer},
};
use uuid::Uuid;

#[test]
fn every_users_rpc_survives_random_and_malformed_requests() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut app = runtime.block_on(TestApp::spawn());
    let (f, operator) = runtime.block_on(async {
        let f = Fixture::new(&mut app).await;
        (f, app.sign_up_operator(OPERATOR_PHONE, "Ops").await)
    });
    let (a, b) = (&f.a, runtime.block_on(app.sign_up(&phone(), "Bo")));
    let channel = runtime.block_on(app.server.channel());
    let mut target = Target::new(channel.clone(), USERS);
    target.callers = vec![
        ("a user", bearer(&a.access_token), true),
        ("a user", bearer(&a.access_token), true),
        ("another user", bearer(&b.access_token), true),
        ("an operator", bearer(&operator.access_token), true),
    ];
    let bad = bad_credentials(&app.config.common.auth, Uuid::parse_str(&a.user_id).unwrap());
    target.callers.extend(bad.into_iter().take(3).map(|(what, credential)| (what, credential, false)));
    target.hints.ids = vec![a.user_id.clone(), f.b.user_id.clone(), b.user_id.clone(), operator.user_id.clone()];
    target.templates = fuzz::templates(USERS, |m| f.request(m));
    let pool = app.db.pool.clone();
    let report = fuzz::run(&runtime, &target, || event_count(&pool));
    println!("users: {report}");

    // The admin API every service with a database serves (one implementation, in tuan_host):
    // an operator's random requests, a normal user's and bad tokens. Fewer cases: some rebuild.
    let mut admin = Target::new(channel, ADMIN);
    admin.callers =
        vec![("an operator", bearer(&operator.access_token), true), ("a user", bearer(&a.access_token), true)];
    let bad = bad_credentials(&app.config.common.auth, Uuid::parse_str(&a.user_id).unwrap());
    admin.callers.extend(bad.into_iter().take(3).map(|(what, credential)| (what, credential, false)));
    admin.templates = fuzz::templates(ADMIN, tuan_testkit::authz::admin_request);
    admin.cases = fuzz::cases(16);
    let report = fuzz::run(&runtime, &admin, || event_count(&pool));
    println!("users admin: {report}");
    runtime.block_on(app.stop());
}
