//! `tuanctl`, the operator CLI. It talks gRPC to the services directly (not through the
//! gateway) with an operator's access token: the users, group-buy and payments APIs for
//! look-ups and merchant decisions, and the admin API (`tuan.admin.v1.Admin`) every service
//! with a database serves for dead letters, rebuilds, backlog and stuck sagas.
//!
//! Output is for people by default; `--json` prints one JSON document per command for scripts
//! (`events` prints one JSON object per event and line). `events tail` reads the broker, not
//! a service: see [`events`]. `sms` reads the users database of a local run: see [`sms`].

pub mod events;
pub mod sms;

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use tonic::{Request, transport::Channel};
use tuan_proto::{
    admin::v1::{self as admin, admin_client::AdminClient},
    groupbuy::v1::{self as gb, group_buy_service_client::GroupBuyServiceClient},
    payments::v1::{self as pay, payments_service_client::PaymentsServiceClient},
    users::v1::{self as us, users_service_client::UsersServiceClient},
};

/// The operator CLI of tuan.
#[derive(Parser, Debug)]
#[command(name = "tuanctl", version, about)]
pub struct Cli {
    /// Print JSON instead of tables and sentences.
    #[arg(long, global = true)]
    pub json: bool,
    /// An operator's access token (instead of --phone/--password).
    #[arg(long, global = true, env = "TUAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// An operator's phone number (E.164), to log in with --password.
    #[arg(long, global = true, env = "TUAN_PHONE")]
    pub phone: Option<String>,
    #[arg(long, global = true, env = "TUAN_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Address of the users service.
    #[arg(long, global = true, env = "TUAN_USERS_ADDR", default_value = "127.0.0.1:50051")]
    pub users_addr: String,
    /// Address of the circles service.
    #[arg(long, global = true, env = "TUAN_CIRCLES_ADDR", default_value = "127.0.0.1:50052")]
    pub circles_addr: String,
    /// Address of the group-buy service.
    #[arg(long, global = true, env = "TUAN_GROUPBUY_ADDR", default_value = "127.0.0.1:50053")]
    pub groupbuy_addr: String,
    /// Address of the payments service.
    #[arg(long, global = true, env = "TUAN_PAYMENTS_ADDR", default_value = "127.0.0.1:50054")]
    pub payments_addr: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Merchant applications: list pending ones, verify or reject one.
    #[command(subcommand)]
    Merchants(Merchants),
    /// Roles: grant or revoke one (a user by id or phone number), or list every change.
    #[command(subcommand)]
    Roles(Roles),
    /// A user by id or phone number (+E.164): profile and merchant application.
    User { who: String },
    /// A group-buy campaign and its figures.
    Campaign { id: String },
    /// A team and its members.
    Team { id: String },
    /// A user's wallet (by id or phone number, or `me`): balances and open holds.
    Wallet { user: String },
    /// Dead-lettered messages: list them, or re-drive one.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLetters),
    /// Rebuilds a service's projections online from its event store, with a progress bar.
    Rebuild { service: Service },
    /// Outbox backlog, consumer lag and dead letters waiting, for every service.
    Backlog,
    /// The events themselves: tail services' topics, or show one aggregate's stream.
    #[command(subcommand)]
    Events(Events),
    /// Local development only: the last SMS the users service's development sender "sent" to a
    /// phone number (the sign-up or reset code a person would read), from the users database.
    Sms {
        phone: String,
        /// The users service's database.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/tuan_users")]
        database_url: String,
        /// Print only the code (nothing, and fail, if the SMS carries none).
        #[arg(long)]
        code_only: bool,
    },
    /// Sagas that have not moved for longer than --older-than, and where each stopped.
    Sagas {
        /// e.g. 90s, 15m, 2h, 1d.
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        older_than: Duration,
        /// Only this service (default: group-buy and payments, the ones with sagas).
        #[arg(long)]
        service: Option<Service>,
    },
}

#[derive(Subcommand, Debug)]
pub enum Events {
    /// Envelopes on services' topics, read from the broker outside any consumer group. Several
    /// services interleave: follow one saga across them with --trace.
    Tail {
        /// Whose topics to read, e.g. `groupbuy payments`.
        services: Vec<Service>,
        /// A topic by its full name (the dead letters': `tuan.deadletter.v1`), in addition.
        #[arg(long)]
        topic: Vec<String>,
        /// `beginning`, `end` or an offset, on every partition.
        #[arg(long, default_value = "beginning", value_parser = events::parse_start)]
        from: events::Start,
        /// Keep waiting for new events (otherwise stop at the end offsets found at the start).
        #[arg(long, short)]
        follow: bool,
        /// Only this event type: full (`tuan.groupbuy.v1.JoinRequested`) or short (`JoinRequested`).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only messages with this key (an aggregate's id).
        #[arg(long)]
        key: Option<String>,
        /// Only events of this trace (32 hex digits) or correlation id.
        #[arg(long)]
        trace: Option<String>,
        /// Stop after this many.
        #[arg(long)]
        limit: Option<u64>,
        /// The broker, as the services have it.
        #[arg(long, env = "TUAN_KAFKA__BROKERS", default_value = "127.0.0.1:9092")]
        brokers: String,
        /// The services' topic prefix, if they have one.
        #[arg(long, env = "TUAN_KAFKA__TOPIC_PREFIX", default_value = "")]
        topic_prefix: String,
    },
    /// One aggregate's stream from a service's event store (its admin API), oldest first.
    Show {
        service: Service,
        /// The aggregate's id, e.g. a join's UUID.
        stream_id: String,
        /// Its type (`join`, `team`, ...), when an id names several.
        #[arg(long)]
        stream_type: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum Merchants {
    /// Applications waiting for a decision.
    Pending,
    /// Verifies a user's application: the user becomes a merchant.
    Verify { user: String },
    /// Rejects a user's application, with the reason the applicant will see.
    Reject {
        user: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum Roles {
    /// Grants a role (the first operator is made with `users grant-operator <phone>` inside
    /// the deployment).
    Grant {
        user: String,
        #[arg(long, default_value = "operator")]
        role: String,
    },
    /// Revokes a role; the user's sessions end (access tokens live out their 15 minutes).
    Revoke {
        user: String,
        #[arg(long, default_value = "operator")]
        role: String,
    },
    /// Every grant and revocation, newest first.
    Changes {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeadLetters {
    /// Letters waiting to be re-driven (newest first).
    List {
        /// Only this service (default: all four).
        #[arg(long)]
        service: Option<Service>,
        /// Include letters already re-driven.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Re-publishes a letter's message to its topic so its consumer applies it again.
    Redrive { service: Service, id: i64 },
}

/// The services with a database, which serve the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Service {
    Users,
    Circles,
    Groupbuy,
    Payments,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::Users, Service::Circles, Service::Groupbuy, Service::Payments];

    pub fn name(self) -> &'static str {
        match self {
            Service::Users => "users",
            Service::Circles => "circles",
            Service::Groupbuy => "groupbuy",
            Service::Payments => "payments",
        }
    }
}

/// Parses `90s`, `15m`, `2h`, `1d` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number.parse().map_err(|_| format!("{s:?} is not a duration like 90s, 15m, 2h or 1d"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => return Err(format!("unknown unit {other:?}: use s, m, h or d")),
    };
    Ok(Duration::from_secs(n * secs))
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // The development SMS are in the users database: no service, no token.
    if let Command::Sms { phone, database_url, code_only } = &cli.command {
        return sms::last(database_url, phone, *code_only, cli.json).await;
    }
    // Tailing asks the broker, not a service: it needs no operator token.
    if let Command::Events(Events::Tail {
        services,
        topic,
        from,
        follow,
        event_type,
        key,
        trace,
        limit,
        brokers,
        topic_prefix,
    }) = &cli.command
    {
        let mut topics: Vec<String> =
            services.iter().map(|s| tuan_messaging::service_topic(topic_prefix, s.name())).collect();
        topics.extend(topic.iter().cloned());
        if topics.is_empty() {
            bail!("name a service (users, circles, groupbuy, payments) or a --topic");
        }
        let tail = events::Tail {
            brokers,
            topics,
            start: *from,
            follow: *follow,
            filter: events::Filter { event_type: event_type.clone(), key: key.clone(), trace: trace.clone() },
            limit: *limit,
            json: cli.json,
        };
        // Blocking is fine here: the runtime has nothing else to run.
        return tail.run(&mut std::io::stdout().lock()).map(drop);
    }
    let ctl = Ctl::new(&cli).await?;
    match &cli.command {
        Command::Merchants(m) => ctl.merchants(m).await,
        Command::Roles(r) => ctl.roles(r).await,
        Command::User { who } => ctl.user(who).await,
        Command::Campaign { id } => ctl.campaign(id).await,
        Command::Team { id } => ctl.team(id).await,
        Command::Wallet { user } => ctl.wallet(user).await,
        Command::DeadLetters(d) => ctl.dead_letters(d).await,
        Command::Rebuild { service } => ctl.rebuild(*service).await,
        Command::Backlog => ctl.backlog().await,
        Command::Sagas { older_than, service } => ctl.sagas(*older_than, *service).await,
        Command::Events(Events::Show { service, stream_id, stream_type }) => {
            ctl.show_stream(*service, stream_id, stream_type.as_deref()).await
        }
        Command::Events(Events::Tail { .. }) => unreachable!("tail runs without a session, above"),
        Command::Sms { .. } => unreachable!("sms runs without a session, above"),
    }
}

struct Ctl {
    json: bool,
    token: String,
    /// The operator's own user id, when logged in with a phone number.
    me: Option<String>,
    users_addr: String,
    circles_addr: String,
    groupbuy_addr: String,
    payments_addr: String,
}

async fn connect(addr: &str) -> anyhow::Result<Channel> {
    let url = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
    tonic::transport::Endpoint::from_shared(url.clone())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot connect to {url}"))
}

/// A gRPC error as one line: the code and the service's message.
fn status(e: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", e.code(), e.message())
}

fn when(micros: i64) -> String {
    if micros == 0 {
        return "-".into();
    }
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.to_rfc3339()).unwrap_or_else(|| micros.to_string())
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Prints rows under a header, columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

fn merchant_status(s: i32) -> &'static str {
    match us::MerchantStatus::try_from(s).unwrap_or_default() {
        us::MerchantStatus::Unspecified | us::MerchantStatus::None => "none",
        us::MerchantStatus::Pending => "pending",
        us::MerchantStatus::Verified => "verified",
        us::MerchantStatus::Rejected => "rejected",
    }
}

fn application_json(a: &us::MerchantApplication) -> Value {
    json!({
        "user_id": a.user_id, "business_name": a.business_name, "license_number": a.license_number,
        "contact_phone": a.contact_phone_e164, "category": a.category, "status": merchant_status(a.status),
        "rejection_reason": a.rejection_reason, "applied_at": when(a.applied_at_micros),
        "decided_at": when(a.decided_at_micros), "decided_by": a.decided_by,
    })
}

fn letter_json(l: &admin::DeadLetter) -> Value {
    json!({
        "id": l.id, "consumer": l.consumer, "topic": l.topic, "partition": l.partition, "offset": l.offset,
        "event_type": l.event_type, "event_id": l.event_id, "reason": l.reason, "attempts": l.attempts,
        "failed_at": when(l.failed_at_micros),
        "redriven_at": if l.redriven_at_micros == 0 { Value::Null } else { json!(when(l.redriven_at_micros)) },
    })
}

impl Ctl {
    async fn new(cli: &Cli) -> anyhow::Result<Self> {
        let mut ctl = Self {
            json: cli.json,
            token: String::new(),
            me: None,
            users_addr: cli.users_addr.clone(),
            circles_addr: cli.circles_addr.clone(),
            groupbuy_addr: cli.groupbuy_addr.clone(),
            payments_addr: cli.payments_addr.clone(),
        };
        match (&cli.token, &cli.phone, &cli.password) {
            (Some(token), _, _) => ctl.token = token.trim().to_string(),
            (None, Some(phone), Some(password)) => {
                let mut users = UsersServiceClient::new(connect(&ctl.users_addr).await?);
                let tokens = users
                    .login(us::LoginRequest { phone: phone.clone(), password: password.clone() })
                    .await
                    .map_err(status)
                    .context("logging in")?
                    .into_inner();
                ctl.token = tokens.access_token;
                ctl.me = Some(tokens.user_id);
            }
            _ => bail!("give an operator's credentials: --token, or --phone and --password (or TUAN_TOKEN, ...)"),
        }
        Ok(ctl)
    }

    fn authed<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Ok(value) = format!("Bearer {}", self.token).parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    fn addr(&self, service: Service) -> &str {
        match service {
            Service::Users => &self.users_addr,
            Service::Circles => &self.circles_addr,
            Service::Groupbuy => &self.groupbuy_addr,
            Service::Payments => &self.payments_addr,
        }
    }

    async fn users(&self) -> anyhow::Result<UsersServiceClient<Channel>> {
        Ok(UsersServiceClient::new(connect(&self.users_addr).await?))
    }

    async fn admin(&self, service: Service) -> anyhow::Result<AdminClient<Channel>> {
        Ok(AdminClient::new(connect(self.addr(service)).await?))
    }

    async fn merchants(&self, command: &Merchants) -> anyhow::Result<()> {
        let mut users = self.users().await?;
        let decided = match command {
            Merchants::Pending => {
                let mut applications = Vec::new();
                let mut cursor = String::new();
                loop {
                    let page = tuan_proto::common::v1::PageRequest { limit: 100, cursor: cursor.clone() };
                    let request = us::ListMerchantApplicationsRequest {
                        status: us::MerchantStatus::Pending as i32,
                        page: Some(page),
                    };
                    let reply =
                        users.list_merchant_applications(self.authed(request)).await.map_err(status)?.into_inner();
                    applications.extend(reply.applications);
                    if reply.next_cursor.is_empty() {
                        break;
                    }
                    cursor = reply.next_cursor;
                }
                if self.json {
                    print_json(&Value::Array(applications.iter().map(application_json).collect()));
                } else if applications.is_empty() {
                    println!("no merchant application is pending");
                } else {
                    let rows: Vec<Vec<String>> = applications
                        .iter()
                        .map(|a| {
                            vec![
                                a.user_id.clone(),
                                a.business_name.clone(),
                                a.license_number.clone(),
                                a.category.clone(),
                                a.contact_phone_e164.clone(),
                                when(a.applied_at_micros),
                            ]
                        })
                        .collect();
                    table(&["USER", "BUSINESS", "LICENCE", "CATEGORY", "CONTACT", "APPLIED"], &rows);
                }
                return Ok(());
            }
            Merchants::Verify { user } => {
                let request = us::VerifyMerchantRequest { user_id: user.clone() };
                users.verify_merchant(self.authed(request)).await.map_err(status)?.into_inner()
            }
            Merchants::Reject { user, reason } => {
                let request = us::RejectMerchantRequest { user_id: user.clone(), reason: reason.clone() };
                users.reject_merchant(self.authed(request)).await.map_err(status)?.into_inner()
            }
        };
        if self.json {
            print_json(&application_json(&decided));
        } else {
            println!(
                "{} ({}) is now {}{}",
                decided.business_name,
                decided.user_id,
                merchant_status(decided.status),
                if decided.rejection_reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", decided.rejection_reason)
                }
            );
        }
        Ok(())
    }

    async fn roles(&self, command: &Roles) -> anyhow::Result<()> {
        let mut users = self.users().await?;
        let changed = match command {
            Roles::Grant { user, role } => {
                let user_id = self.user_id(&mut users, user).await?;
                let request = us::GrantRoleRequest { user_id, role: role.clone() };
                users.grant_role(self.authed(request)).await.map_err(status)?.into_inner()
            }
            Roles::Revoke { user, role } => {
                let user_id = self.user_id(&mut users, user).await?;
                let request = us::RevokeRoleRequest { user_id, role: role.clone() };
                users.revoke_role(self.authed(request)).await.map_err(status)?.into_inner()
            }
            Roles::Changes { limit } => {
                let page = tuan_proto::common::v1::PageRequest { limit: *limit, cursor: String::new() };
                let request = us::ListRoleChangesRequest { page: Some(page) };
                let changes = users.list_role_changes(self.authed(request)).await.map_err(status)?.into_inner().changes;
                if self.json {
                    let rows = changes
                        .iter()
                        .map(|c| {
                            json!({"user_id": c.user_id, "role": c.role, "change": c.change,
                                   "changed_by": c.changed_by, "changed_at": when(c.changed_at_micros)})
                        })
                        .collect();
                    print_json(&Value::Array(rows));
                } else {
                    let rows: Vec<Vec<String>> = changes
                        .iter()
                        .map(|c| {
                            vec![
                                when(c.changed_at_micros),
                                c.user_id.clone(),
                                c.role.clone(),
                                c.change.clone(),
                                c.changed_by.clone(),
                            ]
                        })
                        .collect();
                    table(&["WHEN", "USER", "ROLE", "CHANGE", "BY"], &rows);
                }
                return Ok(());
            }
        };
        if self.json {
            print_json(&json!({"user_id": changed.user_id, "roles": changed.roles}));
        } else {
            println!("{} now has roles [{}]", changed.user_id, changed.roles.join(", "));
        }
        Ok(())
    }

    /// A user id from an id or a phone number (+E.164).
    async fn user_id(&self, users: &mut UsersServiceClient<Channel>, who: &str) -> anyhow::Result<String> {
        Ok(if who.starts_with('+') {
            // Found the way the app finds friends: by the salted hash of the number.
            // (It counts against the operator's daily discovery allowance, one number a lookup.)
            let salt = users
                .get_discovery_salt(self.authed(us::GetDiscoverySaltRequest {}))
                .await
                .map_err(status)?
                .into_inner();
            use sha2::Digest as _;
            let hash = hex::encode(sha2::Sha256::new().chain_update(salt.salt.as_bytes()).chain_update(who).finalize());
            let request = us::DiscoverFriendsRequest { phone_hashes: vec![hash], salt_id: salt.salt_id };
            let found = users.discover_friends(self.authed(request)).await.map_err(status)?.into_inner();
            found
                .matches
                .into_iter()
                .find_map(|m| m.profile.map(|p| p.user_id))
                .with_context(|| format!("no user has the phone number {who}"))?
        } else {
            who.to_string()
        })
    }

    async fn user(&self, who: &str) -> anyhow::Result<()> {
        let mut users = self.users().await?;
        let user_id = self.user_id(&mut users, who).await?;
        let profiles = users
            .get_profiles(self.authed(us::GetProfilesRequest { user_ids: vec![user_id.clone()] }))
            .await
            .map_err(status)?
            .into_inner();
        let profile = profiles.profiles.into_iter().next().with_context(|| format!("no user {user_id}"))?;
        let application = match users
            .get_merchant_application(self.authed(us::GetMerchantApplicationRequest { user_id: user_id.clone() }))
            .await
        {
            Ok(a) => Some(a.into_inner()),
            Err(e) if e.code() == tonic::Code::NotFound => None,
            Err(e) => return Err(status(e)),
        };
        if self.json {
            print_json(&json!({
                "user_id": profile.user_id, "display_name": profile.display_name, "region": profile.region,
                "avatar_url": profile.avatar_url, "verified_merchant": profile.verified_merchant,
                "merchant_application": application.as_ref().map(application_json),
            }));
        } else {
            println!("user       {}", profile.user_id);
            println!("name       {}", profile.display_name);
            println!("region     {}", profile.region);
            println!("merchant   {}", if profile.verified_merchant { "verified" } else { "no" });
            if let Some(a) = application {
                println!(
                    "application  {} ({}), {}, applied {}",
                    a.business_name,
                    a.category,
                    merchant_status(a.status),
                    when(a.applied_at_micros)
                );
            }
        }
        Ok(())
    }

    async fn campaign(&self, id: &str) -> anyhow::Result<()> {
        let mut groupbuy = GroupBuyServiceClient::new(connect(&self.groupbuy_addr).await?);
        let r = || gb::CampaignRef { campaign_id: id.to_string() };
        let c = groupbuy.get_campaign(self.authed(r())).await.map_err(status)?.into_inner();
        // The figures are the merchant's; operators may not be allowed them.
        let stats = groupbuy.get_campaign_stats(self.authed(r())).await.ok().map(|s| s.into_inner());
        if self.json {
            print_json(&json!({
                "campaign_id": c.campaign_id, "merchant_id": c.merchant_id, "title": c.title,
                "status": format!("{:?}", c.status()), "mode": format!("{:?}", c.mode()),
                "list_price": c.list_price, "group_price": c.group_price, "currency": c.currency,
                "stock": c.stock, "stock_left": c.stock_left, "team_size": c.team_size,
                "min_buyers": c.min_buyers, "confirmed_buyers": c.confirmed_buyers,
                "starts_at": when(c.starts_at_micros), "ends_at": when(c.ends_at_micros),
                "stats": stats.as_ref().map(|s| json!({
                    "teams_opened": s.teams_opened, "teams_completed": s.teams_completed,
                    "teams_failed": s.teams_failed, "buyers": s.buyers, "units_sold": s.units_sold,
                    "units_pending": s.units_pending, "revenue": s.revenue,
                })),
            }));
        } else {
            println!("campaign   {} ({:?}, {:?})", c.campaign_id, c.status(), c.mode());
            println!("title      {}", c.title);
            println!("merchant   {}", c.merchant_id);
            println!("price      {} {} (list {})", c.group_price, c.currency, c.list_price);
            println!("stock      {} left of {}", c.stock_left, c.stock);
            println!("window     {} .. {}", when(c.starts_at_micros), when(c.ends_at_micros));
            if let Some(s) = stats {
                println!(
                    "teams      {} opened, {} completed, {} failed; {} units sold, {} pending; revenue {} {}",
                    s.teams_opened,
                    s.teams_completed,
                    s.teams_failed,
                    s.units_sold,
                    s.units_pending,
                    s.revenue,
                    s.currency
                );
            }
        }
        Ok(())
    }

    async fn team(&self, id: &str) -> anyhow::Result<()> {
        let mut groupbuy = GroupBuyServiceClient::new(connect(&self.groupbuy_addr).await?);
        let t = groupbuy.get_team(self.authed(gb::TeamRef { team_id: id.to_string() })).await.map_err(status)?;
        let t = t.into_inner();
        if self.json {
            print_json(&json!({
                "team_id": t.team_id, "campaign_id": t.campaign_id, "leader_id": t.leader_id,
                "status": format!("{:?}", t.status()), "team_size": t.team_size, "confirmed": t.confirmed,
                "expires_at": when(t.expires_at_micros), "opened_at": when(t.opened_at_micros), "reason": t.reason,
                "members": t.members.iter().map(|m| json!({
                    "user_id": m.user_id, "join_id": m.join_id, "status": format!("{:?}", m.status()),
                    "leader": m.leader, "joined_at": when(m.joined_at_micros),
                })).collect::<Vec<_>>(),
            }));
        } else {
            println!("team       {} ({:?}) of campaign {}", t.team_id, t.status(), t.campaign_id);
            println!("members    {}/{} ({} confirmed)", t.members.len(), t.team_size, t.confirmed);
            println!("expires    {}", when(t.expires_at_micros));
            if !t.reason.is_empty() {
                println!("reason     {}", t.reason);
            }
            let rows: Vec<Vec<String>> = t
                .members
                .iter()
                .map(|m| {
                    vec![
                        m.user_id.clone(),
                        m.join_id.clone(),
                        format!("{:?}", m.status()),
                        if m.leader { "leader".into() } else { String::new() },
                        when(m.joined_at_micros),
                    ]
                })
                .collect();
            table(&["USER", "JOIN", "STATUS", "", "JOINED"], &rows);
        }
        Ok(())
    }

    async fn wallet(&self, user: &str) -> anyhow::Result<()> {
        // `me` (or no id): the operator's own wallet; anyone else's needs the operator role,
        // which payments checks.
        let user_id = match user {
            "me" => String::new(),
            who => self.user_id(&mut self.users().await?, who).await?,
        };
        let mut payments = PaymentsServiceClient::new(connect(&self.payments_addr).await?);
        let request = pay::GetWalletRequest { user_id };
        let w = payments.get_wallet(self.authed(request)).await.map_err(status)?.into_inner();
        if self.json {
            print_json(&json!({
                "user_id": w.user_id,
                "balances": w.balances.iter().map(|b| json!({"currency": b.currency, "available": b.available, "held": b.held})).collect::<Vec<_>>(),
                "open_holds": w.open_holds.iter().map(|h| json!({
                    "hold_id": h.hold_id, "amount": h.amount, "remaining": h.remaining, "currency": h.currency,
                    "merchant_id": h.merchant_id, "campaign_id": h.campaign_id, "team_id": h.team_id,
                    "status": format!("{:?}", h.status()), "expires_at": when(h.expires_at_micros),
                })).collect::<Vec<_>>(),
            }));
        } else {
            println!("wallet of {}", w.user_id);
            let rows: Vec<Vec<String>> =
                w.balances.iter().map(|b| vec![b.currency.clone(), b.available.clone(), b.held.clone()]).collect();
            if rows.is_empty() {
                println!("no balances");
            } else {
                table(&["CURRENCY", "AVAILABLE", "HELD"], &rows);
            }
            println!("{} open holds", w.open_holds.len());
            let holds: Vec<Vec<String>> = w
                .open_holds
                .iter()
                .map(|h| {
                    vec![
                        h.hold_id.clone(),
                        format!("{} {}", h.remaining, h.currency),
                        h.campaign_id.clone(),
                        when(h.expires_at_micros),
                    ]
                })
                .collect();
            if !holds.is_empty() {
                table(&["HOLD", "REMAINING", "CAMPAIGN", "EXPIRES"], &holds);
            }
        }
        Ok(())
    }

    async fn dead_letters(&self, command: &DeadLetters) -> anyhow::Result<()> {
        match command {
            DeadLetters::List { service, all, limit } => {
                let services = service.map(|s| vec![s]).unwrap_or_else(|| Service::ALL.to_vec());
                let mut found = Vec::new();
                for s in services {
                    let request = admin::ListDeadLettersRequest { limit: *limit, before_id: 0, include_redriven: *all };
                    let reply = self.admin(s).await?.list_dead_letters(self.authed(request)).await.map_err(status);
                    let letters = reply.with_context(|| format!("listing dead letters of {}", s.name()))?;
                    found.extend(letters.into_inner().letters.into_iter().map(|l| (s, l)));
                }
                if self.json {
                    let items: Vec<Value> = found
                        .iter()
                        .map(|(s, l)| {
                            let mut v = letter_json(l);
                            v["service"] = json!(s.name());
                            v
                        })
                        .collect();
                    print_json(&Value::Array(items));
                } else if found.is_empty() {
                    println!("no dead letters waiting");
                } else {
                    let rows: Vec<Vec<String>> = found
                        .iter()
                        .map(|(s, l)| {
                            vec![
                                s.name().to_string(),
                                l.id.to_string(),
                                l.consumer.clone(),
                                format!("{}/{}@{}", l.topic, l.partition, l.offset),
                                l.event_type.clone(),
                                when(l.failed_at_micros),
                                if l.redriven_at_micros == 0 { "waiting".into() } else { "re-driven".into() },
                                l.reason.chars().take(80).collect(),
                            ]
                        })
                        .collect();
                    table(&["SERVICE", "ID", "CONSUMER", "MESSAGE", "EVENT", "FAILED", "STATE", "REASON"], &rows);
                }
            }
            DeadLetters::Redrive { service, id } => {
                let request = admin::RedriveDeadLetterRequest { id: *id };
                let reply = self.admin(*service).await?.redrive_dead_letter(self.authed(request)).await;
                let reply = reply.map_err(status)?.into_inner();
                let letter = reply.letter.unwrap_or_default();
                if self.json {
                    print_json(&json!({"published": reply.published, "letter": letter_json(&letter)}));
                } else if reply.published {
                    println!(
                        "re-drove dead letter {} of {}: {} published again to {} for {}",
                        letter.id,
                        service.name(),
                        letter.event_type,
                        letter.topic,
                        letter.consumer
                    );
                } else {
                    println!(
                        "dead letter {} of {} was already re-driven at {}; nothing published",
                        letter.id,
                        service.name(),
                        when(letter.redriven_at_micros)
                    );
                }
            }
        }
        Ok(())
    }

    async fn rebuild(&self, service: Service) -> anyhow::Result<()> {
        let mut admin = self.admin(service).await?;
        let mut stream = admin
            .rebuild_projections(self.authed(admin::RebuildProjectionsRequest {}))
            .await
            .map_err(status)?
            .into_inner();
        let bar = if self.json {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(format!("rebuilding {}", service.name()));
            bar
        };
        let mut last = admin::RebuildProgress::default();
        while let Some(progress) = stream.message().await.map_err(status)? {
            bar.set_length(progress.total.max(progress.replayed));
            bar.set_position(progress.replayed);
            last = progress;
            if last.done {
                break;
            }
        }
        bar.finish_and_clear();
        if !last.done {
            bail!("the rebuild of {} ended without finishing (see the service's log)", service.name());
        }
        if self.json {
            print_json(&json!({"service": service.name(), "replayed": last.replayed, "done": true}));
        } else {
            println!("rebuilt the projections of {} from {} events and swapped them in", service.name(), last.replayed);
        }
        Ok(())
    }

    async fn backlog(&self) -> anyhow::Result<()> {
        let mut backlogs = Vec::new();
        for s in Service::ALL {
            let reply = match self.admin(s).await {
                Ok(mut admin) => admin.get_backlog(self.authed(admin::GetBacklogRequest {})).await.map_err(status),
                Err(e) => Err(e),
            };
            backlogs.push((s, reply.map(|r| r.into_inner())));
        }
        if self.json {
            let items: Vec<Value> = backlogs
                .iter()
                .map(|(s, b)| match b {
                    Ok(b) => json!({
                        "service": s.name(), "outbox_rows": b.outbox_rows,
                        "outbox_oldest_age_seconds": b.outbox_oldest_age_seconds,
                        "dead_letters_waiting": b.dead_letters_waiting, "lag_error": b.lag_error,
                        "lag": b.lag.iter().map(|l| json!({
                            "consumer": l.consumer, "topic": l.topic, "partition": l.partition,
                            "committed": l.committed, "end_offset": l.end_offset, "lag": l.lag,
                        })).collect::<Vec<_>>(),
                    }),
                    Err(e) => json!({"service": s.name(), "error": format!("{e:#}")}),
                })
                .collect();
            print_json(&Value::Array(items));
            return Ok(());
        }
        let mut rows = Vec::new();
        let mut lag_rows = Vec::new();
        for (s, b) in &backlogs {
            match b {
                Ok(b) => {
                    let lag: i64 = b.lag.iter().map(|l| l.lag).sum();
                    rows.push(vec![
                        s.name().to_string(),
                        b.outbox_rows.to_string(),
                        format!("{:.1}s", b.outbox_oldest_age_seconds),
                        b.dead_letters_waiting.to_string(),
                        if b.lag_error.is_empty() { lag.to_string() } else { format!("? ({})", b.lag_error) },
                    ]);
                    for l in &b.lag {
                        lag_rows.push(vec![
                            l.consumer.clone(),
                            l.topic.clone(),
                            l.partition.to_string(),
                            l.committed.to_string(),
                            l.end_offset.to_string(),
                            l.lag.to_string(),
                        ]);
                    }
                }
                Err(e) => rows.push(vec![s.name().to_string(), format!("unreachable: {e:#}")]),
            }
        }
        table(&["SERVICE", "OUTBOX", "OLDEST", "DEAD LETTERS", "CONSUMER LAG"], &rows);
        if !lag_rows.is_empty() {
            println!();
            table(&["CONSUMER", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"], &lag_rows);
        }
        Ok(())
    }

    async fn show_stream(&self, service: Service, stream_id: &str, stream_type: Option<&str>) -> anyhow::Result<()> {
        let mut admin = self.admin(service).await?;
        let mut after_version = 0;
        let mut shown = 0;
        loop {
            let request = admin::ReadStreamRequest {
                stream_id: stream_id.to_string(),
                stream_type: stream_type.unwrap_or_default().to_string(),
                after_version,
                limit: 0,
            };
            let page = admin.read_stream(self.authed(request)).await.map_err(status)?.into_inner();
            for stored in &page.events {
                let Some(envelope) = &stored.envelope else { continue };
                let value =
                    events::describe(envelope, &events::Location::Store { global_position: stored.global_position });
                println!("{}", if self.json { value.to_string() } else { events::line(&value) });
                after_version = after_version.max(envelope.version);
                shown += 1;
            }
            if !page.more || page.events.is_empty() {
                break;
            }
        }
        if shown == 0 {
            bail!("{} has no events of stream {stream_id}", service.name());
        }
        Ok(())
    }

    async fn sagas(&self, older_than: Duration, service: Option<Service>) -> anyhow::Result<()> {
        let services = service.map(|s| vec![s]).unwrap_or_else(|| vec![Service::Groupbuy, Service::Payments]);
        let mut found = Vec::new();
        for s in services {
            let request = admin::ListStuckSagasRequest { older_than_seconds: older_than.as_secs().max(1), limit: 0 };
            let reply = self.admin(s).await?.list_stuck_sagas(self.authed(request)).await.map_err(status);
            found.extend(
                reply.with_context(|| format!("asking {}", s.name()))?.into_inner().sagas.into_iter().map(|x| (s, x)),
            );
        }
        if self.json {
            let items: Vec<Value> = found
                .iter()
                .map(|(s, x)| {
                    json!({
                        "service": s.name(), "kind": x.kind, "id": x.id, "state": x.state,
                        "age_seconds": x.age_seconds, "last_step": x.last_step, "detail": x.detail,
                    })
                })
                .collect();
            print_json(&Value::Array(items));
        } else if found.is_empty() {
            println!("no saga has been stuck for {}s or more", older_than.as_secs());
        } else {
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|(s, x)| {
                    vec![
                        s.name().to_string(),
                        x.kind.clone(),
                        x.id.clone(),
                        x.state.clone(),
                        format!("{:.0}s", x.age_seconds),
                        x.last_step.clone(),
                        x.detail.clone(),
                    ]
                })
                .collect();
            table(&["SERVICE", "KIND", "ID", "STATE", "AGE", "STOPPED AFTER", "DETAIL"], &rows);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "m", "15x", "-5m", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["tuanctl", "--json", "sagas", "--older-than", "10m", "--service", "payments"])
            .unwrap();
        assert!(cli.json);
        assert!(matches!(cli.command, Command::Sagas { service: Some(Service::Payments), .. }));
        let cli = Cli::try_parse_from(["tuanctl", "merchants", "reject", "u1", "--reason", "expired"]).unwrap();
        assert!(matches!(cli.command, Command::Merchants(Merchants::Reject { .. })));
        assert!(Cli::try_parse_from(["tuanctl", "merchants", "reject", "u1"]).is_err(), "a rejection needs a reason");
    }
}
