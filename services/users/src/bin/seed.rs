//! Demo data for `make run`: an operator, a verified merchant, three friends with money in
//! their wallets, a circle of theirs with a deal card, a team campaign by the merchant with
//! Bob's team (Carol joined), a moment of Bob's, and a dinner bill Alice collects: every part
//! of Alice's Home on her first call (tests/e2e/tests/e2e/demo.rs). Talks to the running
//! services over gRPC; safe to run twice. Other services learn about users through Kafka, so
//! calls that depend on that are retried for a while.
//!
//! The operator gets its role the way the first operator of any deployment does: what
//! `users grant-operator <phone>` runs, against the users database (the users settings of the
//! environment, as the `users` binary reads them). Accounts sign up as people do, with the
//! code of the SMS, which the development sender left in that database (`public.dev_sms`).

use std::time::Duration;

use anyhow::Context as _;

use tonic::{Code, Request, transport::Channel};
use tuan_proto::{
    circles::v1::{self as circles, circles_service_client::CirclesServiceClient},
    groupbuy::v1::{self as groupbuy, group_buy_service_client::GroupBuyServiceClient},
    payments::v1::{self as payments, payments_service_client::PaymentsServiceClient},
    users::v1::{self as pb, users_service_client::UsersServiceClient},
};

const PASSWORD: &str = "tuan-demo-2026";

struct Demo {
    client: UsersServiceClient<Channel>,
    /// The users database: who is registered, and the SMS the development sender wrote.
    pool: sqlx::PgPool,
}

impl Demo {
    /// Logs in a demo account, signing it up first (with the code of its SMS) if it is new.
    async fn account(&mut self, phone: &str, name: &str) -> anyhow::Result<pb::AuthTokens> {
        if users::store::queries::user_by_phone(&self.pool, phone).await?.is_none() {
            let code = self.sign_up_code(phone).await?;
            let sign_up = pb::SignUpRequest {
                phone: phone.into(),
                password: PASSWORD.into(),
                display_name: name.into(),
                region: "Shanghai".into(),
                code,
            };
            return Ok(self.client.sign_up(sign_up).await?.into_inner());
        }
        let login = pb::LoginRequest { phone: phone.into(), password: PASSWORD.into() };
        Ok(self.client.login(login).await?.into_inner())
    }

    /// Asks for a sign-up code for `phone` and reads it from the development sender's table.
    async fn sign_up_code(&mut self, phone: &str) -> anyhow::Result<String> {
        let last = "SELECT coalesce(max(id), 0) FROM public.dev_sms WHERE phone_e164 = $1";
        let before: i64 = sqlx::query_scalar(last).bind(phone).fetch_one(&self.pool).await?;
        let ask = pb::RequestPhoneCodeRequest { phone: phone.into(), purpose: pb::PhoneCodePurpose::SignUp as i32 };
        self.client.request_phone_code(ask).await?;
        for _ in 0..100 {
            let code: Option<Option<String>> =
                sqlx::query_scalar("SELECT code FROM public.dev_sms WHERE phone_e164 = $1 AND id > $2 ORDER BY id")
                    .bind(phone)
                    .bind(before)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(code) = code.flatten() {
                return Ok(code);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!(
            "no sign-up code for {phone} in public.dev_sms: is users running with the development SMS sender?"
        )
    }
}

fn authed<T>(tokens: &pb::AuthTokens, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", tokens.access_token).parse().expect("ascii token"));
    request
}

/// Ignores "already done" answers, so the seed can run again.
fn tolerate<T>(result: Result<T, tonic::Status>) -> anyhow::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(s) if matches!(s.code(), Code::AlreadyExists | Code::FailedPrecondition | Code::NotFound) => Ok(()),
        Err(s) => Err(s.into()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::var("TUAN_USERS_URL").unwrap_or_else(|_| "http://127.0.0.1:50051".into());
    let config = users::config::UsersConfig::load()?;
    let pool = tuan_host::migrate(&config.common, &users::startup::projections()).await?;
    let mut demo = Demo { client: UsersServiceClient::connect(addr).await?, pool: pool.clone() };
    demo.account("+8613800000000", "Operator").await.context("the operator's account")?;
    users::app::roles::grant_operator_in_deployment(&pool, users::startup::projections(), "+8613800000000")
        .await
        .map_err(|e| anyhow::anyhow!("grant-operator: {}", e.message))?;
    // A new login: the role is in tokens issued from now on.
    let operator = demo.account("+8613800000000", "Operator").await.context("operator's account")?;
    let merchant = demo.account("+8613800000001", "Fresh Fruit Co").await.context("merchant's account")?;
    let alice = demo.account("+8613800000002", "Alice").await.context("alice's account")?;
    let bob = demo.account("+8613800000003", "Bob").await.context("bob's account")?;
    let carol = demo.account("+8613800000004", "Carol").await.context("carol's account")?;

    for (from, to) in [(&alice, &bob), (&alice, &carol), (&bob, &carol)] {
        let ask = pb::SendFriendRequestRequest { user_id: to.user_id.clone(), message: "let's buy together".into() };
        tolerate(demo.client.send_friend_request(authed(from, ask)).await)?;
        tolerate(
            demo.client.accept_friend_request(authed(to, pb::FriendTarget { user_id: from.user_id.clone() })).await,
        )?;
    }
    let application = pb::ApplyMerchantRequest {
        business_name: "Fresh Fruit Co".into(),
        license_number: "91310000-FRUIT".into(),
        contact_phone: "+8613800000001".into(),
        category: "grocery".into(),
    };
    tolerate(demo.client.apply_merchant(authed(&merchant, application)).await)?;
    let verify = pb::VerifyMerchantRequest { user_id: merchant.user_id.clone() };
    tolerate(demo.client.verify_merchant(authed(&operator, verify)).await)?;

    seed_other_services(&operator, &merchant, [&alice, &bob, &carol]).await.context("seeding the other services")?;

    println!("demo users (password {PASSWORD}):");
    for (name, phone, t) in [
        ("operator", "+8613800000000", &operator),
        ("merchant", "+8613800000001", &merchant),
        ("alice", "+8613800000002", &alice),
        ("bob", "+8613800000003", &bob),
        ("carol", "+8613800000004", &carol),
    ] {
        println!("  {name:<9} {phone}  user_id {}", t.user_id);
    }
    Ok(())
}

fn url(service: &str, port: u16) -> String {
    std::env::var(format!("TUAN_{}_URL", service.to_uppercase())).unwrap_or_else(|_| format!("http://127.0.0.1:{port}"))
}

/// Whether `code` says "not now" (a service still starting, or busy) rather than "no".
fn transient(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted)
}

/// Retries `call` while the answer is [`transient`], for up to 30 s; any other failure, or the
/// last one, is an error naming `what`.
async fn patiently<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(s) if transient(s.code()) && tries < 60 => tries += 1,
            Err(s) => return Err(anyhow::anyhow!("{what}: {s}")),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Retries `call` while the other service has not yet heard about the users (Kafka is
/// asynchronous), for up to 30 s.
async fn eventually<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    for _ in 0..60 {
        match call().await {
            Ok(v) => return Ok(Some(v)),
            Err(s) if matches!(s.code(), Code::AlreadyExists) => return Ok(None),
            Err(s)
                if transient(s.code())
                    || matches!(s.code(), Code::PermissionDenied | Code::FailedPrecondition | Code::NotFound) =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(s) => return Err(anyhow::anyhow!("{what}: {s}")),
        }
    }
    println!("  (skipped {what}: the service did not catch up in 30 s)");
    Ok(None)
}

async fn seed_other_services(
    _operator: &pb::AuthTokens,
    merchant: &pb::AuthTokens,
    friends: [&pb::AuthTokens; 3],
) -> anyhow::Result<()> {
    let Ok(mut wallets) = PaymentsServiceClient::connect(url("payments", 50054)).await else {
        println!("  payments not running: no wallets seeded");
        return Ok(());
    };
    for person in friends {
        // A fixed key per person: running the seed twice tops up once.
        let key = format!("seed-top-up-{}", person.user_id);
        let top_up = payments::TopUpRequest { amount: "500.00".into(), currency: "CNY".into(), idempotency_key: key };
        patiently("topping up a wallet", || {
            let (mut client, request) = (wallets.clone(), authed(person, top_up.clone()));
            async move { client.top_up(request).await }
        })
        .await?;
    }

    let [alice, bob, carol] = friends;
    let mut circle_id = None;
    let circles_client = CirclesServiceClient::connect(url("circles", 50052)).await.ok();
    if let Some(circles) = circles_client.clone() {
        let mine = patiently("listing Alice's circles", || {
            let (mut client, request) = (circles.clone(), authed(alice, circles::ListMyCirclesRequest::default()));
            async move { client.list_my_circles(request).await }
        })
        .await?
        .into_inner();
        circle_id = mine.circles.first().map(|c| c.circle_id.clone());
        if mine.circles.is_empty() {
            let create = circles::CreateCircleRequest {
                name: "Dinner friends".into(),
                kind: circles::CircleKind::Cluster as i32,
                topic: "let's organise a dinner".into(),
                approval_required: false,
            };
            let circle = patiently("creating the circle", || {
                let (mut client, request) = (circles.clone(), authed(alice, create.clone()));
                async move { client.create_circle(request).await }
            })
            .await?
            .into_inner();
            circle_id = Some(circle.circle_id.clone());
            for friend in [bob, carol] {
                let target =
                    circles::MemberTarget { circle_id: circle.circle_id.clone(), user_id: friend.user_id.clone() };
                eventually("adding a friend to the circle", || {
                    let (mut client, request) = (circles.clone(), authed(alice, target.clone()));
                    async move { client.invite_member(request).await }
                })
                .await?;
            }
        }
    }

    let mut team_id = None;
    if let Ok(deals) = GroupBuyServiceClient::connect(url("groupbuy", 50053)).await {
        let launch = groupbuy::LaunchCampaignRequest {
            title: "Hainan mangoes, 5 kg".into(),
            description: "Picked this week; teams of 3".into(),
            list_price: "89.00".into(),
            group_price: "59.00".into(),
            currency: "CNY".into(),
            stock: 200,
            per_user_limit: 2,
            starts_at_micros: 0,
            ends_at_micros: now_micros() + 7 * 24 * 3600 * 1_000_000,
            mode: Some(groupbuy::launch_campaign_request::Mode::Team(groupbuy::TeamSettings {
                team_size: 3,
                team_window_secs: 24 * 3600,
                ..Default::default()
            })),
        };
        let active = patiently("listing the active campaigns", || {
            let (mut client, request) =
                (deals.clone(), authed(merchant, groupbuy::ListActiveCampaignsRequest::default()));
            async move { client.list_active_campaigns(request).await }
        })
        .await?
        .into_inner();
        let campaign = match active.campaigns.into_iter().next() {
            Some(campaign) => Some(campaign),
            None => eventually("launching the demo campaign", || {
                let (mut client, request) = (deals.clone(), authed(merchant, launch.clone()));
                async move { client.launch_campaign(request).await }
            })
            .await?
            .map(|r| r.into_inner()),
        };
        // Bob opens a team and Carol joins it: Alice's Home shows her friends' open team, and
        // the console's campaign is a few joins old. Fixed keys: a second seed buys nothing.
        if let Some(campaign) = campaign {
            let open = groupbuy::OpenTeamRequest {
                campaign_id: campaign.campaign_id.clone(),
                idempotency_key: format!("seed-team-{}", bob.user_id),
            };
            let opened = eventually("opening Bob's team", || {
                let (mut client, request) = (deals.clone(), authed(bob, open.clone()));
                async move { client.open_team(request).await }
            })
            .await?;
            team_id = opened.and_then(|o| o.into_inner().team).map(|t| t.team_id);
            if let Some(team) = &team_id {
                let join = groupbuy::JoinTeamRequest {
                    team_id: team.clone(),
                    idempotency_key: format!("seed-join-{}", carol.user_id),
                };
                // Joinable once Bob's hold is placed.
                eventually("Carol joining Bob's team", || {
                    let (mut client, request) = (deals.clone(), authed(carol, join.clone()));
                    async move { client.join_team(request).await }
                })
                .await?;
            }
        }
    }

    if let (Some(mut circles), Some(circle)) = (circles_client, circle_id.clone()) {
        let posts = patiently("listing the circle's posts", || {
            let list = circles::ListPostsRequest { circle_id: circle.clone(), page: None };
            let (mut client, request) = (circles.clone(), authed(alice, list));
            async move { client.list_posts(request).await }
        })
        .await?
        .into_inner();
        if posts.posts.is_empty() {
            // A deal card in the circle, and a moment of Bob's in his friends' timelines.
            let card =
                team_id.clone().map(|t| circles::DealCard { target: Some(circles::deal_card::Target::TeamId(t)) });
            let post = circles::CreatePostRequest {
                circle_id: circle.clone(),
                text: "Bob's mango team needs one more, join from here!".into(),
                card,
            };
            tolerate(circles.create_post(authed(alice, post)).await)?;
            let moment =
                circles::PostMomentRequest { text: "The mangoes from Hainan are in. So sweet.".into(), card: None };
            tolerate(circles.post_moment(authed(bob, moment)).await)?;
        }
    }

    // Alice paid 300.00 for the dinner of the circle; split equally, collected from Bob and Carol.
    if let Some(circle) = circle_id {
        let bill = payments::CreateBillRequest {
            title: "Dinner at the hot-pot place".into(),
            total: "300.00".into(),
            currency: "CNY".into(),
            split_method: payments::SplitMethod::Equal as i32,
            payers: vec![],
            participants: [alice, bob, carol]
                .iter()
                .map(|p| payments::Participant { user_id: p.user_id.clone(), value: String::new() })
                .collect(),
            circle_id: circle,
            idempotency_key: format!("seed-dinner-{}", alice.user_id),
        };
        let recorded = eventually("recording the dinner bill", || {
            let (mut client, request) = (wallets.clone(), authed(alice, bill.clone()));
            async move { client.create_bill(request).await }
        })
        .await?;
        if let Some(bill) = recorded {
            tolerate(
                wallets
                    .open_collection(authed(
                        alice,
                        payments::OpenCollectionRequest { bill_id: bill.into_inner().bill_id },
                    ))
                    .await,
            )?;
        }
    }
    Ok(())
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or_default()
}
