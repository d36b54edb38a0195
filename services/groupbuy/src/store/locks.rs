//! Row locks a use case takes before it appends: a stock bucket for a join, a campaign's row
//! for a saga step. Each is its transaction's first write, for the reasons given at each.

use std::time::Duration;

use sqlx::PgConnection;
use tokio::time::Instant;
use uuid::Uuid;

use super::queries;
use crate::domain::campaign::CampaignStatus;

/// How long a join waits, at most, for a bucket with stock left to be unlocked.
pub const STOCK_WAIT: Duration = Duration::from_secs(3);

/// What [`reserve_bucket`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// This bucket is locked for the transaction, with a unit left.
    Bucket(u32),
    SoldOut,
    /// Every bucket with a unit left stayed locked by other buyers until the deadline.
    Busy,
}

/// Locks one stock bucket of `campaign` with a unit left and returns it.
///
/// A random unlocked bucket, so buyers spread over the buckets instead of queueing on one row.
/// Reservers never block on a bucket row: a blocking `FOR UPDATE ... LIMIT 1` keeps the locks
/// of rows that fail its recheck (buckets emptied meanwhile) while it waits for the next one,
/// and two late buyers can then wait on each other. When every non-empty bucket is held by a
/// buyer in flight, poll briefly (until `until`): each holder commits (or rolls back) within
/// milliseconds.
pub async fn reserve_bucket(conn: &mut PgConnection, campaign: Uuid, until: Instant) -> Result<Reserved, sqlx::Error> {
    const PICK: &str = "SELECT bucket FROM campaign_stock WHERE campaign_id = $1 AND remaining > 0 \
                        ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED";
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(bucket) = sqlx::query_scalar::<_, i32>(PICK).bind(campaign).fetch_optional(&mut *conn).await? {
            return Ok(Reserved::Bucket(bucket as u32));
        }
        if queries::stock_left(conn, campaign).await? == 0 {
            return Ok(Reserved::SoldOut);
        }
        if Instant::now() >= until {
            return Ok(Reserved::Busy);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Locks the row of the campaign of join `join` and returns (campaign id, status); None when
/// there is no such join (or campaign).
///
/// Shared once a tipping campaign's tipping is decided: its steps then each touch their
/// own join's stream only, so they may run side by side (all the holds of a flash sale are
/// of one campaign, and queueing them on its row made that row the saga's limit), while
/// the campaign's end (an update of this row) still waits for them. Exclusive otherwise:
/// undecided tipping steps read the confirmed count and may tip on it, and team steps
/// append to their team's stream, whose events must replay in order: the event store
/// replays by transaction id, taken at a transaction's first write, and this lock comes
/// before any (see `replay_keeps_each_streams_version_order_when_an_older_transaction_appends_last`
/// in the event store's tests). Tipping only ever moves from undecided to decided, so a
/// stale first read can only pick the stronger lock.
pub async fn campaign_of_join(
    conn: &mut PgConnection,
    join: Uuid,
) -> Result<Option<(Uuid, CampaignStatus)>, sqlx::Error> {
    let campaign: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT c.campaign_id, c.tipping IN ('tipped', 'failed') FROM campaigns c \
         WHERE c.campaign_id = (SELECT campaign_id FROM joins WHERE join_id = $1)",
    )
    .bind(join)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((campaign, tipping_decided)) = campaign else { return Ok(None) };
    let sql = if tipping_decided {
        "SELECT status FROM campaigns WHERE campaign_id = $1 FOR SHARE"
    } else {
        "SELECT status FROM campaigns WHERE campaign_id = $1 FOR UPDATE"
    };
    let status = sqlx::query_scalar(sql).bind(campaign).fetch_one(&mut *conn).await?;
    Ok(Some((campaign, status)))
}
