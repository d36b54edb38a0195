//! AA bills, collections, group balances and settle-up, charity, statements, and the provider.

mod common;

use common::{TestApp, authed, dec, equal_bill, key};
use tuan_proto::payments::v1 as pb;
use uuid::Uuid;

#[tokio::test]
async fn three_friends_split_100_yuan_and_the_collection_settles_it_exactly() {
    let mut app = TestApp::spawn().await;
    let (a, b, c) = (app.user(), app.user(), app.user());
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;
    app.fund(&b, "50.00").await;
    app.fund(&c, "50.00").await;
    let circle = Uuid::now_v7();
    app.join_circle(circle, &[&a, &b, &c]).await;

    let mut request = equal_bill("hotpot", "100.00", &[&a, &b, &c], &key());
    request.circle_id = circle.to_string();
    let bill = app.client.create_bill(authed(&a.token, request)).await.unwrap().into_inner();
    let parts: Vec<_> = bill.parts.iter().map(|p| p.amount.as_str()).collect();
    assert_eq!(parts, ["33.34", "33.33", "33.33"]);
    assert_eq!(bill.payers[0].amount, "100.00");

    let circle_group = || pb::GetGroupBalancesRequest {
        group: Some(pb::get_group_balances_request::Group::CircleId(circle.to_string())),
    };
    let balances = app.client.get_group_balances(authed(&b.token, circle_group())).await.unwrap().into_inner();
    let cny = &balances.currencies[0];
    let net = |u: &common::User| cny.balances.iter().find(|n| n.user_id == u.id.to_string()).unwrap().amount.clone();
    assert_eq!((net(&a), net(&b), net(&c)), ("66.66".into(), "-33.33".into(), "-33.33".into()));
    assert_eq!(cny.plan.len(), 2, "two debtors, one creditor: two transfers");
    assert_eq!(cny.method(), pb::SettlementMethod::Exact, "three members are planned exactly");

    let collection = app
        .client
        .open_collection(authed(&a.token, pb::OpenCollectionRequest { bill_id: bill.bill_id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(collection.requested_total, "66.66");
    let pay = |id: &str| pb::PayCollectionRequest { collection_id: id.into(), idempotency_key: key() };
    app.client.pay_collection(authed(&b.token, pay(&collection.collection_id))).await.unwrap();
    let reminded = app
        .client
        .remind_collection(authed(
            &a.token,
            pb::RemindCollectionRequest { collection_id: collection.collection_id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    let line = |col: &pb::Collection, u: &common::User| {
        col.entries.iter().find(|e| e.user_id == u.id.to_string()).unwrap().clone()
    };
    assert!(line(&reminded, &b).paid);
    assert_eq!((line(&reminded, &c).paid, line(&reminded, &c).reminders), (false, 1));
    app.client.pay_collection(authed(&c.token, pay(&collection.collection_id))).await.unwrap();
    let closed = app
        .client
        .close_collection(authed(
            &a.token,
            pb::CloseCollectionRequest { collection_id: collection.collection_id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(closed.closed);
    assert_eq!(closed.paid_total, "66.66");

    assert_eq!(app.available(&a, "CNY").await, dec("66.66"));
    assert_eq!(app.available(&b, "CNY").await, dec("16.67"));
    assert_eq!(app.available(&c, "CNY").await, dec("16.67"));
    let settled = app.client.get_group_balances(authed(&a.token, circle_group())).await.unwrap().into_inner();
    assert!(settled.currencies.is_empty(), "everyone is square: {settled:?}");
    assert_eq!(app.ledger_sum().await, dec("0"));

    // b's statement, one line per page, newest first.
    let page = |cursor: String| pb::GetStatementRequest {
        page: Some(tuan_proto::common::v1::PageRequest { limit: 1, cursor }),
        currency: String::new(),
    };
    let first = app.client.get_statement(authed(&b.token, page(String::new()))).await.unwrap().into_inner();
    assert_eq!((first.lines[0].kind.as_str(), first.lines[0].amount.as_str()), ("collection_payment", "-33.33"));
    assert_eq!(first.lines[0].counterparty_id, a.id.to_string());
    let second = app.client.get_statement(authed(&b.token, page(first.next_cursor))).await.unwrap().into_inner();
    assert_eq!((second.lines[0].kind.as_str(), second.lines[0].amount.as_str()), ("top_up", "50.00"));
    assert!(second.next_cursor.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn settle_up_pays_the_simplified_plan_and_keeps_other_balances() {
    let mut app = TestApp::spawn().await;
    let (a, b, c) = (app.user(), app.user(), app.user());
    app.befriend(&a, &b).await;
    app.befriend(&a, &c).await;
    app.fund(&b, "100.00").await;
    let circle = Uuid::now_v7();
    app.join_circle(circle, &[&a, &b, &c]).await;
    let mut request = equal_bill("boat", "90.00", &[&a, &b, &c], &key());
    request.circle_id = circle.to_string();
    app.client.create_bill(authed(&a.token, request)).await.unwrap();

    let settle = pb::SettleUpRequest {
        group: Some(pb::settle_up_request::Group::CircleId(circle.to_string())),
        currency: "CNY".into(),
        idempotency_key: key(),
    };
    let paid = app.client.settle_up(authed(&b.token, settle)).await.unwrap().into_inner();
    assert_eq!(paid.transfers.len(), 1);
    assert_eq!(paid.method(), pb::SettlementMethod::Exact);
    assert_eq!((paid.transfers[0].to_user_id.clone(), paid.transfers[0].amount.as_str()), (a.id.to_string(), "30.00"));
    assert_eq!(app.available(&b, "CNY").await, dec("70.00"));
    let group = pb::GetGroupBalancesRequest {
        group: Some(pb::get_group_balances_request::Group::CircleId(circle.to_string())),
    };
    let after = app.client.get_group_balances(authed(&a.token, group)).await.unwrap().into_inner();
    let balances: Vec<(String, String)> =
        after.currencies[0].balances.iter().map(|n| (n.user_id.clone(), n.amount.clone())).collect();
    let mut expected = vec![(a.id.to_string(), "30.00".to_string()), (c.id.to_string(), "-30.00".to_string())];
    expected.sort();
    assert_eq!(balances, expected);
    app.stop().await;
}

#[tokio::test]
async fn donations_show_a_public_running_total_and_donor_count() {
    let mut app = TestApp::spawn().await;
    let merchant = app.user_with_roles(&[tuan_runtime::auth::ROLE_MERCHANT]);
    let (x, y) = (app.user(), app.user());
    app.fund(&x, "20.00").await;
    app.fund(&y, "20.00").await;
    let create = pb::CreateCharityCampaignRequest {
        title: "flood relief".into(),
        description: String::new(),
        currency: "CNY".into(),
        goal: String::new(),
        idempotency_key: key(),
    };
    let campaign = app.client.create_charity_campaign(authed(&merchant.token, create)).await.unwrap().into_inner();
    for (donor, amount) in [(&x, "5.00"), (&y, "2.50"), (&x, "1.00")] {
        let donate = pb::DonateRequest {
            campaign_id: campaign.campaign_id.clone(),
            amount: amount.into(),
            idempotency_key: key(),
        };
        app.client.donate(authed(&donor.token, donate)).await.unwrap();
    }
    let seen = app
        .client
        .get_charity_campaign(authed(
            &y.token,
            pb::GetCharityCampaignRequest { campaign_id: campaign.campaign_id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((seen.raised.as_str(), seen.donor_count, seen.donation_count), ("8.50", 2, 3));
    assert_eq!(app.available(&x, "CNY").await, dec("14.00"));
    app.stop().await;
}

#[tokio::test]
async fn a_failed_top_up_moves_no_money() {
    let mut app = TestApp::spawn_with(|c| c.payments.provider.failure_rate = 1.0).await;
    let user = app.user();
    let request = pb::TopUpRequest { amount: "10.00".into(), currency: "CNY".into(), idempotency_key: key() };
    let pending = app.client.top_up(authed(&user.token, request)).await.unwrap().into_inner();
    assert_eq!(pending.status(), pb::ProviderRequestStatus::Pending);
    let done = app.wait_top_up(&user, &pending.request_id).await;
    assert_eq!(done.status(), pb::ProviderRequestStatus::Failed);
    assert!(!done.failure_reason.is_empty());
    assert_eq!(app.available(&user, "CNY").await, dec("0"));
    let postings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM proj.ledger_postings").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(postings, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_withdrawal_leaves_at_once_and_completes_through_clearing() {
    let mut app = TestApp::spawn().await;
    let user = app.user();
    app.fund(&user, "10.00").await;
    let withdraw = pb::WithdrawRequest {
        amount: "4.00".into(),
        currency: "CNY".into(),
        idempotency_key: key(),
        ..Default::default()
    };
    let pending = app.client.withdraw(authed(&user.token, withdraw)).await.unwrap().into_inner();
    assert_eq!(app.available(&user, "CNY").await, dec("6.00"), "the money leaves at once");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = app
            .client
            .get_withdrawal(authed(
                &user.token,
                pb::GetProviderRequestRequest { request_id: pending.request_id.clone() },
            ))
            .await
            .unwrap()
            .into_inner();
        if r.status() == pb::ProviderRequestStatus::Completed {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.account("withdrawal-clearing").await, dec("4.00"));
    app.stop().await;
}
