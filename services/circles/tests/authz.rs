//! The circles service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens; a stranger can neither see a private group nor change it,
//! its members or its posts; operator and merchant actions refuse normal users; only an
//! account's owner broadcasts. Refusals change nothing.

mod common;
mod fixture;

use common::{TestApp, authed};
use fixture::Fixture;
use tuan_proto::circles::v1 as pb;
use tuan_testkit::{
    authz::{self, CIRCLES, Callers, assert_probes_are_public},
    request_event_count,
    rpc::bearer,
};

#[tokio::test]
async fn every_circles_rpc_refuses_whom_the_matrix_refuses_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let intruder = app.user();
    let channel = app.server.channel().await;
    let pool = app.pool().clone();
    let callers =
        Callers { intruder: bearer(&intruder.token), plain_user: bearer(&intruder.token), victim: f.owner.id };
    let checked = authz::check_service(
        &channel,
        CIRCLES,
        &app.config.common.auth,
        &callers,
        |m| f.request(m),
        // Consumers of other services' events append with other causes, at any moment.
        || request_event_count(&pool),
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
    let channel = app.server.channel().await;
    let pool = app.pool().clone();
    let checked = tuan_testkit::authz::check_admin(&channel, &app.config.common.auth, &pool).await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);
    app.stop().await;
}
