//! Read models of the circles service, kept inline with every append and rebuildable.

use chrono::{DateTime, Utc};
use futures::{FutureExt, future::BoxFuture};
use sqlx::PgConnection;
use tuan_eventstore::{Aggregate, Projection, RecordedEvent, StoreError, decode_event, stored_uuid};
use uuid::Uuid;

use crate::domain::{
    account::{AccountEvent, Follow, FollowEvent, PublicAccount},
    circle::{Circle, CircleEvent},
    events as pb,
    membership::{Membership, MembershipEvent},
    plan::{Plan, PlanEvent},
    post::{Moment, MomentEvent, Post, PostEvent},
    text::DealCard,
};

const SCHEMA: &str = r#"
-- One row per circle. `members` is the member count: every command on a circle locks this row
-- first (serialising them per circle), and the CHECK is the second line of defence of the cap.
CREATE TABLE IF NOT EXISTS circles (
    circle_id         UUID PRIMARY KEY,
    owner_id          UUID NOT NULL,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    topic             TEXT NOT NULL,
    approval_required BOOLEAN NOT NULL,
    dissolved         BOOLEAN NOT NULL DEFAULT false,
    members           INT NOT NULL DEFAULT 0,
    member_cap        INT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT circles_member_cap CHECK (members >= 0 AND members <= member_cap)
);

-- status: 'member', 'invited' or 'awaiting_approval'. Nobody else has a row.
CREATE TABLE IF NOT EXISTS memberships (
    circle_id  UUID NOT NULL,
    user_id    UUID NOT NULL,
    status     TEXT NOT NULL,
    role       TEXT NOT NULL DEFAULT '',
    muted      BOOLEAN NOT NULL DEFAULT false,
    invited_by UUID,
    since      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (circle_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_by_status ON memberships (circle_id, status, user_id);
CREATE INDEX IF NOT EXISTS memberships_by_user ON memberships (user_id, circle_id) WHERE status = 'member';

CREATE TABLE IF NOT EXISTS posts (
    post_id    UUID PRIMARY KEY,
    circle_id  UUID NOT NULL,
    author_id  UUID NOT NULL,
    text       TEXT NOT NULL,
    card_kind  TEXT,
    card_id    UUID,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_newest ON posts (circle_id, created_at DESC, post_id DESC);

CREATE TABLE IF NOT EXISTS moments (
    moment_id  UUID PRIMARY KEY,
    author_id  UUID NOT NULL,
    text       TEXT NOT NULL,
    card_kind  TEXT,
    card_id    UUID,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS premium_users (
    user_id UUID PRIMARY KEY,
    since   TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS public_accounts (
    account_id  UUID PRIMARY KEY,
    owner_id    UUID NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    followers   INT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT public_accounts_one_per_owner UNIQUE (owner_id)
);

CREATE TABLE IF NOT EXISTS broadcasts (
    broadcast_id UUID PRIMARY KEY,
    account_id   UUID NOT NULL,
    text         TEXT NOT NULL,
    card_kind    TEXT,
    card_id      UUID,
    month        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS broadcasts_by_month ON broadcasts (account_id, month);

CREATE TABLE IF NOT EXISTS follows (
    account_id UUID NOT NULL,
    user_id    UUID NOT NULL,
    muted      BOOLEAN NOT NULL DEFAULT false,
    since      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
"#;

/// Circles, memberships, posts, moments, plans, public accounts, broadcasts and follows.
pub struct CirclesProjection;

impl Projection for CirclesProjection {
    fn name(&self) -> &'static str {
        "circles"
    }

    fn schema(&self) -> &'static str {
        SCHEMA
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let at = event.occurred_at;
            match event.stream_type.as_str() {
                Circle::STREAM_TYPE => apply_circle(conn, decode_event(event)?, at).await,
                Membership::STREAM_TYPE => apply_membership(conn, decode_event(event)?, at).await,
                Post::STREAM_TYPE => apply_post(conn, decode_event(event)?, at).await,
                Moment::STREAM_TYPE => apply_moment(conn, decode_event(event)?, at).await,
                Plan::STREAM_TYPE => apply_plan(conn, decode_event(event)?, at).await,
                PublicAccount::STREAM_TYPE => apply_account(conn, decode_event(event)?, at).await,
                Follow::STREAM_TYPE => apply_follow(conn, decode_event(event)?, at).await,
                _ => Ok(()),
            }
        }
        .boxed()
    }
}

/// `(card_kind, card_id)` columns of an optional card.
pub(crate) fn card_columns(card: Option<&pb::DealCard>) -> (Option<&'static str>, Option<Uuid>) {
    match card.and_then(|c| DealCard::parse(c).ok().flatten()) {
        Some(c) => {
            let (kind, id) = c.parts();
            (Some(kind), Some(id))
        }
        None => (None, None),
    }
}

async fn exec(
    conn: &mut PgConnection,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<(), StoreError> {
    query.execute(conn).await?;
    Ok(())
}

async fn apply_circle(conn: &mut PgConnection, event: CircleEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    let q = match &event {
        CircleEvent::Created(e) => sqlx::query(
            "INSERT INTO circles (circle_id, owner_id, name, kind, topic, approval_required, member_cap, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(stored_uuid(&e.circle_id)?)
        .bind(stored_uuid(&e.owner_id)?)
        .bind(&e.name)
        .bind(&e.kind)
        .bind(&e.topic)
        .bind(e.approval_required)
        .bind(e.member_cap as i32)
        .bind(at),
        CircleEvent::Renamed(e) => sqlx::query("UPDATE circles SET name = $2 WHERE circle_id = $1")
            .bind(stored_uuid(&e.circle_id)?)
            .bind(&e.name),
        CircleEvent::TopicSet(e) => sqlx::query("UPDATE circles SET topic = $2 WHERE circle_id = $1")
            .bind(stored_uuid(&e.circle_id)?)
            .bind(&e.topic),
        CircleEvent::ApprovalSet(e) => sqlx::query("UPDATE circles SET approval_required = $2 WHERE circle_id = $1")
            .bind(stored_uuid(&e.circle_id)?)
            .bind(e.approval_required),
        CircleEvent::MemberCapSet(e) => sqlx::query("UPDATE circles SET member_cap = $2 WHERE circle_id = $1")
            .bind(stored_uuid(&e.circle_id)?)
            .bind(e.member_cap as i32),
        CircleEvent::OwnershipTransferred(e) => sqlx::query("UPDATE circles SET owner_id = $2 WHERE circle_id = $1")
            .bind(stored_uuid(&e.circle_id)?)
            .bind(stored_uuid(&e.to_user_id)?),
        CircleEvent::Dissolved(e) => {
            sqlx::query("UPDATE circles SET dissolved = true WHERE circle_id = $1").bind(stored_uuid(&e.circle_id)?)
        }
    };
    exec(conn, q).await
}

async fn member_count(conn: &mut PgConnection, circle: Uuid, delta: i32) -> Result<(), StoreError> {
    exec(conn, sqlx::query("UPDATE circles SET members = members + $2 WHERE circle_id = $1").bind(circle).bind(delta))
        .await
}

async fn apply_membership(
    conn: &mut PgConnection,
    event: MembershipEvent,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    match &event {
        MembershipEvent::Invited(e) => {
            let status = if e.awaiting_approval { "awaiting_approval" } else { "invited" };
            let q = sqlx::query(
                "INSERT INTO memberships (circle_id, user_id, status, invited_by, since) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (circle_id, user_id) DO UPDATE SET status = $3, invited_by = $4, since = $5",
            )
            .bind(stored_uuid(&e.circle_id)?)
            .bind(stored_uuid(&e.user_id)?)
            .bind(status)
            .bind(stored_uuid(&e.invited_by)?)
            .bind(at);
            exec(conn, q).await
        }
        MembershipEvent::Approved(e) => {
            let q = sqlx::query("UPDATE memberships SET status = 'invited' WHERE circle_id = $1 AND user_id = $2")
                .bind(stored_uuid(&e.circle_id)?)
                .bind(stored_uuid(&e.user_id)?);
            exec(conn, q).await
        }
        MembershipEvent::Declined(e) => {
            let q = sqlx::query("DELETE FROM memberships WHERE circle_id = $1 AND user_id = $2")
                .bind(stored_uuid(&e.circle_id)?)
                .bind(stored_uuid(&e.user_id)?);
            exec(conn, q).await
        }
        MembershipEvent::Joined(e) => {
            let circle = stored_uuid(&e.circle_id)?;
            let added_by = if e.added_by.is_empty() { None } else { Some(stored_uuid(&e.added_by)?) };
            let q = sqlx::query(
                "INSERT INTO memberships (circle_id, user_id, status, role, invited_by, since) \
                 VALUES ($1, $2, 'member', $3, $4, $5) \
                 ON CONFLICT (circle_id, user_id) DO UPDATE SET status = 'member', role = $3, muted = false, \
                   invited_by = $4, since = $5",
            )
            .bind(circle)
            .bind(stored_uuid(&e.user_id)?)
            .bind(&e.role)
            .bind(added_by)
            .bind(at);
            exec(conn, q).await?;
            member_count(conn, circle, 1).await
        }
        MembershipEvent::Left(pb::MemberLeft { circle_id, user_id })
        | MembershipEvent::Kicked(pb::MemberKicked { circle_id, user_id, .. }) => {
            let circle = stored_uuid(circle_id)?;
            let q = sqlx::query("DELETE FROM memberships WHERE circle_id = $1 AND user_id = $2")
                .bind(circle)
                .bind(stored_uuid(user_id)?);
            exec(conn, q).await?;
            member_count(conn, circle, -1).await
        }
        MembershipEvent::RoleChanged(e) => {
            let q = sqlx::query("UPDATE memberships SET role = $3 WHERE circle_id = $1 AND user_id = $2")
                .bind(stored_uuid(&e.circle_id)?)
                .bind(stored_uuid(&e.user_id)?)
                .bind(&e.role);
            exec(conn, q).await
        }
        MembershipEvent::Muted(e) => {
            let q = sqlx::query("UPDATE memberships SET muted = $3 WHERE circle_id = $1 AND user_id = $2")
                .bind(stored_uuid(&e.circle_id)?)
                .bind(stored_uuid(&e.user_id)?)
                .bind(e.muted);
            exec(conn, q).await
        }
    }
}

async fn apply_post(conn: &mut PgConnection, event: PostEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    let PostEvent::Published(e) = event;
    let (kind, id) = card_columns(e.card.as_ref());
    let q = sqlx::query(
        "INSERT INTO posts (post_id, circle_id, author_id, text, card_kind, card_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(stored_uuid(&e.post_id)?)
    .bind(stored_uuid(&e.circle_id)?)
    .bind(stored_uuid(&e.author_id)?)
    .bind(&e.text)
    .bind(kind)
    .bind(id)
    .bind(at);
    exec(conn, q).await
}

async fn apply_moment(conn: &mut PgConnection, event: MomentEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    let MomentEvent::Posted(e) = event;
    let (kind, id) = card_columns(e.card.as_ref());
    let q = sqlx::query(
        "INSERT INTO moments (moment_id, author_id, text, card_kind, card_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(stored_uuid(&e.moment_id)?)
    .bind(stored_uuid(&e.author_id)?)
    .bind(&e.text)
    .bind(kind)
    .bind(id)
    .bind(at);
    exec(conn, q).await
}

async fn apply_plan(conn: &mut PgConnection, event: PlanEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    let q = match &event {
        PlanEvent::Granted(e) => {
            sqlx::query("INSERT INTO premium_users (user_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(stored_uuid(&e.user_id)?)
                .bind(at)
        }
        PlanEvent::Revoked(e) => {
            sqlx::query("DELETE FROM premium_users WHERE user_id = $1").bind(stored_uuid(&e.user_id)?)
        }
    };
    exec(conn, q).await
}

async fn apply_account(conn: &mut PgConnection, event: AccountEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    let q = match &event {
        AccountEvent::Opened(e) => sqlx::query(
            "INSERT INTO public_accounts (account_id, owner_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(stored_uuid(&e.account_id)?)
        .bind(stored_uuid(&e.owner_id)?)
        .bind(&e.name)
        .bind(&e.description)
        .bind(at),
        AccountEvent::BroadcastSent(e) => {
            let (kind, id) = card_columns(e.card.as_ref());
            sqlx::query(
                "INSERT INTO broadcasts (broadcast_id, account_id, text, card_kind, card_id, month, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(stored_uuid(&e.broadcast_id)?)
            .bind(stored_uuid(&e.account_id)?)
            .bind(&e.text)
            .bind(kind)
            .bind(id)
            .bind(&e.month)
            .bind(at)
        }
    };
    exec(conn, q).await
}

async fn apply_follow(conn: &mut PgConnection, event: FollowEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    match &event {
        FollowEvent::Followed(e) => {
            let account = stored_uuid(&e.account_id)?;
            let q = sqlx::query("INSERT INTO follows (account_id, user_id, since) VALUES ($1, $2, $3)")
                .bind(account)
                .bind(stored_uuid(&e.user_id)?)
                .bind(at);
            exec(conn, q).await?;
            exec(
                conn,
                sqlx::query("UPDATE public_accounts SET followers = followers + 1 WHERE account_id = $1").bind(account),
            )
            .await
        }
        FollowEvent::Unfollowed(e) => {
            let account = stored_uuid(&e.account_id)?;
            let q = sqlx::query("DELETE FROM follows WHERE account_id = $1 AND user_id = $2")
                .bind(account)
                .bind(stored_uuid(&e.user_id)?);
            exec(conn, q).await?;
            exec(
                conn,
                sqlx::query("UPDATE public_accounts SET followers = followers - 1 WHERE account_id = $1").bind(account),
            )
            .await
        }
        FollowEvent::Muted(e) => {
            let q = sqlx::query("UPDATE follows SET muted = $3 WHERE account_id = $1 AND user_id = $2")
                .bind(stored_uuid(&e.account_id)?)
                .bind(stored_uuid(&e.user_id)?)
                .bind(e.muted);
            exec(conn, q).await
        }
    }
}
