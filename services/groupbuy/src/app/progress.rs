//! Live progress for many watchers.
//!
//! One poller per process (`ProgressHub::run`) looks, every `poll` interval, at what its
//! watchers watch and nothing else: the projection versions of all watched teams (one
//! statement) and the progress row of each watched campaign (one each), whatever the number
//! of watchers. What
//! moved is fanned out through a broadcast channel per team or campaign:
//! - a team watcher is woken and reads the team's new events, sending one update per event,
//!   folded with the `Team` aggregate, with the stream version as sequence: every join, in
//!   order, however many happened between two polls;
//! - a campaign watcher receives the new progress row itself, so a thousand watchers of a
//!   flash sale cost no more queries than one.
//!
//! Polling rather than `pg_notify` from the writing transactions: a notification takes a
//! database-wide lock held through the commit's WAL flush, which serialised every join and
//! saga step of the service (pgbench on this machine: 13,000 single-insert commits/s, 2,200
//! with a notify). Progress now lags a change by up to `poll`; a failed poll loses nothing,
//! since the next one compares state, not messages. Between changes, a tick sends the time
//! left when it moved.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use tuan_eventstore::{Aggregate, EventPayload, StreamRef};
use tuan_runtime::{ApiError, shutdown::Shutdown};
use uuid::Uuid;

use super::GroupBuyApp;
use crate::{
    domain::{
        GroupBuyError,
        campaign::{CampaignStatus, seconds_left},
        team::{Team, TeamEvent, TeamStatus},
    },
    store::queries::{self, CampaignProgressRow},
};

/// The broadcast channels of one kind of watched thing, by id.
struct Channels<T>(Mutex<HashMap<Uuid, broadcast::Sender<T>>>);

impl<T: Clone> Channels<T> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn subscribe(&self, id: Uuid) -> broadcast::Receiver<T> {
        self.0.lock().unwrap().entry(id).or_insert_with(|| broadcast::channel(16).0).subscribe()
    }

    /// The ids somebody still watches; forgets the others.
    fn watched(&self) -> Vec<Uuid> {
        let mut channels = self.0.lock().unwrap();
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels.keys().copied().collect()
    }

    fn send(&self, id: Uuid, value: T) {
        if let Some(tx) = self.0.lock().unwrap().get(&id) {
            let _ = tx.send(value);
        }
    }
}

/// Fans changes out to the watchers of this process.
pub struct ProgressHub {
    teams: Channels<()>,
    campaigns: Channels<CampaignProgressRow>,
}

/// What the poller saw last, to send only what moved.
#[derive(Default)]
struct Seen {
    team_versions: HashMap<Uuid, i64>,
    campaigns: HashMap<Uuid, CampaignProgressRow>,
}

impl ProgressHub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { teams: Channels::new(), campaigns: Channels::new() })
    }

    /// Polls every `every` until shutdown.
    pub async fn run(self: Arc<Self>, pool: PgPool, every: Duration, mut shutdown: Shutdown) {
        let mut seen = Seen::default();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait() => return,
            }
            if let Err(e) = self.poll(&pool, &mut seen).await {
                tracing::warn!(error = %e, "progress poll failed; retrying at the next tick");
            }
        }
    }

    async fn poll(&self, pool: &PgPool, seen: &mut Seen) -> Result<(), sqlx::Error> {
        let teams = self.teams.watched();
        seen.team_versions.retain(|id, _| teams.contains(id));
        if !teams.is_empty() {
            for (team, version) in queries::team_versions(pool, &teams).await? {
                // A team seen for the first time wakes its watchers too: one may have read its
                // snapshot just before a change this poll is the first to see.
                if seen.team_versions.insert(team, version) != Some(version) {
                    self.teams.send(team, ());
                }
            }
        }
        let campaigns = self.campaigns.watched();
        seen.campaigns.retain(|id, _| campaigns.contains(id));
        for campaign in campaigns {
            let Some(row) = queries::campaign_progress(pool, campaign).await? else { continue };
            if seen.campaigns.get(&campaign) != Some(&row) {
                seen.campaigns.insert(campaign, row.clone());
                self.campaigns.send(campaign, row);
            }
        }
        Ok(())
    }
}

/// One update of a team: the aggregate state after the event at `sequence`.
#[derive(Clone, Debug)]
pub struct TeamProgress {
    pub team_id: Uuid,
    pub sequence: u64,
    pub change: &'static str,
    pub team: Team,
    pub seconds_left: i64,
    pub stock_left: i64,
}

/// One update of a campaign.
#[derive(Clone, Debug)]
pub struct CampaignProgress {
    pub campaign_id: Uuid,
    pub row: CampaignProgressRow,
    pub seconds_left: i64,
}

fn change_of(event: &TeamEvent) -> &'static str {
    match event {
        TeamEvent::Opened(_) => "opened",
        TeamEvent::MemberJoined(_) => "joined",
        TeamEvent::MemberConfirmed(_) => "confirmed",
        TeamEvent::MemberLeft(_) => "left",
        TeamEvent::MemberDropped(_) => "dropped",
        TeamEvent::LeaderChanged(_) => "leader_changed",
        TeamEvent::Completed(_) => "completed",
        TeamEvent::Expired(_) => "expired",
        TeamEvent::Failed(_) => "failed",
    }
}

const WATCH_BUFFER: usize = 64;

impl GroupBuyApp {
    /// Team updates: a snapshot, then one per team event, in stream order, until the receiver
    /// is dropped or the service shuts down.
    pub async fn watch_team(&self, team_id: Uuid) -> Result<mpsc::Receiver<TeamProgress>, ApiError> {
        let mut signal = self.hub.teams.subscribe(team_id);
        let stream = StreamRef::new(<Team as Aggregate>::STREAM_TYPE, team_id.to_string());
        let mut conn = self.pool.acquire().await?;
        let (mut team, mut version) = self.teams.load(&mut conn, &team_id.to_string()).await.map_err(ApiError::from)?;
        drop(conn);
        if version == 0 {
            return Err(GroupBuyError::TeamNotFound.into());
        }
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let app = self.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let campaign = team.campaign_id.unwrap_or_default();
            let stock = |app: &GroupBuyApp| {
                let pool = app.pool.clone();
                async move {
                    let mut conn = pool.acquire().await?;
                    queries::stock_left(&mut conn, campaign).await
                }
            };
            let now = || Utc::now().timestamp_micros();
            let mut left = seconds_left(team.expires_at_micros, now());
            let first = TeamProgress {
                team_id,
                sequence: version,
                change: "snapshot",
                team: team.clone(),
                seconds_left: left,
                stock_left: stock(&app).await.unwrap_or(0),
            };
            if tx.send(first).await.is_err() {
                return;
            }
            let mut tick = tokio::time::interval(app.settings.progress_tick);
            loop {
                tokio::select! {
                    changed = signal.recv() => if matches!(changed, Err(broadcast::error::RecvError::Closed)) { return },
                    _ = tick.tick() => {
                        let now_left = seconds_left(team.expires_at_micros, now());
                        if team.status.is_live() && now_left != left {
                            left = now_left;
                            let update = TeamProgress { team_id, sequence: version, change: "tick", team: team.clone(), seconds_left: left, stock_left: stock(&app).await.unwrap_or(0) };
                            if tx.send(update).await.is_err() { return; }
                        }
                        continue;
                    }
                    _ = tx.closed() => return,
                    _ = shutdown.wait() => return,
                }
                let events = match app.pool.acquire().await {
                    Ok(mut conn) => app.store.read_stream(&mut conn, &stream, version).await,
                    Err(e) => Err(e.into()),
                };
                let Ok(events) = events else { continue };
                if events.is_empty() {
                    continue;
                }
                let stock_left = stock(&app).await.unwrap_or(0);
                for recorded in events {
                    let Ok(event) = decode(&recorded) else { continue };
                    team.apply(&event);
                    version = recorded.version;
                    left = seconds_left(team.expires_at_micros, now());
                    if team.status != TeamStatus::Pending && !team.status.is_live() {
                        left = 0;
                    }
                    let update = TeamProgress {
                        team_id,
                        sequence: version,
                        change: change_of(&event),
                        team: team.clone(),
                        seconds_left: left,
                        stock_left,
                    };
                    if tx.send(update).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Campaign updates: a snapshot, then one whenever members, stock, status or time left change.
    pub async fn watch_campaign(&self, campaign_id: Uuid) -> Result<mpsc::Receiver<CampaignProgress>, ApiError> {
        let mut changes = self.hub.campaigns.subscribe(campaign_id);
        let Some(row) = queries::campaign_progress(&self.pool, campaign_id).await? else {
            return Err(GroupBuyError::CampaignNotFound.into());
        };
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let app = self.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let left_of = |row: &CampaignProgressRow| {
                if row.status == CampaignStatus::Ended {
                    0
                } else {
                    seconds_left(row.ends_at.timestamp_micros(), Utc::now().timestamp_micros())
                }
            };
            let mut last = CampaignProgress { campaign_id, seconds_left: left_of(&row), row };
            if tx.send(last.clone()).await.is_err() {
                return;
            }
            let mut tick = tokio::time::interval(app.settings.progress_tick);
            loop {
                let row = tokio::select! {
                    change = changes.recv() => match change {
                        Ok(row) => row,
                        // Missed some rows: the next one the poller sends is newer anyway.
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tick.tick() => last.row.clone(),
                    _ = tx.closed() => return,
                    _ = shutdown.wait() => return,
                };
                let next = CampaignProgress { campaign_id, seconds_left: left_of(&row), row };
                if next.row != last.row || next.seconds_left != last.seconds_left {
                    last = next.clone();
                    if tx.send(next).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }
}

fn decode(recorded: &tuan_eventstore::RecordedEvent) -> Result<TeamEvent, ApiError> {
    TeamEvent::decode(&recorded.event_type, recorded.schema_version, &recorded.payload).map_err(ApiError::internal)
}
