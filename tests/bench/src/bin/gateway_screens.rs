//! The gateway's screens under load: `Home` and `CampaignDetail` at a fixed open-loop rate
//! (default 1,000/s for 20 s each) through the gateway, and the same backend calls made by
//! the bench itself (same rate, same users, same fan-out and concurrency as the gateway's),
//! so the ratio is what the gateway adds.
//!
//! Everything runs in this process on fresh databases and a broker of its own: the four
//! services and the gateway, seeded through the gateway's own RPCs with 50 users (friends in
//! a ring, 10 circles), a verified merchant with 3 team campaigns and 15 open teams shared
//! into the circles, wallets topped up, and 10 AA collections.
//!
//! `cargo run --release -p tuan-bench --bin gateway_screens [rate] [seconds]`

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use gateway::{
    config::GatewayConfig,
    domain::screens::{DealTarget, deal_target},
};
use tonic::{Code, Request, Status, transport::Channel};
use tuan_bench::{OpenLoop, open_loop, percentile};
use tuan_proto::{
    circles::v1::{self as circles, circles_service_client::CirclesServiceClient, deal_card::Target},
    common::v1::PageRequest,
    gateway::v1::{self as gw, mobile_gateway_client::MobileGatewayClient},
    groupbuy::v1::{self as gb, TeamStatus, group_buy_service_client::GroupBuyServiceClient},
    payments::v1::{self as pay, payments_service_client::PaymentsServiceClient},
    users::v1::{self as users, users_service_client::UsersServiceClient},
};
use tuan_runtime::config::CommonConfig;
use tuan_testkit::{OwnBroker, TestDb};

const USERS: usize = 50;
/// Each user is friends with the next FRIEND_REACH users around the ring (so with 8 in all).
const FRIEND_REACH: usize = 4;
/// Circles are owned by every CIRCLE_EVERY-th user and hold the owner's friends.
const CIRCLE_EVERY: usize = 5;
const CAMPAIGNS: usize = 3;
/// Teams are led by every TEAM_EVERY-th user (the next user joins), in campaign i % 3.
const TEAM_EVERY: usize = 3;
const TEAMS: usize = 15;
/// AA bills of 3 friends each, organised by every BILL_EVERY-th user.
const BILLS: usize = 10;
const BILL_EVERY: usize = 5;
const PASSWORD: &str = "Bench2026tuan";
const OPERATOR_PHONE: &str = "+8613800000000";
/// Connections the bench's callers share, to the gateway and to each backend alike.
const CHANNELS: usize = 4;
/// The deadline each bench request carries (to the gateway, or to each backend call).
const CLIENT_DEADLINE: Duration = Duration::from_secs(2);
/// What the gateway gives one backend call of a screen (its default), used for direct calls too.
const PART_BUDGET: Duration = Duration::from_millis(800);

// The gateway's page sizes and caps (app/screens.rs), mirrored by the direct calls.
const FRIENDS_PAGE: u32 = 200;
const CIRCLES_PAGE: u32 = 20;
const CIRCLES_WITH_POSTS: u32 = 10;
const POSTS_PAGE: u32 = 10;
const CAMPAIGNS_PAGE: u32 = 20;
const CAMPAIGNS_WITH_TEAMS: usize = 15;
const TEAMS_PAGE: u32 = 50;
const COLLECTIONS_PAGE: u32 = 20;
const MAX_IDS: usize = 100;

fn page(limit: u32) -> Option<PageRequest> {
    Some(PageRequest { limit, cursor: String::new() })
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ascii token"));
    request
}

#[derive(Clone, Debug)]
struct Person {
    id: String,
    token: String,
}

/// How long the seed waits for events to reach other services (consumer group joins on the
/// local broker can take 10 s, and this machine is shared).
const SETTLE: Duration = Duration::from_secs(180);

/// Retries `call` while another service has not yet seen the events it depends on (it refuses
/// and stores nothing meanwhile), for up to [`SETTLE`].
async fn eventually<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let start = Instant::now();
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(s)
                if matches!(s.code(), Code::FailedPrecondition | Code::PermissionDenied | Code::NotFound)
                    && start.elapsed() < SETTLE =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(s) => anyhow::bail!("{what}: {s}"),
        }
    }
}

async fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(url.to_string())?.tcp_nodelay(true).connect().await?)
}

/// The running system: where each service listens, and the databases behind them.
struct System {
    gateway: String,
    users: String,
    circles: String,
    groupbuy: String,
    payments: String,
    _dbs: Vec<TestDb>,
    _broker: OwnBroker,
}

fn common(base: CommonConfig, db: &TestDb, broker: &OwnBroker, prefix: &str) -> CommonConfig {
    let mut common = base;
    common.grpc_addr = "127.0.0.1:0".parse().expect("addr");
    common.metrics_addr = None;
    common.database.url = db.url.clone().into();
    // Four services share one Postgres with whatever else runs on this machine.
    common.database.max_connections = 10;
    common.kafka.brokers = broker.address();
    common.kafka.topic_prefix = prefix.to_string();
    // One partition per topic: tansu serves a single partition far faster, so the seed catches
    // up sooner; the reads measured here never touch Kafka.
    common.kafka.partitions = 1;
    common
}

async fn start() -> anyhow::Result<System> {
    let broker = OwnBroker::start();
    let prefix = tuan_testkit::unique_prefix();
    let dbs = vec![TestDb::new().await, TestDb::new().await, TestDb::new().await, TestDb::new().await];
    let url = |port: u16| format!("http://127.0.0.1:{port}");

    let mut config = ::users::config::UsersConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common = common(config.common, &dbs[0], &broker, &prefix);
    config.users.access_ttl_secs = 3 * 3600;
    // The bench signs every user up from one address.
    config.users.phone_codes.per_client_per_hour = 1_000_000;
    let app = ::users::Application::build(config).await?;
    let users_url = url(app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let mut config = ::circles::config::CirclesConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common = common(config.common, &dbs[1], &broker, &prefix);
    let app = ::circles::Application::build(config).await?;
    let circles_url = url(app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let mut config = ::groupbuy::config::GroupBuyConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common = common(config.common, &dbs[2], &broker, &prefix);
    let app = ::groupbuy::Application::build(config).await?;
    let groupbuy_url = url(app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let mut config = ::payments::config::PaymentsConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common = common(config.common, &dbs[3], &broker, &prefix);
    config.payments.provider.min_latency_ms = 0;
    config.payments.provider.max_latency_ms = 0;
    config.payments.provider.failure_rate = 0.0;
    let app = ::payments::Application::build(config).await?;
    let payments_url = url(app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let mut config = GatewayConfig::default();
    config.common.environment = tuan_runtime::config::Environment::Development;
    config.common.grpc_addr = "127.0.0.1:0".parse()?;
    config.common.metrics_addr = None;
    let settings = &mut config.gateway;
    settings.users_url = users_url.clone();
    settings.circles_url = circles_url.clone();
    settings.groupbuy_url = groupbuy_url.clone();
    settings.payments_url = payments_url.clone();
    // Every bench caller is on 127.0.0.1 and 50 users make 1,000 calls/s: the limits are not
    // what is measured.
    (settings.user_rate_per_sec, settings.user_burst) = (100_000, 100_000);
    (settings.ip_rate_per_sec, settings.ip_burst) = (1_000_000, 1_000_000);
    let app = gateway::Application::build(config).await?;
    let gateway_url = url(app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    Ok(System {
        gateway: gateway_url,
        users: users_url,
        circles: circles_url,
        groupbuy: groupbuy_url,
        payments: payments_url,
        _dbs: dbs,
        _broker: broker,
    })
}

/// What the seed made, and what a caught-up Home must show each user.
struct Seed {
    people: Vec<Person>,
    campaigns: Vec<String>,
    /// Per user: circles, posts in those circles, open collections.
    expected: Vec<(usize, usize, usize)>,
}

fn friends_of(i: usize) -> impl Iterator<Item = usize> {
    (1..=FRIEND_REACH).flat_map(move |d| [(i + d) % USERS, (i + USERS - d) % USERS])
}

/// Signs up with the code of the SMS the users service (on `users_db`) sent.
async fn sign_up(
    gw: &mut MobileGatewayClient<Channel>,
    users_db: &sqlx::PgPool,
    phone: &str,
    name: &str,
) -> anyhow::Result<Person> {
    let ask = users::RequestPhoneCodeRequest { phone: phone.into(), purpose: users::PhoneCodePurpose::SignUp as i32 };
    let code = tuan_testkit::sms::code_for(users_db, phone, gw.request_phone_code(ask)).await;
    let request = users::SignUpRequest {
        phone: phone.into(),
        password: PASSWORD.into(),
        display_name: name.into(),
        region: "CN-31".into(),
        code,
    };
    let tokens = gw.sign_up(request).await?.into_inner();
    Ok(Person { id: tokens.user_id, token: tokens.access_token })
}

async fn seed(gw: &mut MobileGatewayClient<Channel>, users_db: &sqlx::PgPool) -> anyhow::Result<Seed> {
    let mut people = Vec::new();
    for i in 0..USERS {
        people.push(sign_up(gw, users_db, &format!("+86139{i:08}"), &format!("User {i}")).await?);
    }
    for i in 0..USERS {
        for d in 1..=FRIEND_REACH {
            let (a, b) = (&people[i], &people[(i + d) % USERS]);
            let ask = users::SendFriendRequestRequest { user_id: b.id.clone(), message: "hi".into() };
            gw.send_friend_request(authed(&a.token, ask)).await?;
            gw.accept_friend_request(authed(&b.token, users::FriendTarget { user_id: a.id.clone() })).await?;
        }
    }
    for person in &people {
        let request = pay::TopUpRequest {
            amount: "500.00".into(),
            currency: "CNY".into(),
            idempotency_key: format!("bench-{}", person.id),
        };
        gw.top_up(authed(&person.token, request)).await?;
    }
    // Teams need the leaders' money in place, or their holds fail.
    for person in &people {
        let start = Instant::now();
        loop {
            let wallet = gw.wallet(authed(&person.token, gw::WalletRequest::default())).await?.into_inner();
            if wallet.balances.iter().any(|b| b.currency == "CNY" && b.available == "500.00") {
                break;
            }
            anyhow::ensure!(start.elapsed() < SETTLE, "top-up never reached the wallet: {wallet:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // A verified merchant with team campaigns (teams of 3, so teams of 2 stay open).
    // The operator is made as in any deployment: what `users grant-operator` runs.
    sign_up(gw, users_db, OPERATOR_PHONE, "Operator").await?;
    ::users::app::roles::grant_operator_in_deployment(users_db, ::users::startup::projections(), OPERATOR_PHONE)
        .await
        .map_err(|e| anyhow::anyhow!("grant-operator: {}", e.message))?;
    let login = users::LoginRequest { phone: OPERATOR_PHONE.into(), password: PASSWORD.into() };
    let tokens = gw.login(login).await?.into_inner();
    let operator = Person { id: tokens.user_id, token: tokens.access_token };
    let merchant_phone = "+8613700000001";
    let merchant = sign_up(gw, users_db, merchant_phone, "Orchard").await?;
    let application = users::ApplyMerchantRequest {
        business_name: "Yantai Orchard".into(),
        license_number: "91370600-BENCH".into(),
        contact_phone: merchant_phone.into(),
        category: "fruit".into(),
    };
    gw.apply_merchant(authed(&merchant.token, application)).await?;
    gw.verify_merchant(authed(&operator.token, users::VerifyMerchantRequest { user_id: merchant.id.clone() })).await?;
    let login = users::LoginRequest { phone: merchant_phone.into(), password: PASSWORD.into() };
    let merchant = Person { token: gw.login(login).await?.into_inner().access_token, ..merchant };
    let mut campaigns = Vec::new();
    for c in 0..CAMPAIGNS {
        let launch = gb::LaunchCampaignRequest {
            title: format!("Fruit box {c}"),
            description: "Picked this week".into(),
            list_price: "49.00".into(),
            group_price: "30.00".into(),
            currency: "CNY".into(),
            stock: 1_000,
            per_user_limit: 2,
            starts_at_micros: 0,
            ends_at_micros: (Utc::now() + chrono::Duration::hours(6)).timestamp_micros(),
            mode: Some(gb::launch_campaign_request::Mode::Team(gb::TeamSettings {
                team_size: 3,
                team_window_secs: 6 * 3600,
                leader_discount: String::new(),
            })),
        };
        let campaign = eventually("launch a campaign", || {
            let (mut gw, request) = (gw.clone(), authed(&merchant.token, launch.clone()));
            async move { gw.launch_campaign(request).await.map(|r| r.into_inner()) }
        })
        .await?;
        campaigns.push(campaign.campaign_id);
    }

    // Teams: a leader (once their top-up landed) and a friend who joins once it is open.
    let mut teams = Vec::new();
    for t in 0..TEAMS {
        let leader = &people[t * TEAM_EVERY];
        let request = gb::OpenTeamRequest {
            campaign_id: campaigns[t % CAMPAIGNS].clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        };
        let opened = eventually("open a team", || {
            let (mut gw, request) = (gw.clone(), authed(&leader.token, request.clone()));
            async move { gw.open_team(request).await.map(|r| r.into_inner()) }
        })
        .await?;
        teams.push((t * TEAM_EVERY, opened.team.map(|t| t.team_id).unwrap_or_default()));
    }
    for (leader, team_id) in &teams {
        let joiner = &people[leader + 1];
        let request =
            gb::JoinTeamRequest { team_id: team_id.clone(), idempotency_key: uuid::Uuid::now_v7().to_string() };
        eventually("join a team", || {
            let (mut gw, request) = (gw.clone(), authed(&joiner.token, request.clone()));
            async move { gw.join_team(request).await }
        })
        .await?;
    }

    // Circles of each owner's friends, each with a campaign card and its members' team cards.
    let mut circles_of = vec![0; USERS];
    let mut posts_of = vec![0; USERS];
    for owner in (0..USERS).step_by(CIRCLE_EVERY) {
        let create = circles::CreateCircleRequest {
            name: format!("Circle of user {owner}"),
            kind: circles::CircleKind::Cluster as i32,
            topic: "good food, cheap".into(),
            approval_required: false,
        };
        let circle = gw.create_circle(authed(&people[owner].token, create)).await?.into_inner();
        let members: Vec<usize> = std::iter::once(owner).chain(friends_of(owner)).collect();
        for &member in &members[1..] {
            let target =
                circles::MemberTarget { circle_id: circle.circle_id.clone(), user_id: people[member].id.clone() };
            eventually("add a friend to a circle", || {
                let (mut gw, request) = (gw.clone(), authed(&people[owner].token, target.clone()));
                async move { gw.invite_member(request).await }
            })
            .await?;
        }
        let mut cards = vec![Target::CampaignId(campaigns[owner % CAMPAIGNS].clone())];
        cards.extend(
            teams.iter().filter(|(leader, _)| members.contains(leader)).map(|(_, id)| Target::TeamId(id.clone())),
        );
        for target in &cards {
            let post = circles::CreatePostRequest {
                circle_id: circle.circle_id.clone(),
                text: "Join in!".into(),
                card: Some(circles::DealCard { target: Some(target.clone()) }),
            };
            eventually("share a deal", || {
                let (mut gw, request) = (gw.clone(), authed(&people[owner].token, post.clone()));
                async move { gw.create_post(request).await }
            })
            .await?;
        }
        for &member in &members {
            circles_of[member] += 1;
            posts_of[member] += cards.len();
        }
    }

    // AA dinners among three friends, each with an open collection.
    let mut collections_of = vec![0; USERS];
    for b in 0..BILLS {
        let organiser = b * BILL_EVERY;
        let party = [organiser, organiser + 1, organiser + 2];
        let bill = pay::CreateBillRequest {
            title: format!("Dinner {b}"),
            total: "100.00".into(),
            currency: "CNY".into(),
            split_method: pay::SplitMethod::Equal as i32,
            payers: vec![],
            participants: party
                .iter()
                .map(|&p| pay::Participant { user_id: people[p].id.clone(), value: String::new() })
                .collect(),
            circle_id: String::new(),
            idempotency_key: format!("dinner-{b}"),
        };
        let bill = eventually("create a bill", || {
            let (mut gw, request) = (gw.clone(), authed(&people[organiser].token, bill.clone()));
            async move { gw.create_bill(request).await.map(|r| r.into_inner()) }
        })
        .await?;
        let open = pay::OpenCollectionRequest { bill_id: bill.bill_id };
        gw.open_collection(authed(&people[organiser].token, open)).await?;
        party.iter().for_each(|&p| collections_of[p] += 1);
    }
    let expected = (0..USERS).map(|i| (circles_of[i], posts_of[i], collections_of[i])).collect();
    Ok(Seed { people, campaigns, expected })
}

/// Waits until every user's Home and every CampaignDetail shows the whole seed.
async fn wait_caught_up(gw: &mut MobileGatewayClient<Channel>, seed: &Seed) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let mut behind = Vec::new();
        for (i, person) in seed.people.iter().enumerate() {
            let home = gw.home(authed(&person.token, gw::HomeRequest {})).await?.into_inner();
            let (circles, posts, collections) = seed.expected[i];
            let cards_read = home.shared_deals.iter().all(|d| d.team.is_some() || d.campaign.is_some());
            let funded = home.balances.iter().any(|b| b.currency == "CNY");
            if !(home.missing_parts.is_empty()
                && home.circles.len() == circles
                && home.shared_deals.len() == posts
                && home.collections.len() == collections
                && cards_read
                && funded)
            {
                behind.push(format!("home of user {i}"));
            }
        }
        for campaign in &seed.campaigns {
            let token = &seed.people[0].token;
            let detail = gw
                .campaign_detail(authed(token, gw::CampaignDetailRequest { campaign_id: campaign.clone() }))
                .await?
                .into_inner();
            let filled = detail
                .open_teams
                .iter()
                .all(|t| t.team.as_ref().is_some_and(|t| t.status() == TeamStatus::Open && t.confirmed == 2));
            if detail.open_teams.len() != TEAMS / CAMPAIGNS || !filled {
                behind.push(format!("campaign {campaign}"));
            }
        }
        if behind.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(start.elapsed() < SETTLE, "not caught up after {SETTLE:?}: {behind:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Clients straight to the backends, for the direct runs.
#[derive(Clone)]
struct Backends {
    users: Vec<UsersServiceClient<Channel>>,
    circles: Vec<CirclesServiceClient<Channel>>,
    groupbuy: Vec<GroupBuyServiceClient<Channel>>,
    payments: Vec<PaymentsServiceClient<Channel>>,
    calls: Arc<AtomicU64>,
}

/// One request's view of the backends: its callers' connection, its token, and a call count.
struct Direct<'a> {
    backends: &'a Backends,
    lane: usize,
    token: &'a str,
}

impl Direct<'_> {
    fn request<T>(&self, message: T) -> Request<T> {
        self.backends.calls.fetch_add(1, Ordering::Relaxed);
        let mut request = authed(self.token, message);
        request.set_timeout(PART_BUDGET);
        request
    }

    fn users(&self) -> UsersServiceClient<Channel> {
        self.backends.users[self.lane].clone()
    }
    fn circles(&self) -> CirclesServiceClient<Channel> {
        self.backends.circles[self.lane].clone()
    }
    fn groupbuy(&self) -> GroupBuyServiceClient<Channel> {
        self.backends.groupbuy[self.lane].clone()
    }
    fn payments(&self) -> PaymentsServiceClient<Channel> {
        self.backends.payments[self.lane].clone()
    }

    async fn friends(&self) -> Result<users::ListFriendsResponse, Status> {
        let request = self.request(users::ListFriendsRequest { page: page(FRIENDS_PAGE) });
        Ok(self.users().list_friends(request).await?.into_inner())
    }

    /// Home's calls, in the gateway's order and concurrency (app/screens.rs).
    async fn home(&self) -> Result<(), Status> {
        let wallet =
            async { self.payments().get_wallet(self.request(pay::GetWalletRequest::default())).await.map(drop) };
        let (friends, wallet, collections, deals) =
            tokio::join!(self.friends(), wallet, self.collections(), self.deals());
        friends.and(wallet).and(collections).and(deals).map(drop)
    }

    async fn collections(&self) -> Result<(), Status> {
        let request = self.request(pay::ListMyOpenCollectionsRequest { page: page(COLLECTIONS_PAGE) });
        self.payments().list_my_open_collections(request).await.map(drop)
    }

    async fn deals(&self) -> Result<(), Status> {
        let my_circles = async {
            let request = self.request(circles::ListMyCirclePostsRequest {
                page: page(CIRCLES_PAGE),
                circles_with_posts: CIRCLES_WITH_POSTS,
                posts_per_circle: POSTS_PAGE,
            });
            self.circles().list_my_circle_posts(request).await
        };
        let active = async {
            let request = self.request(gb::ListActiveCampaignsRequest { page: page(CAMPAIGNS_PAGE) });
            self.groupbuy().list_active_campaigns(request).await
        };
        let (my_circles, active) = tokio::join!(my_circles, active);
        let (posts, active) = (my_circles?.into_inner().posts, active?.into_inner().campaigns);
        let targets: Vec<DealTarget> = posts.iter().filter_map(deal_target).collect();
        let team_ids = unique(targets.iter().filter_map(|t| match t {
            DealTarget::Team(id) => Some(id.clone()),
            DealTarget::Campaign(_) => None,
        }));
        let campaign_ids: Vec<String> = unique(
            targets
                .iter()
                .filter_map(|t| match t {
                    DealTarget::Campaign(id) => Some(id.clone()),
                    DealTarget::Team(_) => None,
                })
                .chain(active.into_iter().map(|c| c.campaign_id)),
        )
        .into_iter()
        .take(CAMPAIGNS_WITH_TEAMS)
        .collect();
        if team_ids.is_empty() && campaign_ids.is_empty() {
            return Ok(());
        }
        let request = self.request(gb::ListOpenTeamsRequest {
            campaign_ids,
            team_ids: team_ids.into_iter().take(MAX_IDS).collect(),
            teams_per_campaign: TEAMS_PAGE,
        });
        self.groupbuy().list_open_teams(request).await.map(drop)
    }

    /// CampaignDetail's calls: the campaign with its open teams, and my friends, at once.
    async fn campaign_detail(&self, campaign_id: &str) -> Result<(), Status> {
        let teams = async {
            let request = self.request(gb::ListOpenTeamsRequest {
                campaign_ids: vec![campaign_id.into()],
                team_ids: Vec::new(),
                teams_per_campaign: TEAMS_PAGE,
            });
            self.groupbuy().list_open_teams(request).await
        };
        let (teams, friends) = tokio::join!(teams, self.friends());
        teams.map(drop).and(friends.map(drop))
    }
}

fn unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|i| seen.insert(i.clone())).collect()
}

/// One phase: what the callers saw, backend calls per screen (direct only), CPU ms per screen
/// (this process, the machine), and the load average after it.
type Measured = (OpenLoop, f64, (f64, f64), String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Screen {
    Home,
    CampaignDetail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Path {
    Gateway,
    Direct,
}

/// Drives one screen on one path at `rate` for `seconds`; returns what it measured and the
/// backend calls per screen (direct path only).
async fn run(
    screen: Screen,
    path: Path,
    rate: u32,
    duration: Duration,
    seed: &Arc<Seed>,
    gateway: &[MobileGatewayClient<Channel>],
    backends: &Backends,
) -> (OpenLoop, f64) {
    let (seed, gateway, backends) = (seed.clone(), gateway.to_vec(), backends.clone());
    backends.calls.store(0, Ordering::Relaxed);
    let calls = backends.calls.clone();
    let result = open_loop(rate, duration, move |i| {
        let (seed, mut gw, backends) = (seed.clone(), gateway[i % CHANNELS].clone(), backends.clone());
        async move {
            let person = &seed.people[i % USERS];
            let campaign_id = seed.campaigns[i % CAMPAIGNS].clone();
            match path {
                Path::Gateway => {
                    let missing = match screen {
                        Screen::Home => {
                            let mut request = authed(&person.token, gw::HomeRequest {});
                            request.set_timeout(CLIENT_DEADLINE);
                            gw.home(request).await.map(|r| r.into_inner().missing_parts)
                        }
                        Screen::CampaignDetail => {
                            let mut request = authed(&person.token, gw::CampaignDetailRequest { campaign_id });
                            request.set_timeout(CLIENT_DEADLINE);
                            gw.campaign_detail(request).await.map(|r| r.into_inner().missing_parts)
                        }
                    };
                    match missing {
                        Ok(missing) if missing.is_empty() => Ok(()),
                        Ok(missing) => Err(format!("parts missing: {missing:?}")),
                        Err(status) => Err(status.to_string()),
                    }
                }
                Path::Direct => {
                    let direct = Direct { backends: &backends, lane: i % CHANNELS, token: &person.token };
                    let calls = async {
                        match screen {
                            Screen::Home => direct.home().await,
                            Screen::CampaignDetail => direct.campaign_detail(&campaign_id).await,
                        }
                    };
                    match tokio::time::timeout(CLIENT_DEADLINE, calls).await {
                        Ok(result) => result.map_err(|s| s.to_string()),
                        Err(_) => Err("no answer within the deadline".into()),
                    }
                }
            }
        }
    })
    .await;
    let per_screen = calls.load(Ordering::Relaxed) as f64 / result.sent.max(1) as f64;
    (result, per_screen)
}

/// Each backend read a screen makes, alone and one at a time: where a screen's time goes.
async fn probe(seed: &Seed, backends: &Backends) -> anyhow::Result<()> {
    const ROUNDS: usize = 200;
    let person = &seed.people[1];
    let direct = Direct { backends, lane: 0, token: &person.token };
    let circle_posts = || {
        direct.request(circles::ListMyCirclePostsRequest {
            page: page(CIRCLES_PAGE),
            circles_with_posts: CIRCLES_WITH_POSTS,
            posts_per_circle: POSTS_PAGE,
        })
    };
    let posts = direct.circles().list_my_circle_posts(circle_posts()).await?.into_inner().posts;
    let team_ids: Vec<String> = unique(posts.iter().filter_map(deal_target).filter_map(|t| match t {
        DealTarget::Team(id) => Some(id),
        _ => None,
    }));
    let campaigns = seed.campaigns.clone();
    let mut rows = Vec::new();
    macro_rules! time {
        ($name:expr, $call:expr) => {{
            let mut samples = Vec::with_capacity(ROUNDS);
            let mut errors = 0;
            for _ in 0..ROUNDS {
                let start = Instant::now();
                errors += usize::from($call.await.is_err());
                samples.push(start.elapsed());
            }
            rows.push(($name, percentile(&mut samples, 50.0), percentile(&mut samples, 99.0), errors));
        }};
    }
    time!("users.ListFriends", direct.friends());
    time!("payments.GetWallet", direct.payments().get_wallet(direct.request(pay::GetWalletRequest::default())));
    time!(
        "payments.ListMyOpenCollections",
        direct.payments().list_my_open_collections(
            direct.request(pay::ListMyOpenCollectionsRequest { page: page(COLLECTIONS_PAGE) })
        )
    );
    time!("circles.ListMyCirclePosts", direct.circles().list_my_circle_posts(circle_posts()));
    time!(
        "groupbuy.ListActiveCampaigns",
        direct
            .groupbuy()
            .list_active_campaigns(direct.request(gb::ListActiveCampaignsRequest { page: page(CAMPAIGNS_PAGE) }))
    );
    time!(
        "groupbuy.ListOpenTeams (Home)",
        direct.groupbuy().list_open_teams(direct.request(gb::ListOpenTeamsRequest {
            campaign_ids: campaigns.clone(),
            team_ids: team_ids.clone(),
            teams_per_campaign: TEAMS_PAGE,
        }))
    );
    time!(
        "groupbuy.ListOpenTeams (Detail)",
        direct.groupbuy().list_open_teams(direct.request(gb::ListOpenTeamsRequest {
            campaign_ids: vec![campaigns[0].clone()],
            team_ids: Vec::new(),
            teams_per_campaign: TEAMS_PAGE,
        }))
    );
    println!("\nbackend reads one at a time ({ROUNDS} each): p50 / p99 ms, errors");
    for (name, p50, p99, errors) in rows {
        println!("  {name:<34} {:>7.2} {:>7.2} {errors:>4}", ms(p50), ms(p99));
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time this process (bench callers, gateway and the four services; not Postgres) has
/// used, from /proc/self/stat (clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

/// CPU time the whole machine has used (every process, Postgres and the broker included), from
/// /proc/stat: what one screen really costs when nothing else runs.
fn machine_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .map(|l| l.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    let busy: u64 = cpu.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    Duration::from_millis(busy * 10)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rate: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let duration = Duration::from_secs(seconds);

    // Spans on every call as in production (the services' server span; no exporter), logs
    // only errors (not Kafka's when the broker stops at the end) so the figures stay readable.
    let mut telemetry = CommonConfig::local("bench", 0).telemetry;
    telemetry.log_filter = "error,tuan_runtime::grpc=info,rdkafka=off,librdkafka=off".into();
    let _telemetry = tuan_runtime::telemetry::init("tuan-bench", &telemetry)?;
    let system = start().await?;
    let mut gateway = Vec::new();
    for _ in 0..CHANNELS {
        gateway.push(MobileGatewayClient::new(channel(&system.gateway).await?));
    }
    let started = Instant::now();
    let seed = seed(&mut gateway[0], &system._dbs[0].pool).await?;
    wait_caught_up(&mut gateway[0], &seed).await?;
    println!(
        "seeded through the gateway in {:.1} s: {USERS} users ({} friendships), {} circles, {CAMPAIGNS} campaigns \
         with {TEAMS} open teams of 2/3, {BILLS} open AA collections",
        started.elapsed().as_secs_f64(),
        USERS * FRIEND_REACH,
        USERS / CIRCLE_EVERY,
    );
    let seed = Arc::new(seed);
    let mut backends = Backends {
        users: vec![],
        circles: vec![],
        groupbuy: vec![],
        payments: vec![],
        calls: Arc::new(AtomicU64::new(0)),
    };
    for _ in 0..CHANNELS {
        backends.users.push(UsersServiceClient::new(channel(&system.users).await?));
        backends.circles.push(CirclesServiceClient::new(channel(&system.circles).await?));
        backends.groupbuy.push(GroupBuyServiceClient::new(channel(&system.groupbuy).await?));
        backends.payments.push(PaymentsServiceClient::new(channel(&system.payments).await?));
    }

    probe(&seed, &backends).await?;
    if std::env::var_os("TUAN_BENCH_PROBE_ONLY").is_some() {
        return Ok(());
    }
    // Warm up every path (connections, caches, the planner), then measure in turn.
    for screen in [Screen::Home, Screen::CampaignDetail] {
        for path in [Path::Gateway, Path::Direct] {
            run(screen, path, rate, Duration::from_secs(3), &seed, &gateway, &backends).await;
        }
    }
    // What the process burns with no requests (consumers, relays, scanners), to tell apart.
    let cpu = process_cpu();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = ms(process_cpu() - cpu) / 5.0;
    let mut results: HashMap<(Screen, Path), Measured> = HashMap::new();
    for screen in [Screen::Home, Screen::CampaignDetail] {
        for path in [Path::Gateway, Path::Direct] {
            eprintln!("measuring {screen:?} {path:?}");
            let (cpu, machine) = (process_cpu(), machine_cpu());
            let (result, per_screen) = run(screen, path, rate, duration, &seed, &gateway, &backends).await;
            let sent = result.sent.max(1) as f64;
            let cpu_per_screen = (ms(process_cpu() - cpu) / sent, ms(machine_cpu() - machine) / sent);
            results.insert((screen, path), (result, per_screen, cpu_per_screen, load_average()));
        }
    }

    println!("\n{rate} screens/s open loop for {seconds} s each, {CHANNELS} HTTP/2 connections, {USERS} users' tokens");
    println!(
        "cpu ms/scr: this process (callers, gateway, services) / the whole machine (with Postgres and \
         the broker); this process while idle: {idle:.0} ms/s"
    );
    println!(
        "{:<15} {:<8} {:>7} {:>8} {:>7} {:>8} {:>8} {:>8} {:>9} {:>12}  load avg after",
        "screen", "path", "sent", "rate/s", "errors", "p50 ms", "p99 ms", "max ms", "calls/scr", "cpu ms/scr"
    );
    for screen in [Screen::Home, Screen::CampaignDetail] {
        for path in [Path::Gateway, Path::Direct] {
            let (result, per_screen, cpu, load) = results.get_mut(&(screen, path)).expect("measured");
            let calls = match path {
                Path::Direct => format!("{per_screen:.1}"),
                Path::Gateway => "-".into(),
            };
            let max = result.latencies.iter().max().copied().unwrap_or_default();
            println!(
                "{:<15} {:<8} {:>7} {:>8.0} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>12}  {load}",
                format!("{screen:?}"),
                format!("{path:?}").to_lowercase(),
                result.sent,
                result.sent as f64 / result.elapsed.as_secs_f64(),
                result.errors,
                ms(percentile(&mut result.latencies, 50.0)),
                ms(percentile(&mut result.latencies, 99.0)),
                ms(max),
                calls,
                format!("{:.2} / {:.2}", cpu.0, cpu.1),
            );
            if let Some(error) = &result.first_error {
                println!("{:<24} first error: {error}", "");
            }
        }
    }
    for screen in [Screen::Home, Screen::CampaignDetail] {
        let [g, d] = [Path::Gateway, Path::Direct].map(|p| {
            let (result, _, _, _) = results.get_mut(&(screen, p)).expect("measured");
            (percentile(&mut result.latencies, 50.0), percentile(&mut result.latencies, 99.0))
        });
        println!(
            "{:<15} gateway/direct: p50 {:.2}x, p99 {:.2}x",
            format!("{screen:?}"),
            g.0.as_secs_f64() / d.0.as_secs_f64(),
            g.1.as_secs_f64() / d.1.as_secs_f64()
        );
    }
    Ok(())
}
