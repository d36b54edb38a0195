//! The payments service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens; holds are for operators; nobody reads or moves money through
//! someone else's top-up, withdrawal, hold, bill, collection or circle balances; only
//! operators and merchants start charity campaigns. Refusals move no money: every balance and
//! the ledger stay as they were.

mod common;
mod fixture;

use common::{TestApp, authed};
use fixture::Fixture;
use tuan_proto::payments::v1 as pb;
use tuan_testkit::{
    authz::{self, Callers, PAYMENTS, assert_probes_are_public},
    rpc::bearer,
};

/// Events appended by API requests, every balance of every account, and the ledger's length.
async fn snapshot(pool: &sqlx::PgPool) -> (i64, String, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM events WHERE causation_id LIKE 'request:%'), \
                (SELECT COALESCE(string_agg(account || ' ' || currency || ' ' || balance::text, ', ' \
                                            ORDER BY account, currency), '') FROM proj.account_balances), \
                (SELECT count(*) FROM proj.ledger_postings)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_payments_rpc_refuses_whom_the_matrix_refuses_and_moves_no_money() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let intruder = app.user();
    let channel = app.server.channel().await;
    let pool = app.db.pool.clone();
    let before = app.wallet(&f.a).await;
    let callers = Callers { intruder: bearer(&intruder.token), plain_user: bearer(&intruder.token), victim: f.a.id };
    let checked = authz::check_service(
        &channel,
        PAYMENTS,
        &app.config.common.auth,
        &callers,
        |m| f.request(m),
        || snapshot(&pool),
    )
    .await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);

    // A's wallet, holds and statement are A's alone, and unchanged.
    assert_eq!(app.wallet(&f.a).await, before);
    let mine = app.wallet(&intruder).await;
    assert_eq!(mine.user_id, intruder.id.to_string());
    assert!(mine.open_holds.is_empty(), "{mine:?}");
    let statement = pb::GetStatementRequest { page: None, currency: String::new() };
    let lines = app.client.get_statement(authed(&intruder.token, statement)).await.unwrap().into_inner().lines;
    // Only what the intruder did with their own money (a top-up, maybe a donation from it,
    // depending on how fast the provider confirmed): nothing of A's.
    let own = ["top_up", "donation", "withdrawal"];
    assert!(lines.iter().all(|l| own.contains(&l.kind.as_str()) && l.counterparty_id.is_empty()), "{lines:?}");
    let bills = pb::ListBillsRequest { page: None, circle_id: f.circle.to_string() };
    let bills = app.client.list_bills(authed(&intruder.token, bills)).await.unwrap().into_inner();
    assert!(bills.bills.is_empty(), "{bills:?}");
    assert_eq!(app.ledger_sum().await, rust_decimal::Decimal::ZERO);
    assert_probes_are_public(&channel).await;
    app.stop().await;
}

#[tokio::test]
async fn a_wallet_is_read_by_its_owner_and_by_operators_only() {
    let mut app = TestApp::spawn().await;
    let f = Fixture::new(&mut app).await;
    let (intruder, operator) = (app.user(), app.operator());
    let of = |user: &str| pb::GetWalletRequest { user_id: user.to_string() };
    let a_own = app.wallet(&f.a).await;
    assert!(!a_own.balances.is_empty(), "the fixture gave A money: {a_own:?}");

    // A normal user naming someone else: refused the same way whether that user exists or
    // not, and nothing of the wallet in the refusal.
    for victim in [f.a.id, uuid::Uuid::now_v7()] {
        let refused = app.client.get_wallet(authed(&intruder.token, of(&victim.to_string()))).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{}", refused.message());
        assert_eq!(refused.message(), "only an operator may read another user's wallet");
    }
    // Naming oneself is the same as naming nobody.
    let named = app.client.get_wallet(authed(&f.a.token, of(&f.a.id.to_string()))).await.unwrap().into_inner();
    assert_eq!(named, a_own);
    // Malformed ids are refused as such.
    let bad = app.client.get_wallet(authed(&operator.token, of("not-a-user"))).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{}", bad.message());

    // An operator reads A's wallet: the same balances and holds A sees.
    let seen = app.client.get_wallet(authed(&operator.token, of(&f.a.id.to_string()))).await.unwrap().into_inner();
    assert_eq!(seen, a_own);
    assert_eq!(seen.user_id, f.a.id.to_string());
    // And with no user id, the operator's own (empty) wallet.
    let own = app.wallet(&operator).await;
    assert_eq!(own.user_id, operator.id.to_string());
    assert!(own.balances.is_empty(), "{own:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_refuses_everyone_but_operators_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    let channel = app.server.channel().await;
    let pool = app.db.pool.clone();
    let checked = tuan_testkit::authz::check_admin(&channel, &app.config.common.auth, &pool).await;
    println!("{checked:?}");
    assert!(checked.calls > checked.rpcs);
    app.stop().await;
}
