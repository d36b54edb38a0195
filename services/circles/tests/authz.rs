//! The circles service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens; a stranger can neither see a private group nor change it,
//! its members or its posts; operator and merchant actions refuse normal users; only an
//! account's owner broadcasts. Refusals change nothing.

mod common;
mod fixture;

use common::{TestApp, authed};
use fixture::Fixture;
use tonic::transport::Channel;
use tuan_proto::circles::v1 as pb;
use tuan_testkit::{
    authz::{self, CIRCLES, Callers},
    rpc::{assert_probes_are_public, bearer},
};

/// Events appended by API requests (consumers of other services' events append with other
/// causes, at any moment).
async fn snapshot(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE causation_id LIKE 'request:%'").fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn every_circles_rpc_refuses_whom_the_matrix_refuses_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let intruder = app.user();
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", app.port)).unwrap().connect().await.unwrap();
    let pool = app.pool().clone();
    let callers =
        Callers { intruder: bearer(&intruder.token), plain_user: bearer(&intruder.token), victim: f.owner.id };
    let checked = authz::check_service(
        &channel,
        CIRCLES,
        &app.config.common.auth,
        &callers,
        |m| f.request(m),
        || snapshot(&pool),
    )
    .await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);

    // The group is as its owner left it.
    let group = app.circle(&f.owner, &f.group.circle_id).await;
    assert_eq!(group, f.group);
    let members = app
        .client
        .list_members(authed(
            &f.owner.token,
            pb::ListMembersRequest { circle_id: f.group.circle_id.clone(), state: 0, page: None },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 2, "owner and member");
    // Only the owner sees how much of the broadcast quota is used.
    let target = || pb::AccountTarget { account_id: f.account.account_id.clone() };
    let seen = app.client.get_public_account(authed(&intruder.token, target())).await.unwrap().into_inner();
    assert_eq!((seen.broadcasts_this_month, seen.broadcast_quota), (0, 0));
    let own = app.client.get_public_account(authed(&f.owner.token, target())).await.unwrap().into_inner();
    assert!(own.broadcast_quota > 0);
    assert_probes_are_public(&channel).await;
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_refuses_everyone_but_operators_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", app.port)).unwrap().connect().await.unwrap();
    let pool = app.pool().clone();
    let checked = tuan_testkit::authz::check_admin(&channel, &app.config.common.auth, &pool).await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);
    app.stop().await;
}
