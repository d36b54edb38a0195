//! The command line: what tuanctl takes.

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::events;

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
