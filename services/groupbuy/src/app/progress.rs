//! Live progress for many watchers.
//!
//! Every committed change to a team or campaign carries `pg_notify('groupbuy_progress',
//! '<kind>:<id>')` (sent by the projection, so it commits with the change, from any replica).
//! One `PgListener` per process fans the notices out through a broadcast channel per key; each
//! watcher then reads what changed:
//! - a team watcher reads the team's new events and sends one update per event, folded with
//!   the `Team` aggregate, with the stream version as sequence: every join, in order;
//! - a campaign watcher re-reads the campaign's counters and sends them if they changed.
//!
//! Between changes, a tick sends the time left when it moved. Notifications are hints only:
//! after a lost listener connection every watcher re-reads, so nothing is missed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::{broadcast, mpsc};
use tuan_eventstore::{Aggregate, EventPayload, StreamRef};
use tuan_runtime::{ApiError, shutdown::Shutdown};
use uuid::Uuid;

use super::GroupBuyApp;
use crate::{
    domain::{
        GroupBuyError,
        campaign::seconds_left,
        team::{Team, TeamEvent, TeamStatus},
    },
    store::{
        projection::PROGRESS_CHANNEL,
        queries::{self, CampaignProgressRow},
    },
};

/// Fans database notifications out to the watchers of this process.
#[derive(Default)]
pub struct ProgressHub {
    keys: Mutex<HashMap<String, broadcast::Sender<()>>>,
    /// Every watcher listens here too: a reconnect means "re-read everything".
    all: Mutex<Option<broadcast::Sender<()>>>,
}

impl ProgressHub {
    pub fn new() -> Arc<Self> {
        let hub = Self::default();
        *hub.all.lock().unwrap() = Some(broadcast::channel(4).0);
        Arc::new(hub)
    }

    fn subscribe(&self, key: &str) -> (broadcast::Receiver<()>, broadcast::Receiver<()>) {
        let mut keys = self.keys.lock().unwrap();
        let rx = keys.entry(key.to_string()).or_insert_with(|| broadcast::channel(16).0).subscribe();
        let all = self.all.lock().unwrap().as_ref().map(|s| s.subscribe()).expect("hub initialised");
        (rx, all)
    }

    fn publish(&self, key: &str) {
        let mut keys = self.keys.lock().unwrap();
        if let Some(tx) = keys.get(key)
            && tx.send(()).is_err()
        {
            keys.remove(key); // nobody watches it any more
        }
    }

    fn publish_all(&self) {
        if let Some(all) = self.all.lock().unwrap().as_ref() {
            let _ = all.send(());
        }
    }

    /// Listens until shutdown, reconnecting after errors.
    pub async fn run(self: Arc<Self>, pool: PgPool, mut shutdown: Shutdown) {
        while !shutdown.is_triggered() {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "progress listener cannot connect; retrying");
                    tokio::select! { _ = tokio::time::sleep(Duration::from_secs(1)) => {}, _ = shutdown.wait() => {} }
                    continue;
                }
            };
            if let Err(e) = listener.listen(PROGRESS_CHANNEL).await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                continue;
            }
            self.publish_all();
            loop {
                tokio::select! {
                    n = listener.try_recv() => match n {
                        Ok(Some(n)) => self.publish(n.payload()),
                        // The connection dropped: notices may be lost, so everyone re-reads.
                        Ok(None) => self.publish_all(),
                        Err(e) => {
                            tracing::warn!(error = %e, "progress listener failed; reconnecting");
                            break;
                        }
                    },
                    _ = shutdown.wait() => return,
                }
            }
        }
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
        let (mut signal, mut all) = self.hub.subscribe(&format!("team:{team_id}"));
        let stream = StreamRef::new(<Team as Aggregate>::STREAM_TYPE, team_id.to_string());
        let mut conn = self.pool.acquire().await?;
        let history = self.store.read_stream(&mut conn, &stream, 0).await.map_err(ApiError::from)?;
        drop(conn);
        if history.is_empty() {
            return Err(GroupBuyError::TeamNotFound.into());
        }
        let mut team = Team::default();
        let mut version = 0;
        for recorded in &history {
            team.apply(&decode(recorded)?);
            version = recorded.version;
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
                    _ = signal.recv() => {}
                    _ = all.recv() => {}
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
        let (mut signal, mut all) = self.hub.subscribe(&format!("campaign:{campaign_id}"));
        let Some(row) = queries::campaign_progress(&self.pool, campaign_id).await? else {
            return Err(GroupBuyError::CampaignNotFound.into());
        };
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let app = self.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let left_of = |row: &CampaignProgressRow| {
                if row.status == "ended" {
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
                let reread = tokio::select! {
                    _ = signal.recv() => true,
                    _ = all.recv() => true,
                    _ = tick.tick() => false,
                    _ = tx.closed() => return,
                    _ = shutdown.wait() => return,
                };
                let row = if reread {
                    match queries::campaign_progress(&app.pool, campaign_id).await {
                        Ok(Some(row)) => row,
                        _ => continue,
                    }
                } else {
                    last.row.clone()
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
