//! Steps the tests share, all through the gateway.

use std::time::{Duration, Instant};

use chrono::Utc;
use tonic::{Code, Status};
use tuan_proto::{gateway::v1 as gw, groupbuy::v1 as gb, payments::v1 as pay, users::v1 as users};

use crate::harness::{Gateway, OPERATOR_PHONE, Stack, authed};

pub const PASSWORD: &str = "Journey2026tuan";
/// How long eventual consistency may take to catch up in these tests (generous: the machine
/// is small and shared, and a consumer group rebalance on the local broker can take 10 s).
pub const SETTLE: Duration = Duration::from_secs(45);
pub const POLL: Duration = Duration::from_millis(150);

/// A signed-up user and their access token.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub token: String,
    pub phone: String,
}

/// Signs up through the gateway as a person does: asks for a code, reads the SMS, types it back.
pub async fn sign_up(stack: &Stack, gateway: &mut Gateway, phone: &str, name: &str) -> User {
    let code = stack.sign_up_code(gateway, phone).await;
    let tokens = gateway
        .sign_up(users::SignUpRequest {
            phone: phone.into(),
            password: PASSWORD.into(),
            display_name: name.into(),
            region: "CN-31".into(),
            code,
        })
        .await
        .unwrap_or_else(|e| panic!("sign up {name}: {e}"))
        .into_inner();
    User { id: tokens.user_id, token: tokens.access_token, phone: phone.into() }
}

/// A fresh token (e.g. to carry a role granted since the last one).
pub async fn login(gateway: &mut Gateway, user: &User) -> User {
    let tokens = gateway
        .login(users::LoginRequest { phone: user.phone.clone(), password: PASSWORD.into() })
        .await
        .expect("login")
        .into_inner();
    User { token: tokens.access_token, ..user.clone() }
}

pub async fn befriend(gateway: &mut Gateway, a: &User, b: &User) {
    let request = users::SendFriendRequestRequest { user_id: b.id.clone(), message: "hi".into() };
    gateway.send_friend_request(authed(&a.token, request)).await.expect("friend request");
    let accepted = gateway
        .accept_friend_request(authed(&b.token, users::FriendTarget { user_id: a.id.clone() }))
        .await
        .expect("accept")
        .into_inner();
    assert_eq!(accepted.state(), users::FriendshipState::Friends);
}

/// Retries `call` while it fails with `FAILED_PRECONDITION`, `PERMISSION_DENIED` or
/// `NOT_FOUND`: a backend that has not yet seen another service's events (a friendship, a
/// verification) refuses and stores nothing, so the same request may simply be sent again.
pub async fn once_projected<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let start = Instant::now();
    loop {
        match call().await {
            Ok(value) => return value,
            Err(status)
                if matches!(status.code(), Code::FailedPrecondition | Code::PermissionDenied | Code::NotFound)
                    && start.elapsed() < SETTLE =>
            {
                tokio::time::sleep(POLL).await
            }
            Err(status) => panic!("{what}: {status:?}"),
        }
    }
}

/// Tops up and waits until the simulated provider's confirmation reached the wallet.
pub async fn top_up(gateway: &mut Gateway, user: &User, amount: &str) {
    let request = pay::TopUpRequest {
        amount: amount.into(),
        currency: "CNY".into(),
        idempotency_key: format!("top-up-{}", user.id),
    };
    gateway.top_up(authed(&user.token, request)).await.expect("top up");
    wait_balance(gateway, user, amount).await;
}

/// The CNY balance available on the Wallet screen.
pub async fn available(gateway: &mut Gateway, user: &User) -> Option<String> {
    let screen = wallet(gateway, user).await;
    screen.balances.iter().find(|b| b.currency == "CNY").map(|b| b.available.clone())
}

pub async fn wallet(gateway: &mut Gateway, user: &User) -> gw::WalletScreen {
    let screen = gateway.wallet(authed(&user.token, gw::WalletRequest::default())).await.expect("wallet").into_inner();
    assert!(screen.missing_parts.is_empty(), "wallet parts missing: {:?}", screen.missing_parts);
    assert_eq!(screen.user_id, user.id, "the wallet is the caller's own");
    screen
}

/// Waits until the Wallet screen shows exactly `amount` CNY available.
pub async fn wait_balance(gateway: &mut Gateway, user: &User, amount: &str) {
    let start = Instant::now();
    loop {
        let now = available(gateway, user).await;
        if now.as_deref() == Some(amount) {
            return;
        }
        assert!(start.elapsed() < SETTLE, "{}'s wallet: expected {amount} CNY available, saw {now:?}", user.phone);
        tokio::time::sleep(POLL).await;
    }
}

/// The stack's operator, a merchant verified by them, and a team campaign
/// of the merchant's: teams of two at 50.00 CNY, stock 10.
pub async fn merchant_with_campaign(stack: &Stack, gw: &mut Gateway, phone: &str) -> (User, gb::Campaign) {
    // The stack made its operator at start (`users grant-operator`); signing up would not.
    let request = users::LoginRequest { phone: OPERATOR_PHONE.into(), password: PASSWORD.into() };
    let t = gw.login(request).await.expect("the stack's operator logs in").into_inner();
    let operator = User { id: t.user_id, token: t.access_token, phone: OPERATOR_PHONE.into() };
    let merchant = sign_up(stack, gw, phone, "Apple Farm").await;
    let application = users::ApplyMerchantRequest {
        business_name: "Yantai Apple Farm".into(),
        license_number: "91370600-MA3C".into(),
        contact_phone: phone.into(),
        category: "fruit".into(),
    };
    gw.apply_merchant(authed(&merchant.token, application)).await.expect("apply");
    let verified = gw
        .verify_merchant(authed(&operator.token, users::VerifyMerchantRequest { user_id: merchant.id.clone() }))
        .await
        .expect("verify")
        .into_inner();
    assert_eq!(verified.status(), users::MerchantStatus::Verified);
    let merchant = login(gw, &merchant).await;

    // Group buying learns of the verification from the users service's events; until then it
    // refuses and stores nothing.
    let launch = gb::LaunchCampaignRequest {
        title: "Yantai apples, 5 kg".into(),
        description: "Crisp and sweet".into(),
        list_price: "80.00".into(),
        group_price: "50.00".into(),
        currency: "CNY".into(),
        stock: 10,
        per_user_limit: 1,
        starts_at_micros: 0,
        ends_at_micros: (Utc::now() + chrono::Duration::hours(2)).timestamp_micros(),
        mode: Some(gb::launch_campaign_request::Mode::Team(gb::TeamSettings {
            team_size: 2,
            team_window_secs: 600,
            leader_discount: String::new(),
        })),
    };
    let campaign = once_projected("launch campaign", || {
        let mut gw = gw.clone();
        let request = authed(&merchant.token, launch.clone());
        async move { gw.launch_campaign(request).await.map(|r| r.into_inner()) }
    })
    .await;
    (merchant, campaign)
}

/// Polls the team until it reaches `status`.
pub async fn wait_team(gw: &mut Gateway, viewer: &User, team_id: &str, status: gb::TeamStatus) -> gb::Team {
    let start = Instant::now();
    loop {
        let team = gw
            .get_team(authed(&viewer.token, gb::TeamRef { team_id: team_id.into() }))
            .await
            .expect("get team")
            .into_inner();
        if team.status() == status {
            return team;
        }
        assert!(start.elapsed() < SETTLE, "team never became {status:?}: {team:?}");
        tokio::time::sleep(POLL).await;
    }
}
