//! The gateway's use cases: backend clients with their breakers, and the screens built from
//! several backends' query calls at once.
//!
//! - `backends`: the four backends' clients, deadlines and circuit breakers
//! - `screens`: Home, CampaignDetail and Wallet, each from several backends at once
//! - `shared_read`: a short-lived copy of a public read whose answer is the same for everyone
//! - `watches`: the per-user cap and lifetime of open `Watch*` streams

pub mod backends;
pub mod screens;
pub mod shared_read;
pub mod watches;

use std::{sync::Arc, time::Duration};

use tuan_proto::{
    circles::v1::circles_service_client::CirclesServiceClient,
    groupbuy::v1::{Campaign, group_buy_service_client::GroupBuyServiceClient},
    payments::v1::payments_service_client::PaymentsServiceClient,
    users::v1::users_service_client::UsersServiceClient,
};

use crate::{config::GatewaySettings, domain::breaker::BreakerSettings};
use backends::{Backend, Traced, channel, traced};
use shared_read::SharedRead;
use watches::WatchSlots;

/// Budgets of the gateway's calls.
#[derive(Clone, Copy, Debug)]
pub struct Budgets {
    /// One backend call for a screen part.
    pub part: Duration,
    /// A whole screen, when the client's deadline is further away.
    pub screen: Duration,
    /// A passed-through call, when the client's deadline is further away.
    pub command: Duration,
}

/// The four backends, each behind its own circuit breaker.
#[derive(Clone)]
pub struct GatewayApp {
    pub users: Backend<UsersServiceClient<Traced>>,
    pub circles: Backend<CirclesServiceClient<Traced>>,
    pub groupbuy: Backend<GroupBuyServiceClient<Traced>>,
    pub payments: Backend<PaymentsServiceClient<Traced>>,
    pub budgets: Budgets,
    /// The first page of active campaigns, which every signed-in user is shown alike (see
    /// [`GatewayApp::active_campaigns`]).
    active_campaigns: Arc<SharedRead<Vec<Campaign>>>,
    /// The `Watch*` streams each user holds open.
    pub watches: WatchSlots,
}

impl GatewayApp {
    /// Channels connect lazily: the gateway starts whether or not the backends are up.
    pub fn new(settings: &GatewaySettings) -> anyhow::Result<Self> {
        let connect = Duration::from_millis(settings.connect_timeout_ms);
        let breaker = BreakerSettings {
            failure_threshold: settings.breaker_failures,
            cool_down: Duration::from_millis(settings.breaker_cool_down_ms),
        };
        let client = |url: &str| channel(url, connect).map(traced);
        Ok(Self {
            users: Backend::new("users", UsersServiceClient::new(client(&settings.users_url)?), breaker),
            circles: Backend::new("circles", CirclesServiceClient::new(client(&settings.circles_url)?), breaker),
            groupbuy: Backend::new("groupbuy", GroupBuyServiceClient::new(client(&settings.groupbuy_url)?), breaker),
            payments: Backend::new("payments", PaymentsServiceClient::new(client(&settings.payments_url)?), breaker),
            budgets: Budgets {
                part: Duration::from_millis(settings.part_budget_ms),
                screen: Duration::from_millis(settings.screen_budget_ms),
                command: Duration::from_millis(settings.command_budget_ms),
            },
            active_campaigns: Arc::new(SharedRead::new(Duration::from_millis(settings.active_campaigns_ttl_ms))),
            watches: WatchSlots::new(settings.watches_per_user, Duration::from_secs(settings.watch_lifetime_secs)),
        })
    }
}
