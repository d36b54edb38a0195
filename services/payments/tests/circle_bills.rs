//! AA bills in a circle, through gRPC: they follow the circle's membership (from the circles
//! service's events on the broker), not the friend list; blocks hold either way; a dissolved
//! circle takes no new bills but its bills stay payable. And bills with several payers split
//! each of the four ways, and a circle's balances in two currencies, never converted.

mod common;

use common::{TestApp, User, authed, dec, key};
use rust_decimal::Decimal;
use tonic::Code;
use tuan_proto::payments::v1 as pb;
use uuid::Uuid;

fn bill(
    total: &str,
    currency: &str,
    method: pb::SplitMethod,
    payers: &[(&User, &str)],
    participants: &[(&User, &str)],
    circle: Option<Uuid>,
) -> pb::CreateBillRequest {
    pb::CreateBillRequest {
        title: "Dinner".into(),
        total: total.into(),
        currency: currency.into(),
        split_method: method as i32,
        payers: payers
            .iter()
            .map(|(u, amount)| pb::Payer { user_id: u.id.to_string(), amount: amount.to_string() })
            .collect(),
        participants: participants
            .iter()
            .map(|(u, value)| pb::Participant { user_id: u.id.to_string(), value: value.to_string() })
            .collect(),
        circle_id: circle.map(|c| c.to_string()).unwrap_or_default(),
        idempotency_key: key(),
    }
}

/// A new circle of three users, none of them friends, as payments knows it.
async fn three_in_a_circle(app: &TestApp) -> (Uuid, User, User, User) {
    let (a, b, c) = (app.user(), app.user(), app.user());
    let circle = Uuid::now_v7();
    app.join_circle(circle, &[&a, &b, &c]).await;
    (circle, a, b, c)
}

/// An equal bill in `circle` paid by the caller for `people`.
fn equal(total: &str, people: &[&User], circle: Uuid) -> pb::CreateBillRequest {
    let participants: Vec<(&User, &str)> = people.iter().map(|u| (*u, "")).collect();
    bill(total, "CNY", pb::SplitMethod::Equal, &[], &participants, Some(circle))
}

fn balances_of(circle: Uuid) -> pb::GetGroupBalancesRequest {
    pb::GetGroupBalancesRequest { group: Some(pb::get_group_balances_request::Group::CircleId(circle.to_string())) }
}

fn settle(circle: Uuid, currency: &str) -> pb::SettleUpRequest {
    pb::SettleUpRequest {
        group: Some(pb::settle_up_request::Group::CircleId(circle.to_string())),
        currency: currency.into(),
        idempotency_key: key(),
    }
}

/// Each user's net in `currency` (absent: zero).
fn net(balances: &pb::GroupBalances, currency: &str, user: &User) -> Decimal {
    balances
        .currencies
        .iter()
        .filter(|c| c.currency == currency)
        .flat_map(|c| &c.balances)
        .find(|n| n.user_id == user.id.to_string())
        .map(|n| dec(&n.amount))
        .unwrap_or_default()
}

/// Requests' events, idempotency keys and bills: what a refused command must leave alone.
async fn written(app: &TestApp) -> (i64, i64) {
    let keys: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.idempotency_keys").fetch_one(&app.db.pool).await.unwrap();
    (app.request_event_count().await, keys)
}

macro_rules! refused {
    ($app:expr, $code:expr, $call:expr) => {
        tuan_testkit::refused!(snapshot: written(&$app), $code, $call)
    };
}

#[tokio::test]
async fn a_circle_bill_is_among_its_members_friends_or_not_and_refused_to_anyone_else() {
    let mut app = TestApp::spawn().await;
    // Nobody here is anybody's friend.
    let (circle, a, b, c) = three_in_a_circle(&app).await;
    let outsider = app.user();

    let recorded = app.client.create_bill(authed(&a.token, equal("90.00", &[&a, &b, &c], circle))).await.unwrap();
    assert_eq!(recorded.into_inner().circle_id, circle.to_string());
    let seen = app.client.get_group_balances(authed(&c.token, balances_of(circle))).await.unwrap().into_inner();
    assert_eq!((net(&seen, "CNY", &a), net(&seen, "CNY", &c)), (dec("60.00"), dec("-30.00")));

    // A non-member in the bill, a non-member recording one, a circle payments never heard of.
    let with_outsider = equal("40.00", &[&a, &outsider], circle);
    let refusal =
        refused!(app, Code::PermissionDenied, app.client.create_bill(authed(&a.token, with_outsider.clone())));
    assert!(refusal.message().contains(&outsider.id.to_string()), "{}", refusal.message());
    refused!(
        app,
        Code::PermissionDenied,
        app.client.create_bill(authed(&outsider.token, equal("40.00", &[&a], circle)))
    );
    let unknown = Uuid::now_v7();
    refused!(app, Code::PermissionDenied, app.client.create_bill(authed(&a.token, equal("40.00", &[&a, &b], unknown))));
    // Without a circle the friend list still rules: members who are not friends cannot.
    let no_circle = pb::CreateBillRequest { circle_id: String::new(), ..equal("40.00", &[&a, &b], circle) };
    refused!(app, Code::FailedPrecondition, app.client.create_bill(authed(&a.token, no_circle)));
    // Nothing was kept of the refusal, not even its key: once the outsider joins, the same
    // request (same key) records the bill.
    app.join_circle(circle, &[&outsider]).await;
    let later = app.client.create_bill(authed(&a.token, with_outsider)).await.unwrap().into_inner();
    assert_eq!(later.parts.len(), 2);

    // The circle's balances and settle-up are its members' only.
    let stranger = app.user();
    refused!(app, Code::PermissionDenied, app.client.get_group_balances(authed(&stranger.token, balances_of(circle))));
    refused!(app, Code::PermissionDenied, app.client.settle_up(authed(&stranger.token, settle(circle, "CNY"))));
    app.stop().await;
}

#[tokio::test]
async fn a_blocked_pair_cannot_share_a_circle_bill_whoever_records_it() {
    let mut app = TestApp::spawn().await;
    let (circle, a, b, c) = three_in_a_circle(&app).await;
    app.block(&b, &c).await;
    // The blocker, the blocked and a third member recording it: all refused.
    for (creator, people) in [(&b, vec![&b, &c]), (&c, vec![&c, &b]), (&a, vec![&a, &b, &c])] {
        let request = equal("30.00", &people, circle);
        let refusal = refused!(app, Code::PermissionDenied, app.client.create_bill(authed(&creator.token, request)));
        assert!(refusal.message().contains("blocked"), "{}", refusal.message());
    }
    // A bill without the pair is fine.
    app.client.create_bill(authed(&a.token, equal("30.00", &[&a, &b], circle))).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn leavers_still_settle_what_they_owe_and_a_dissolved_circle_takes_no_new_bills() {
    let mut app = TestApp::spawn().await;
    let (a, b, c, d) = (app.user(), app.user(), app.user(), app.user());
    for user in [&b, &c, &d] {
        app.fund(user, "100.00").await;
    }
    let circle = Uuid::now_v7();
    app.join_circle(circle, &[&a, &b, &c, &d]).await;
    let dinner = app
        .client
        .create_bill(authed(&a.token, equal("120.00", &[&a, &b, &c, &d], circle)))
        .await
        .unwrap()
        .into_inner();

    // B leaves owing 30.00: B still sees the balances and settles, then is out.
    app.leave_circle(circle, &b, false).await;
    refused!(app, Code::PermissionDenied, app.client.create_bill(authed(&a.token, equal("10.00", &[&a, &b], circle))));
    app.client.get_group_balances(authed(&b.token, balances_of(circle))).await.unwrap();
    let paid = app.client.settle_up(authed(&b.token, settle(circle, "CNY"))).await.unwrap().into_inner();
    assert_eq!(paid.transfers.iter().map(|t| dec(&t.amount)).sum::<Decimal>(), dec("30.00"));
    refused!(app, Code::PermissionDenied, app.client.get_group_balances(authed(&b.token, balances_of(circle))));

    // C is kicked owing 30.00: no new bill with C, but A's collection still reaches C.
    app.leave_circle(circle, &c, true).await;
    refused!(app, Code::PermissionDenied, app.client.create_bill(authed(&c.token, equal("10.00", &[&c, &a], circle))));
    let open = pb::OpenCollectionRequest { bill_id: dinner.bill_id.clone() };
    let collection = app.client.open_collection(authed(&a.token, open)).await.unwrap().into_inner();
    let pay = pb::PayCollectionRequest { collection_id: collection.collection_id.clone(), idempotency_key: key() };
    app.client.pay_collection(authed(&c.token, pay)).await.unwrap();
    assert_eq!(app.available(&c, "CNY").await, dec("70.00"));

    // Dissolved: no new bill, even among members; D still settles the old one.
    app.dissolve_circle(circle, &a).await;
    let refusal = refused!(
        app,
        Code::FailedPrecondition,
        app.client.create_bill(authed(&a.token, equal("10.00", &[&a, &d], circle)))
    );
    assert!(refusal.message().contains("dissolved"), "{}", refusal.message());
    let seen = app.client.get_group_balances(authed(&d.token, balances_of(circle))).await.unwrap().into_inner();
    assert_eq!(net(&seen, "CNY", &d), dec("-30.00"));
    app.client.settle_up(authed(&d.token, settle(circle, "CNY"))).await.unwrap();
    let settled = app.client.get_group_balances(authed(&a.token, balances_of(circle))).await.unwrap().into_inner();
    assert!(settled.currencies.is_empty(), "everyone is square: {settled:?}");
    assert_eq!(app.available(&a, "CNY").await, dec("90.00"));
    assert_eq!(app.ledger_sum().await, Decimal::ZERO);
    app.stop().await;
}

#[tokio::test]
async fn a_bill_with_two_payers_splits_each_of_the_four_ways_exactly_and_balances_follow() {
    use pb::SplitMethod::{Equal, Exact, Percent, Shares};
    let mut app = TestApp::spawn().await;
    let (circle, a, b, c) = three_in_a_circle(&app).await;
    let cases = [
        (Equal, "100.00", ("60.00", "40.00"), ["", "", ""], ["33.34", "33.33", "33.33"]),
        (Exact, "100.00", ("60.00", "40.00"), ["50.00", "30.00", "20.00"], ["50.00", "30.00", "20.00"]),
        // 50.005 / 25.0025 / 25.0025: the fen left goes to the largest remainder.
        (Percent, "100.01", ("60.01", "40.00"), ["50", "25", "25"], ["50.01", "25.00", "25.00"]),
        // 42.857.. / 28.571.. / 28.571..
        (Shares, "100.00", ("60.00", "40.00"), ["3", "2", "2"], ["42.86", "28.57", "28.57"]),
    ];
    let mut expected = [Decimal::ZERO; 3];
    for (method, total, (paid_a, paid_b), values, parts) in cases {
        let participants = [(&a, values[0]), (&b, values[1]), (&c, values[2])];
        let request = bill(total, "CNY", method, &[(&a, paid_a), (&b, paid_b)], &participants, Some(circle));
        // B records it: any member who takes part may.
        let recorded = app.client.create_bill(authed(&b.token, request)).await.unwrap().into_inner();
        let got: Vec<&str> = recorded.parts.iter().map(|p| p.amount.as_str()).collect();
        assert_eq!(got, parts, "{method:?}");
        assert_eq!(recorded.parts.iter().map(|p| dec(&p.amount)).sum::<Decimal>(), dec(total), "{method:?}");
        let payers: Vec<(String, &str)> =
            recorded.payers.iter().map(|p| (p.user_id.clone(), p.amount.as_str())).collect();
        assert_eq!(payers, [(a.id.to_string(), paid_a), (b.id.to_string(), paid_b)]);
        expected[0] += dec(paid_a) - dec(parts[0]);
        expected[1] += dec(paid_b) - dec(parts[1]);
        expected[2] -= dec(parts[2]);
    }
    assert_eq!(expected, [dec("63.80"), dec("43.10"), dec("-106.90")]);
    let seen = app.client.get_group_balances(authed(&c.token, balances_of(circle))).await.unwrap().into_inner();
    assert_eq!([net(&seen, "CNY", &a), net(&seen, "CNY", &b), net(&seen, "CNY", &c)], expected);
    let plan = &seen.currencies[0].plan;
    assert_eq!(plan.iter().map(|t| dec(&t.amount)).sum::<Decimal>(), dec("106.90"), "{plan:?}");
    assert!(plan.iter().all(|t| t.from_user_id == c.id.to_string()), "{plan:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_circle_in_two_currencies_keeps_and_settles_each_apart() {
    let mut app = TestApp::spawn().await;
    let (circle, a, b, c) = three_in_a_circle(&app).await;
    app.fund(&a, "50.00").await;
    app.fund_in(&a, "50.00", "USD").await;
    app.fund(&c, "50.00").await;
    app.fund_in(&c, "50.00", "USD").await;
    let everyone = [(&a, ""), (&b, ""), (&c, "")];
    let cny = bill("90.00", "CNY", pb::SplitMethod::Equal, &[], &everyone, Some(circle));
    app.client.create_bill(authed(&a.token, cny)).await.unwrap();
    let usd = bill("30.00", "USD", pb::SplitMethod::Equal, &[], &everyone, Some(circle));
    app.client.create_bill(authed(&b.token, usd)).await.unwrap();

    let seen = app.client.get_group_balances(authed(&a.token, balances_of(circle))).await.unwrap().into_inner();
    let mut currencies: Vec<&str> = seen.currencies.iter().map(|c| c.currency.as_str()).collect();
    currencies.sort();
    assert_eq!(currencies, ["CNY", "USD"]);
    let nets = |seen: &pb::GroupBalances, currency: &str| [&a, &b, &c].map(|u| net(seen, currency, u));
    assert_eq!(nets(&seen, "CNY"), [dec("60.00"), dec("-30.00"), dec("-30.00")]);
    assert_eq!(nets(&seen, "USD"), [dec("-10.00"), dec("20.00"), dec("-10.00")]);
    for balances in &seen.currencies {
        assert!(balances.plan.iter().all(|t| t.currency == balances.currency), "{balances:?}");
    }

    // A is owed 60 yuan but owes 10 dollars: settling USD pays dollars, nothing is netted.
    let paid = app.client.settle_up(authed(&a.token, settle(circle, "USD"))).await.unwrap().into_inner();
    let transfers: Vec<(String, &str, &str)> =
        paid.transfers.iter().map(|t| (t.to_user_id.clone(), t.amount.as_str(), t.currency.as_str())).collect();
    assert_eq!(transfers, [(b.id.to_string(), "10.00", "USD")]);
    assert_eq!((app.available(&a, "USD").await, app.available(&a, "CNY").await), (dec("40.00"), dec("50.00")));
    let nothing = app.client.settle_up(authed(&a.token, settle(circle, "CNY"))).await.unwrap_err();
    assert_eq!(nothing.code(), Code::FailedPrecondition, "A owes no yuan: {}", nothing.message());
    app.client.settle_up(authed(&c.token, settle(circle, "CNY"))).await.unwrap();
    assert_eq!((app.available(&c, "CNY").await, app.available(&c, "USD").await), (dec("20.00"), dec("50.00")));

    let after = app.client.get_group_balances(authed(&b.token, balances_of(circle))).await.unwrap().into_inner();
    assert_eq!(nets(&after, "CNY"), [dec("30.00"), dec("-30.00"), dec("0")]);
    assert_eq!(nets(&after, "USD"), [dec("0"), dec("10.00"), dec("-10.00")]);
    app.stop().await;
}
