//! The payments service's rows of the authorization matrix (`tuan_testkit::authz::MATRIX`):
//! every RPC refuses bad tokens; holds are for operators; nobody reads or moves money through
//! someone else's top-up, withdrawal, hold, bill, collection or circle balances; only
//! operators and merchants start charity campaigns. Refusals move no money: every balance and
//! the ledger stay as they were.

mod common;

use std::time::Duration;

use common::{TestApp, User, authed, equal_bill, key};
use prost::Message as _;
use tonic::transport::Channel;
use tuan_proto::payments::v1 as pb;
use tuan_testkit::{
    authz::{self, Callers, PAYMENTS},
    rpc::{assert_probes_are_public, bearer},
};
use uuid::Uuid;

/// A has money, a settled top-up, a withdrawal, a hold placed by an operator, and a bill with
/// friend B in circle Q whose collection A opened. X is nobody to any of them.
struct Fixture {
    a: User,
    b: User,
    circle: Uuid,
    top_up: String,
    withdrawal: String,
    hold: String,
    bill: pb::Bill,
    charity: pb::CharityCampaign,
}

impl Fixture {
    async fn new(app: &mut TestApp) -> Self {
        let (a, b, operator) = (app.user(), app.user(), app.operator());
        app.befriend(&a, &b).await;
        app.fund(&a, "100.00").await;
        let top_up = pb::TopUpRequest { amount: "10.00".into(), currency: "CNY".into(), idempotency_key: key() };
        let top_up = app.client.top_up(authed(&a.token, top_up)).await.unwrap().into_inner().request_id;
        app.wait_top_up(&a, &top_up).await;
        let withdraw = pb::WithdrawRequest { amount: "1.00".into(), currency: "CNY".into(), idempotency_key: key() };
        let withdrawal = app.client.withdraw(authed(&a.token, withdraw)).await.unwrap().into_inner().request_id;
        wait_withdrawal(app, &a, &withdrawal).await;
        let hold = pb::PlaceHoldRequest {
            hold_id: Uuid::now_v7().to_string(),
            user_id: a.id.to_string(),
            merchant_id: Uuid::now_v7().to_string(),
            amount: "5.00".into(),
            currency: "CNY".into(),
            campaign_id: String::new(),
            team_id: String::new(),
            expires_at_micros: 0,
            idempotency_key: key(),
        };
        let hold = app.client.place_hold(authed(&operator.token, hold)).await.unwrap().into_inner().hold_id;
        let circle = Uuid::now_v7();
        let bill =
            pb::CreateBillRequest { circle_id: circle.to_string(), ..equal_bill("Hotpot", "30.00", &[&a, &b], &key()) };
        let bill = app.client.create_bill(authed(&a.token, bill)).await.unwrap().into_inner();
        let open = pb::OpenCollectionRequest { bill_id: bill.bill_id.clone() };
        app.client.open_collection(authed(&a.token, open)).await.unwrap();
        let charity = pb::CreateCharityCampaignRequest {
            title: "Flood relief".into(),
            description: String::new(),
            currency: "CNY".into(),
            goal: String::new(),
            idempotency_key: key(),
        };
        let charity = app.client.create_charity_campaign(authed(&operator.token, charity)).await.unwrap().into_inner();
        Self { a, b, circle, top_up, withdrawal, hold, bill, charity }
    }

    /// The request each RPC gets in this test, naming the victims' things.
    fn request(&self, method: &str) -> Vec<u8> {
        let cny = |amount: &str| (amount.to_string(), "CNY".to_string());
        let collection = self.bill.bill_id.clone();
        let circle = || Some(self.circle.to_string());
        match method {
            "TopUp" => {
                let (amount, currency) = cny("10.00");
                pb::TopUpRequest { amount, currency, idempotency_key: key() }.encode_to_vec()
            }
            "Withdraw" => {
                let (amount, currency) = cny("1.00");
                pb::WithdrawRequest { amount, currency, idempotency_key: key() }.encode_to_vec()
            }
            "GetTopUp" => pb::GetProviderRequestRequest { request_id: self.top_up.clone() }.encode_to_vec(),
            "GetWithdrawal" => pb::GetProviderRequestRequest { request_id: self.withdrawal.clone() }.encode_to_vec(),
            "Transfer" => pb::TransferRequest {
                to_user_id: self.a.id.to_string(),
                amount: "1.00".into(),
                currency: "CNY".into(),
                memo: String::new(),
                idempotency_key: key(),
            }
            .encode_to_vec(),
            "GetWallet" => pb::GetWalletRequest {}.encode_to_vec(),
            "GetStatement" => pb::GetStatementRequest { page: None, currency: String::new() }.encode_to_vec(),
            "PlaceHold" => pb::PlaceHoldRequest {
                hold_id: Uuid::now_v7().to_string(),
                user_id: self.a.id.to_string(),
                merchant_id: Uuid::now_v7().to_string(),
                amount: "50.00".into(),
                currency: "CNY".into(),
                campaign_id: String::new(),
                team_id: String::new(),
                expires_at_micros: 0,
                idempotency_key: key(),
            }
            .encode_to_vec(),
            "CaptureHold" => pb::CaptureHoldRequest {
                hold_id: self.hold.clone(),
                amount: String::new(),
                r#final: true,
                idempotency_key: key(),
            }
            .encode_to_vec(),
            "ReleaseHold" => {
                pb::ReleaseHoldRequest { hold_id: self.hold.clone(), reason: "mine".into(), idempotency_key: key() }
                    .encode_to_vec()
            }
            "GetHold" => pb::GetHoldRequest { hold_id: self.hold.clone() }.encode_to_vec(),
            // A bill in A's and B's names, paid by A: not the caller's to record.
            "CreateBill" => pb::CreateBillRequest {
                payers: vec![pb::Payer { user_id: self.a.id.to_string(), amount: "30.00".into() }],
                ..equal_bill("Fake", "30.00", &[&self.a, &self.b], &key())
            }
            .encode_to_vec(),
            "GetBill" => pb::GetBillRequest { bill_id: self.bill.bill_id.clone() }.encode_to_vec(),
            "ListBills" => pb::ListBillsRequest { page: None, circle_id: self.circle.to_string() }.encode_to_vec(),
            "OpenCollection" => pb::OpenCollectionRequest { bill_id: self.bill.bill_id.clone() }.encode_to_vec(),
            "PayCollection" => {
                pb::PayCollectionRequest { collection_id: collection, idempotency_key: key() }.encode_to_vec()
            }
            "RemindCollection" => pb::RemindCollectionRequest { collection_id: collection }.encode_to_vec(),
            "CloseCollection" => pb::CloseCollectionRequest { collection_id: collection }.encode_to_vec(),
            "GetCollection" => pb::GetCollectionRequest { collection_id: collection }.encode_to_vec(),
            "GetGroupBalances" => {
                pb::GetGroupBalancesRequest { group: circle().map(pb::get_group_balances_request::Group::CircleId) }
                    .encode_to_vec()
            }
            "SettleUp" => pb::SettleUpRequest {
                group: circle().map(pb::settle_up_request::Group::CircleId),
                currency: "CNY".into(),
                idempotency_key: key(),
            }
            .encode_to_vec(),
            "CreateCharityCampaign" => pb::CreateCharityCampaignRequest {
                title: "Totally legit".into(),
                description: String::new(),
                currency: "CNY".into(),
                goal: String::new(),
                idempotency_key: key(),
            }
            .encode_to_vec(),
            "Donate" => pb::DonateRequest {
                campaign_id: self.charity.campaign_id.clone(),
                amount: "1.00".into(),
                idempotency_key: key(),
            }
            .encode_to_vec(),
            "GetCharityCampaign" => {
                pb::GetCharityCampaignRequest { campaign_id: self.charity.campaign_id.clone() }.encode_to_vec()
            }
            other => panic!("no request for PaymentsService/{other}: add one (and its row in the matrix)"),
        }
    }
}

async fn wait_withdrawal(app: &mut TestApp, user: &User, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let request = pb::GetProviderRequestRequest { request_id: id.into() };
        let r = app.client.get_withdrawal(authed(&user.token, request)).await.unwrap().into_inner();
        if r.status() != pb::ProviderRequestStatus::Pending {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "withdrawal {id} never settled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", app.port)).unwrap().connect().await.unwrap();
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
    assert!(lines.iter().all(|l| l.kind == "top_up"), "only the intruder's own top-up: {lines:?}");
    let bills = pb::ListBillsRequest { page: None, circle_id: f.circle.to_string() };
    let bills = app.client.list_bills(authed(&intruder.token, bills)).await.unwrap().into_inner();
    assert!(bills.bills.is_empty(), "{bills:?}");
    assert_eq!(app.ledger_sum().await, rust_decimal::Decimal::ZERO);
    assert_probes_are_public(&channel).await;
    app.stop().await;
}
