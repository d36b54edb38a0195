//! `tuanctl`, the operator CLI. It talks gRPC to the services directly (not through the
//! gateway) with an operator's access token: the users, group-buy and payments APIs for
//! look-ups and merchant decisions, and the admin API (`tuan.admin.v1.Admin`) every service
//! with a database serves for dead letters, rebuilds, backlog and stuck sagas.
//!
//! Output is for people by default; `--json` prints one JSON document per command for scripts
//! (`events` prints one JSON object per event and line). `events tail` reads the broker, not
//! a service: see [`events`]. `sms` reads the users database of a local run: see [`sms`].
//!
//! Rooms: `cli` (the arguments), `ctl` (a session: token and addresses), `output` (tables
//! and JSON), and one per command group: `people` (merchants, roles, users), `commerce`
//! (campaigns, teams, wallets), `operations` (dead letters, rebuilds, backlog, streams, stuck
//! sagas), `events`, `sms`.

mod cli;
mod commerce;
mod ctl;
pub mod events;
mod operations;
mod output;
mod people;
pub mod sms;

use anyhow::bail;

pub use cli::{Cli, Command, DeadLetters, Events, Merchants, Roles, Service, parse_duration};
use ctl::Ctl;

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
