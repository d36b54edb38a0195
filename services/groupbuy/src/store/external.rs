//! Tables outside the rebuildable `proj` schema: the social graph fed by the users service's
//! events (verified merchants and blocks, `tuan_messaging::social`), and the durable deadlines
//! the scanner works through.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const SCHEMA: &str = r#"
-- A deadline is written in the transaction that sets it and deleted in the one that acts on it.
CREATE TABLE IF NOT EXISTS public.deadlines (
    kind   TEXT NOT NULL,
    id     UUID NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS deadlines_due ON public.deadlines (due_at);
"#;

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineKind {
    /// A team's window ends.
    Team,
    /// A campaign's end time.
    CampaignEnd,
}

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Team => "team",
            DeadlineKind::CampaignEnd => "campaign_end",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "team" => Some(DeadlineKind::Team),
            "campaign_end" => Some(DeadlineKind::CampaignEnd),
            _ => None,
        }
    }
}

pub async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    tuan_messaging::social::install(pool).await?;
    tuan_eventstore::install_tables(pool, SCHEMA).await
}

pub async fn set_deadline(
    conn: &mut PgConnection,
    kind: DeadlineKind,
    id: Uuid,
    due: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.deadlines (kind, id, due_at) VALUES ($1, $2, $3) \
         ON CONFLICT (kind, id) DO UPDATE SET due_at = EXCLUDED.due_at",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(due)
    .execute(conn)
    .await?;
    Ok(())
}

/// Brings deadlines forward to now (e.g. every live team of a campaign that ended).
pub async fn due_now(conn: &mut PgConnection, kind: DeadlineKind, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE public.deadlines SET due_at = now() WHERE kind = $1 AND id = ANY($2) AND due_at > now()")
        .bind(kind.as_str())
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn clear_deadline(conn: &mut PgConnection, kind: DeadlineKind, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.deadlines WHERE kind = $1 AND id = $2")
        .bind(kind.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks one due deadline for the caller's transaction; other replicas skip it.
pub async fn claim_due(conn: &mut PgConnection) -> Result<Option<(DeadlineKind, Uuid)>, sqlx::Error> {
    let row: Option<(String, Uuid)> = sqlx::query_as(
        "SELECT kind, id FROM public.deadlines WHERE due_at <= now() ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(kind, id)| DeadlineKind::parse(&kind).map(|k| (k, id))))
}
