//! No wallet goes negative under any concurrency.

mod common;

use common::{TestApp, authed, dec, key, transfer};
use tonic::Code;

#[tokio::test]
async fn two_hundred_concurrent_transfers_from_a_wallet_that_affords_fifty() {
    let mut app = TestApp::spawn().await;
    let (payer, payee) = (app.user(), app.user());
    app.befriend(&payer, &payee).await;
    for _ in 0..50 {
        app.fund(&payer, "1.00").await;
    }
    assert_eq!(app.available(&payer, "CNY").await, dec("50.00"));

    let calls = (0..200).map(|_| {
        let mut client = app.client.clone();
        let request = authed(&payer.token, transfer(&payee, "1.00", &key()));
        tokio::spawn(async move { client.transfer(request).await })
    });
    let results = futures::future::join_all(calls).await;
    let mut ok = 0;
    for r in results {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{}", status.message());
                assert_eq!(status.message(), "insufficient funds");
            }
        }
    }
    assert_eq!(ok, 50, "exactly the affordable transfers succeed");
    assert_eq!(app.available(&payer, "CNY").await, dec("0.00"));
    assert_eq!(app.available(&payee, "CNY").await, dec("50.00"));
    assert_eq!(app.ledger_sum().await, dec("0"), "every entry balances");
    let transfers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM proj.ledger_postings WHERE kind = 'transfer' AND amount < 0")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(transfers, 50);
    app.stop().await;
}
