//! The seeded random workload: people sign up, befriend each other, form circles and share
//! deals; merchants are verified and launch team and tipping campaigns; buyers open, join and
//! leave teams (short windows, so many expire) and commit to tipping campaigns; money comes in
//! by top-ups, leaves by withdrawals and moves by transfers, AA bills and collection payments.
//!
//! Every worker draws its choices from an RNG of its own seeded from the run's seed, so a seed
//! replays the same decisions; what the system answers still depends on timing.
//!
//! What the clients were told is written down ([`MoneyLog`]) for the invariants to compare with
//! what the services hold.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use tonic::{Code, Status};
use tuan_proto::{
    circles::v1::{self as circles, deal_card::Target},
    gateway::v1 as gw,
    groupbuy::v1 as gb,
    payments::v1 as pay,
    users::v1 as users,
};

use super::{
    Config,
    client::{Client, Person, anon_rpc, rpc},
};
use crate::{flows::PASSWORD, harness::OPERATOR_PHONE};
use tuan_testkit::sms;

/// Fen as the API writes money: "12.34".
pub fn yuan(fen: i64) -> String {
    format!("{}{}.{:02}", if fen < 0 { "-" } else { "" }, fen.abs() / 100, fen.abs() % 100)
}

#[derive(Clone, Debug)]
pub struct CampaignRec {
    pub id: String,
    pub merchant: usize,
    pub tipping: bool,
    pub ends_at: DateTime<Utc>,
    pub active: bool,
}

#[derive(Clone, Debug)]
pub struct TeamRec {
    pub id: String,
    pub campaign: String,
    pub size: usize,
    pub expires_at: DateTime<Utc>,
    pub members: Vec<usize>,
    /// Joinable only once the leader's hold is placed: a moment after opening.
    pub opened_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct CollectionRec {
    pub id: String,
    pub organiser: usize,
    pub unpaid: Vec<usize>,
}

/// What the workload knows of the system.
#[derive(Default)]
pub struct World {
    pub people: Vec<Arc<Person>>,
    pub merchants: Vec<Arc<Person>>,
    friends: Vec<BTreeSet<usize>>,
    pub campaigns: Vec<CampaignRec>,
    pub teams: Vec<TeamRec>,
    circles: Vec<(String, usize)>,
    collections: Vec<CollectionRec>,
    /// The last team window or tipping end the workload created.
    pub latest_deadline: Option<DateTime<Utc>>,
}

impl World {
    fn later(&mut self, at: DateTime<Utc>) {
        self.latest_deadline = Some(self.latest_deadline.map_or(at, |d| d.max(at)));
    }

    fn friends_of(&self, who: usize) -> Vec<usize> {
        self.friends.get(who).map(|f| f.iter().copied().collect()).unwrap_or_default()
    }
}

/// Money as the clients were told it moved: ids from the responses, amounts in fen.
#[derive(Default)]
pub struct MoneyLog {
    /// Top-up request id -> (user id, fen).
    pub top_ups: BTreeMap<String, (String, i64)>,
    /// Withdrawal request id -> (user id, fen).
    pub withdrawals: BTreeMap<String, (String, i64)>,
    /// Journal entry ids of transfer receipts.
    pub transfers: BTreeSet<String>,
    /// Journal entry ids of collection payment receipts.
    pub collection_payments: BTreeSet<String>,
    /// Replays of a money command with its key that answered differently from the first time.
    pub replay_mismatches: Vec<String>,
}

/// How many of each thing happened (client side).
#[derive(Default)]
pub struct Counts(Mutex<BTreeMap<&'static str, u64>>);

impl Counts {
    pub fn bump(&self, what: &'static str) {
        *self.0.lock().expect("counts").entry(what).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().expect("counts").clone()
    }
}

/// Everything the workers share.
pub struct Shared {
    pub config: Config,
    pub client: Client,
    pub world: Mutex<World>,
    pub money: Mutex<MoneyLog>,
    pub counts: Counts,
    /// Refusals by call and code: what the system said no to (expected in a random workload).
    pub refusals: Mutex<BTreeMap<String, u64>>,
    /// Joins the clients were told started: the sagas.
    pub sagas: AtomicU64,
    pub stop: AtomicBool,
    pub operator: Mutex<Option<Arc<Person>>>,
    /// Broker crashes the harness found and restarted (see `faults::heal_broker`).
    pub healed: Mutex<Vec<String>>,
    /// The users database, where people read their sign-up codes (the development SMS sender).
    pub users_db: sqlx::PgPool,
}

impl Shared {
    pub fn new(config: Config, client: Client, users_db: sqlx::PgPool) -> Self {
        Self {
            config,
            client,
            users_db,
            world: Mutex::default(),
            money: Mutex::default(),
            counts: Counts::default(),
            refusals: Mutex::default(),
            sagas: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            operator: Mutex::default(),
            healed: Mutex::default(),
        }
    }

    fn refused(&self, what: &str, status: &Status) {
        // By call, code and the message's gist (ids and amounts left out).
        let gist: String =
            status.message().split([':', '(', '\n']).next().unwrap_or_default().chars().take(60).collect();
        let gist: String =
            gist.split_whitespace().filter(|w| !w.chars().any(|c| c.is_ascii_digit())).collect::<Vec<_>>().join(" ");
        *self
            .refusals
            .lock()
            .expect("refusals")
            .entry(format!("{what}: {:?} \"{gist}\"", status.code()))
            .or_default() += 1;
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().expect("world")
    }
}

fn phone(n: usize) -> String {
    format!("+861390{:07}", n)
}

// ---- people ----

/// Asks for a sign-up code for `phone` and reads it from the SMS, asking again when a kill
/// lost the SMS (or the answer).
async fn sign_up_code(s: &Shared, phone: &str) -> Result<String, Status> {
    let ask = users::RequestPhoneCodeRequest { phone: phone.into(), purpose: users::PhoneCodePurpose::SignUp as i32 };
    let mut last_refusal = Status::unavailable("no SMS came");
    for _ in 0..5 {
        let before = sms::last_id(&s.users_db, phone).await;
        if let Err(e) = s.client.call("ask for a code", anon_rpc!(request_phone_code, ask.clone())).await {
            last_refusal = e;
        }
        // Whatever the answer said, the SMS is what counts (an answer can be lost after it).
        if let Some(sms) = sms::try_next(&s.users_db, phone, before, Duration::from_secs(5)).await {
            return sms.code.ok_or_else(|| Status::already_exists("the SMS says the number is registered"));
        }
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }
    Err(last_refusal)
}

/// Signs a person up with the code of their SMS (or, if a lost answer had already signed them
/// up, logs them in).
async fn sign_up(s: &Shared, n: usize, name: &str) -> Result<Arc<Person>, Status> {
    let phone = phone(n);
    let login = users::LoginRequest { phone: phone.clone(), password: PASSWORD.into() };
    let signed_up = match sign_up_code(s, &phone).await {
        Ok(code) => {
            let request = users::SignUpRequest {
                phone: phone.clone(),
                password: PASSWORD.into(),
                display_name: name.into(),
                region: "CN-31".into(),
                code,
            };
            s.client.call("sign up", anon_rpc!(sign_up, request.clone())).await
        }
        Err(e) => Err(e),
    };
    let tokens = match signed_up {
        Ok(t) => t,
        // Already signed up by an attempt whose answer was lost: its code is spent (a retry
        // is refused as a wrong code), or the SMS said the number is registered.
        Err(e) if matches!(e.code(), Code::AlreadyExists | Code::Unauthenticated) => {
            s.client.call("login", anon_rpc!(login, login.clone())).await.map_err(|_| e)?
        }
        Err(e) => return Err(e),
    };
    s.counts.bump("sign-ups");
    Ok(Arc::new(Person::new(tokens.user_id, phone, tokens.access_token)))
}

async fn operator(s: &Shared) -> Result<Arc<Person>, Status> {
    if let Some(op) = s.operator.lock().expect("operator").clone() {
        return Ok(op);
    }
    // The stack made its operator at start (`users grant-operator`); a sign-up would not be one.
    let login = users::LoginRequest { phone: OPERATOR_PHONE.into(), password: PASSWORD.into() };
    let t = s.client.call("operator login", anon_rpc!(login, login.clone())).await?;
    let op = Arc::new(Person::new(t.user_id, OPERATOR_PHONE.into(), t.access_token));
    *s.operator.lock().expect("operator") = Some(op.clone());
    Ok(op)
}

/// A new merchant: signs up, applies, is verified by the operator, logs in again for the role.
async fn new_merchant(s: &Shared, n: usize) -> Result<usize, Status> {
    let op = operator(s).await?;
    let merchant = sign_up(s, n, &format!("Farm {n}")).await?;
    let application = users::ApplyMerchantRequest {
        business_name: format!("Farm {n} Ltd"),
        license_number: format!("9137{n:06}-MA3C"),
        contact_phone: merchant.phone.clone(),
        category: "fruit".into(),
    };
    match s.client.call_as(&merchant, "apply merchant", rpc!(apply_merchant, application.clone())).await {
        Ok(_) => {}
        Err(e) if e.code() == Code::AlreadyExists || e.code() == Code::FailedPrecondition => {}
        Err(e) => return Err(e),
    }
    let verify = users::VerifyMerchantRequest { user_id: merchant.id.clone() };
    match s.client.call_as(&op, "verify merchant", rpc!(verify_merchant, verify.clone())).await {
        Ok(_) => {}
        Err(e) if e.code() == Code::FailedPrecondition || e.code() == Code::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    s.client.relogin(&merchant).await?;
    s.counts.bump("merchants verified");
    let mut world = s.world();
    world.merchants.push(merchant);
    Ok(world.merchants.len() - 1)
}

async fn befriend(s: &Shared, a: usize, b: usize) {
    let (pa, pb) = {
        let w = s.world();
        (w.people[a].clone(), w.people[b].clone())
    };
    let ask = users::SendFriendRequestRequest { user_id: pb.id.clone(), message: "hi".into() };
    match s.client.call_as(&pa, "friend request", rpc!(send_friend_request, ask.clone())).await {
        Ok(_) => {}
        Err(e) if matches!(e.code(), Code::AlreadyExists | Code::FailedPrecondition) => {}
        Err(e) => return s.refused("friend request", &e),
    }
    let accept = users::FriendTarget { user_id: pa.id.clone() };
    match s.client.call_as(&pb, "accept friend", rpc!(accept_friend_request, accept.clone())).await {
        Ok(r) if r.state() == users::FriendshipState::Friends => {
            s.counts.bump("friendships");
            let mut w = s.world();
            w.friends[a].insert(b);
            w.friends[b].insert(a);
        }
        Ok(_) => {}
        Err(e) => s.refused("accept friend", &e),
    }
}

// ---- money ----

async fn top_up(s: &Shared, rng: &mut StdRng, who: usize, fen: i64) {
    let person = s.world().people[who].clone();
    let key = format!("top-up-{}", rng.r#gen::<u64>());
    let request = pay::TopUpRequest { amount: yuan(fen), currency: "CNY".into(), idempotency_key: key };
    match s.client.call_as(&person, "top up", rpc!(top_up, request.clone())).await {
        Ok(r) => {
            s.counts.bump("top-ups");
            s.money.lock().expect("money").top_ups.insert(r.request_id.clone(), (person.id.clone(), fen));
            if rng.gen_bool(0.2) {
                // The same key again, as a client unsure of the first answer would: same request.
                let again = s.client.call_as(&person, "top up again", rpc!(top_up, request.clone()));
                replayed(s, "top up", r.request_id, again.await.map(|a| a.request_id));
            }
        }
        Err(e) => s.refused("top up", &e),
    }
}

fn replayed(s: &Shared, what: &str, first: String, again: Result<String, Status>) {
    s.counts.bump("idempotent replays");
    match again {
        Ok(id) if id == first => {}
        other => {
            s.money.lock().expect("money").replay_mismatches.push(format!("{what}: first {first}, then {other:?}"))
        }
    }
}

async fn withdraw(s: &Shared, rng: &mut StdRng, who: usize) {
    let person = s.world().people[who].clone();
    let fen = rng.gen_range(100..3_000);
    let key = format!("withdraw-{}", rng.r#gen::<u64>());
    // To the person's WeChat balance (their openid under the app, from WeChat login).
    let openid = format!("o-{}", person.id.replace('-', ""));
    let request =
        pay::WithdrawRequest { amount: yuan(fen), currency: "CNY".into(), idempotency_key: key, wechat_openid: openid };
    match s.client.call_as(&person, "withdraw", rpc!(withdraw, request.clone())).await {
        Ok(r) => {
            s.counts.bump("withdrawals");
            s.money.lock().expect("money").withdrawals.insert(r.request_id, (person.id.clone(), fen));
        }
        Err(e) => s.refused("withdraw", &e),
    }
}

async fn transfer(s: &Shared, rng: &mut StdRng, who: usize) {
    let (person, to) = {
        let w = s.world();
        let Some(&friend) = w.friends_of(who).choose(rng) else { return };
        (w.people[who].clone(), w.people[friend].clone())
    };
    let key = format!("transfer-{}", rng.r#gen::<u64>());
    let request = pay::TransferRequest {
        to_user_id: to.id.clone(),
        amount: yuan(rng.gen_range(100..2_000)),
        currency: "CNY".into(),
        memo: "for the fruit".into(),
        idempotency_key: key,
    };
    match s.client.call_as(&person, "transfer", rpc!(transfer, request.clone())).await {
        Ok(r) => {
            s.counts.bump("transfers");
            s.money.lock().expect("money").transfers.insert(r.entry_id.clone());
            if rng.gen_bool(0.2) {
                let again = s.client.call_as(&person, "transfer again", rpc!(transfer, request.clone()));
                replayed(s, "transfer", r.entry_id, again.await.map(|a| a.entry_id));
            }
        }
        Err(e) => s.refused("transfer", &e),
    }
}

/// An AA bill among friends, split equally, and its collection.
async fn bill(s: &Shared, rng: &mut StdRng, who: usize) {
    let (person, participants) = {
        let w = s.world();
        let mut friends = w.friends_of(who);
        if friends.is_empty() {
            return;
        }
        friends.shuffle(rng);
        friends.truncate(rng.gen_range(1..=3));
        (w.people[who].clone(), friends)
    };
    let ids: Vec<String> = {
        let w = s.world();
        std::iter::once(who).chain(participants.iter().copied()).map(|p| w.people[p].id.clone()).collect()
    };
    let request = pay::CreateBillRequest {
        title: "Hotpot".into(),
        total: yuan(rng.gen_range(1_000..30_000)),
        currency: "CNY".into(),
        split_method: pay::SplitMethod::Equal as i32,
        payers: vec![],
        participants: ids.iter().map(|id| pay::Participant { user_id: id.clone(), value: String::new() }).collect(),
        circle_id: String::new(),
        idempotency_key: format!("bill-{}", rng.r#gen::<u64>()),
    };
    let bill = match s.client.call_as(&person, "create bill", rpc!(create_bill, request.clone())).await {
        Ok(b) => b,
        Err(e) => return s.refused("create bill", &e),
    };
    s.counts.bump("bills");
    let open = pay::OpenCollectionRequest { bill_id: bill.bill_id.clone() };
    match s.client.call_as(&person, "open collection", rpc!(open_collection, open.clone())).await {
        // A lost answer of the first attempt: the collection is open all the same.
        Ok(_) => {}
        Err(e) if e.code() == Code::AlreadyExists || e.code() == Code::FailedPrecondition => {}
        Err(e) => return s.refused("open collection", &e),
    }
    s.counts.bump("collections");
    s.world().collections.push(CollectionRec { id: bill.bill_id, organiser: who, unpaid: participants });
}

async fn pay_collection(s: &Shared, rng: &mut StdRng) {
    let (person, id) = {
        let mut w = s.world();
        w.collections.retain(|c| !c.unpaid.is_empty());
        let Some(c) = w.collections.choose_mut(rng) else { return };
        let payer = c.unpaid.swap_remove(rng.gen_range(0..c.unpaid.len()));
        let id = c.id.clone();
        (w.people[payer].clone(), id)
    };
    let request =
        pay::PayCollectionRequest { collection_id: id, idempotency_key: format!("pay-{}", rng.r#gen::<u64>()) };
    match s.client.call_as(&person, "pay collection", rpc!(pay_collection, request.clone())).await {
        Ok(r) => {
            s.counts.bump("collection payments");
            s.money.lock().expect("money").collection_payments.insert(r.entry_id.clone());
            if rng.gen_bool(0.2) {
                let again = s.client.call_as(&person, "pay collection again", rpc!(pay_collection, request.clone()));
                replayed(s, "pay collection", r.entry_id, again.await.map(|a| a.entry_id));
            }
        }
        Err(e) => s.refused("pay collection", &e),
    }
}

// ---- group buying ----

/// A verified merchant launches a team or tipping campaign. Group buying learns of the
/// verification from the users service's events: until then it refuses, and the launch is
/// sent again.
async fn launch(s: &Shared, rng: &mut StdRng, tipping: bool) {
    let (merchant_idx, merchant) = {
        let w = s.world();
        if w.merchants.is_empty() {
            return;
        }
        let i = rng.gen_range(0..w.merchants.len());
        (i, w.merchants[i].clone())
    };
    let price = rng.gen_range(5..60) * 100 + rng.gen_range(0..100);
    // The end is counted from each attempt: a launch retried through an outage still gets
    // its whole window.
    let (stock, mode, window) = if tipping {
        let stock = rng.gen_range(4..16);
        let window = rng.gen_range(s.config.tipping_window.0..=s.config.tipping_window.1);
        let min_buyers = rng.gen_range(2..=stock / 2 + 1);
        (stock, gb::launch_campaign_request::Mode::Tipping(gb::TippingSettings { min_buyers }), window as i64)
    } else {
        let window = rng.gen_range(s.config.team_window.0..=s.config.team_window.1);
        let discount = if rng.gen_bool(0.3) { "1.00".to_string() } else { String::new() };
        let mode = gb::launch_campaign_request::Mode::Team(gb::TeamSettings {
            team_size: rng.gen_range(2..=4),
            team_window_secs: window,
            leader_discount: discount,
        });
        (rng.gen_range(6..30), mode, 2 * 3600)
    };
    let per_user_limit = rng.gen_range(1..=3);
    let ends_at = std::sync::Mutex::new(Utc::now());
    let request = || {
        let end = Utc::now() + chrono::Duration::seconds(window);
        *ends_at.lock().expect("ends_at") = end;
        gb::LaunchCampaignRequest {
            title: "Yantai apples, 5 kg".into(),
            description: "Crisp and sweet".into(),
            list_price: yuan(price + 1_000),
            group_price: yuan(price),
            currency: "CNY".into(),
            stock,
            per_user_limit,
            starts_at_micros: 0,
            ends_at_micros: end.timestamp_micros(),
            mode: Some(mode.clone()),
        }
    };
    let start = Instant::now();
    let campaign = loop {
        match s.client.call_as(&merchant, "launch campaign", rpc!(launch_campaign, request())).await {
            Ok(c) => break c,
            Err(e)
                if matches!(e.code(), Code::PermissionDenied | Code::FailedPrecondition)
                    && start.elapsed() < Duration::from_secs(90) =>
            {
                tokio::time::sleep(Duration::from_millis(300)).await
            }
            Err(e) => return s.refused("launch campaign", &e),
        }
    };
    let ends_at = *ends_at.lock().expect("ends_at");
    s.counts.bump(if tipping { "tipping campaigns" } else { "team campaigns" });
    let mut w = s.world();
    if tipping {
        w.later(ends_at);
    }
    w.campaigns.push(CampaignRec { id: campaign.campaign_id, merchant: merchant_idx, tipping, ends_at, active: true });
}

/// A random active campaign of the kind, launching one if there are too few.
async fn campaign(s: &Shared, rng: &mut StdRng, tipping: bool) -> Option<String> {
    let now = Utc::now();
    let (count, pick) = {
        let w = s.world();
        let live: Vec<&CampaignRec> = w
            .campaigns
            .iter()
            .filter(|c| c.active && c.tipping == tipping && c.ends_at > now + chrono::Duration::seconds(3))
            .collect();
        (live.len(), live.choose(rng).map(|c| c.id.clone()))
    };
    let wanted = if tipping { 2 } else { 4 };
    if count < wanted {
        launch(s, rng, tipping).await;
    }
    pick
}

fn close_campaign(s: &Shared, id: &str) {
    if let Some(c) = s.world().campaigns.iter_mut().find(|c| c.id == id) {
        c.active = false;
    }
}

fn saga_started(s: &Shared, what: &'static str) {
    s.sagas.fetch_add(1, Ordering::Relaxed);
    s.counts.bump(what);
}

/// What a refused join says about its campaign or team.
fn join_refused(s: &Shared, what: &str, campaign: &str, team: Option<&str>, e: &Status) {
    s.refused(what, e);
    let m = e.message();
    if m.contains("sold out") || m.contains("ended") || m.contains("not active") {
        close_campaign(s, campaign);
    }
    if let Some(team) = team
        && e.code() == Code::FailedPrecondition
        && !m.contains("not open yet")
    {
        s.world().teams.retain(|t| t.id != team);
    }
}

/// A new purchase's idempotency key; the workload's retries (transient errors, and a fifth of
/// the accepted joins sent again on purpose) reuse it, as a phone unsure of the answer would.
fn join_key(rng: &mut StdRng) -> String {
    format!("join-{}", rng.r#gen::<u64>())
}

/// The join a join command answered.
fn join_id(result: &gb::JoinResult) -> String {
    result.join.as_ref().map(|j| j.join_id.clone()).unwrap_or_default()
}

async fn open_team(s: &Shared, rng: &mut StdRng, who: usize) {
    let Some(campaign) = campaign(s, rng, false).await else { return };
    let person = s.world().people[who].clone();
    let request = gb::OpenTeamRequest { campaign_id: campaign.clone(), idempotency_key: join_key(rng) };
    match s.client.call_as(&person, "open team", rpc!(open_team, request.clone())).await {
        Ok(r) => {
            saga_started(s, "teams opened");
            if rng.gen_bool(0.2) {
                let again = s.client.call_as(&person, "open team again", rpc!(open_team, request.clone()));
                replayed(s, "open team", join_id(&r), again.await.map(|a| join_id(&a)));
            }
            let Some(team) = r.team else { return };
            let expires_at = DateTime::from_timestamp_micros(team.expires_at_micros).unwrap_or_else(Utc::now);
            let mut w = s.world();
            w.later(expires_at);
            w.teams.push(TeamRec {
                id: team.team_id,
                campaign,
                size: team.team_size as usize,
                expires_at,
                members: vec![who],
                opened_at: Utc::now(),
            });
        }
        Err(e) => join_refused(s, "open team", &campaign, None, &e),
    }
}

async fn join_team(s: &Shared, rng: &mut StdRng, who: usize) {
    let now = Utc::now();
    let (person, team, campaign) = {
        let mut w = s.world();
        w.teams.retain(|t| t.expires_at > now + chrono::Duration::seconds(1));
        let settled = now - chrono::Duration::milliseconds(1_500);
        let candidates: Vec<&TeamRec> = w
            .teams
            .iter()
            .filter(|t| t.members.len() < t.size && !t.members.contains(&who) && t.opened_at < settled)
            .collect();
        let Some(team) = candidates.choose(rng) else { return };
        (w.people[who].clone(), team.id.clone(), team.campaign.clone())
    };
    let request = gb::JoinTeamRequest { team_id: team.clone(), idempotency_key: join_key(rng) };
    match s.client.call_as(&person, "join team", rpc!(join_team, request.clone())).await {
        Ok(r) => {
            saga_started(s, "team joins");
            if rng.gen_bool(0.2) {
                let again = s.client.call_as(&person, "join team again", rpc!(join_team, request.clone()));
                replayed(s, "join team", join_id(&r), again.await.map(|a| join_id(&a)));
            }
            if let Some(t) = s.world().teams.iter_mut().find(|t| t.id == team) {
                t.members.push(who);
            }
        }
        Err(e) => join_refused(s, "join team", &campaign, Some(&team), &e),
    }
}

async fn leave_team(s: &Shared, rng: &mut StdRng) {
    let now = Utc::now();
    let (person, who, team) = {
        let w = s.world();
        let candidates: Vec<&TeamRec> = w
            .teams
            .iter()
            .filter(|t| t.expires_at > now + chrono::Duration::seconds(1) && !t.members.is_empty())
            .collect();
        let Some(team) = candidates.choose(rng) else { return };
        let who = *team.members.choose(rng).expect("a member");
        (w.people[who].clone(), who, team.id.clone())
    };
    let request = gb::LeaveTeamRequest { team_id: team.clone() };
    match s.client.call_as(&person, "leave team", rpc!(leave_team, request.clone())).await {
        Ok(_) => {
            s.counts.bump("teams left");
            if let Some(t) = s.world().teams.iter_mut().find(|t| t.id == team) {
                t.members.retain(|m| *m != who);
            }
        }
        Err(e) => s.refused("leave team", &e),
    }
}

async fn join_tipping(s: &Shared, rng: &mut StdRng, who: usize) {
    let Some(campaign) = campaign(s, rng, true).await else { return };
    let person = s.world().people[who].clone();
    let request = gb::JoinCampaignRequest { campaign_id: campaign.clone(), idempotency_key: join_key(rng) };
    match s.client.call_as(&person, "join campaign", rpc!(join_campaign, request.clone())).await {
        Ok(r) => {
            saga_started(s, "tipping joins");
            if rng.gen_bool(0.2) {
                let again = s.client.call_as(&person, "join campaign again", rpc!(join_campaign, request.clone()));
                replayed(s, "join campaign", join_id(&r), again.await.map(|a| join_id(&a)));
            }
        }
        Err(e) => join_refused(s, "join campaign", &campaign, None, &e),
    }
}

// ---- circles and screens ----

async fn circle(s: &Shared, rng: &mut StdRng, who: usize) {
    let person = s.world().people[who].clone();
    let existing = s.world().circles.iter().filter(|(_, owner)| *owner == who).map(|(id, _)| id.clone()).next();
    let circle_id = match existing {
        Some(id) => id,
        None => {
            let request = circles::CreateCircleRequest {
                name: format!("Fruit lovers {who}"),
                kind: circles::CircleKind::Cluster as i32,
                topic: "good fruit, cheap".into(),
                approval_required: false,
            };
            match s.client.call_as(&person, "create circle", rpc!(create_circle, request.clone())).await {
                Ok(c) => {
                    s.counts.bump("circles");
                    s.world().circles.push((c.circle_id.clone(), who));
                    c.circle_id
                }
                Err(e) => return s.refused("create circle", &e),
            }
        }
    };
    let friend = {
        let w = s.world();
        w.friends_of(who).choose(rng).map(|f| w.people[*f].id.clone())
    };
    if let Some(friend) = friend {
        let invite = circles::MemberTarget { circle_id: circle_id.clone(), user_id: friend };
        match s.client.call_as(&person, "invite member", rpc!(invite_member, invite.clone())).await {
            Ok(_) => s.counts.bump("circle invitations"),
            Err(e) => s.refused("invite member", &e),
        }
    }
    let target = {
        let w = s.world();
        match w.teams.choose(rng) {
            Some(t) if rng.gen_bool(0.7) => Some(Target::TeamId(t.id.clone())),
            _ => w.campaigns.choose(rng).map(|c| Target::CampaignId(c.id.clone())),
        }
    };
    if let Some(target) = target {
        let post = circles::CreatePostRequest {
            circle_id,
            text: "Join my team!".into(),
            card: Some(circles::DealCard { target: Some(target) }),
        };
        match s.client.call_as(&person, "create post", rpc!(create_post, post.clone())).await {
            Ok(_) => s.counts.bump("deal cards posted"),
            Err(e) => s.refused("create post", &e),
        }
    }
}

async fn screens(s: &Shared, rng: &mut StdRng, who: usize) {
    let person = s.world().people[who].clone();
    let result = match rng.gen_range(0..3) {
        0 => s.client.call_as(&person, "home", rpc!(home, gw::HomeRequest {})).await.map(|_| ()),
        1 => s.client.call_as(&person, "wallet", rpc!(wallet, gw::WalletRequest::default())).await.map(|_| ()),
        _ => {
            let Some(c) = s.world().campaigns.choose(rng).map(|c| c.id.clone()) else { return };
            let request = gw::CampaignDetailRequest { campaign_id: c };
            s.client.call_as(&person, "campaign detail", rpc!(campaign_detail, request.clone())).await.map(|_| ())
        }
    };
    match result {
        Ok(()) => s.counts.bump("screens"),
        Err(e) => s.refused("screen", &e),
    }
}

// ---- the run ----

/// The operator, the merchants, the buyers with money, and their first friendships.
pub async fn setup(s: &Arc<Shared>) -> Result<(), Status> {
    operator(s).await?;
    for m in 0..s.config.merchants {
        new_merchant(s, 9_000 + m).await?;
    }
    let people = s.config.users;
    let chunks: Vec<Vec<usize>> = (0..s.config.workers.max(1))
        .map(|w| (0..people).filter(|n| n % s.config.workers.max(1) == w).collect())
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for n in chunk {
                out.push((n, sign_up(&s, n, &format!("Buyer {n}")).await?));
            }
            Ok::<_, Status>(out)
        }));
    }
    let mut signed: Vec<(usize, Arc<Person>)> = Vec::new();
    for t in tasks {
        signed.extend(t.await.expect("sign-up task")?);
    }
    signed.sort_by_key(|(n, _)| *n);
    {
        let mut w = s.world();
        w.people = signed.into_iter().map(|(_, p)| p).collect();
        w.friends = vec![BTreeSet::new(); people];
    }
    let mut rng = StdRng::seed_from_u64(s.config.seed ^ 0x5e7u64);
    let mut tasks = Vec::new();
    for w in 0..s.config.workers.max(1) {
        let s = s.clone();
        let mut rng = StdRng::seed_from_u64(rng.r#gen());
        tasks.push(tokio::spawn(async move {
            for who in (0..people).filter(|n| n % s.config.workers.max(1) == w) {
                let fen = rng.gen_range(30_000..100_000);
                top_up(&s, &mut rng, who, fen).await;
                for _ in 0..2 {
                    let other = rng.gen_range(0..people);
                    if other != who {
                        befriend(&s, who, other).await;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("setup task");
    }
    launch(s, &mut rng, false).await;
    launch(s, &mut rng, true).await;
    Ok(())
}

/// One worker: random actions until the run has its sagas (or is told to stop).
pub async fn worker(s: Arc<Shared>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let people = s.config.users;
    while !s.stop.load(Ordering::Relaxed) && s.sagas.load(Ordering::Relaxed) < s.config.sagas {
        let who = rng.gen_range(0..people);
        match rng.gen_range(0..100) {
            0..14 => open_team(&s, &mut rng, who).await,
            14..49 => join_team(&s, &mut rng, who).await,
            49..60 => join_tipping(&s, &mut rng, who).await,
            60..63 => leave_team(&s, &mut rng).await,
            63..68 => {
                let fen = rng.gen_range(5_000..30_000);
                top_up(&s, &mut rng, who, fen).await
            }
            68..70 => withdraw(&s, &mut rng, who).await,
            70..77 => transfer(&s, &mut rng, who).await,
            77..81 => bill(&s, &mut rng, who).await,
            81..86 => pay_collection(&s, &mut rng).await,
            86..89 => {
                let other = rng.gen_range(0..people);
                if other != who && !s.world().friends[who].contains(&other) {
                    befriend(&s, who, other).await;
                }
            }
            89..91 => circle(&s, &mut rng, who).await,
            91 => {
                let n = 9_500 + rng.gen_range(0..100_000);
                if let Err(e) = new_merchant(&s, n).await {
                    s.refused("new merchant", &e);
                }
            }
            _ => screens(&s, &mut rng, who).await,
        }
    }
}
