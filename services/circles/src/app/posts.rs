//! Posts in circles, moments and timelines.

use chrono::{DateTime, Utc};
use tuan_eventstore::{Aggregate as _, EventMeta};
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::CirclesApp;
use crate::{
    domain::{
        CircleError,
        post::{PostMoment, PublishPost},
        text::Content,
    },
    store::queries::{self, CardLive, CircleRow, ItemRow, Lock},
};

impl CirclesApp {
    /// Publishes a post in a circle the caller is a member of. Holds the circle's lock shared,
    /// so posts never wait for each other, only for a membership change in progress.
    pub async fn create_post(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        circle_id: Uuid,
        content: Content,
    ) -> Result<ItemRow, ApiError> {
        let (mut tx, facts, _) = self.lock(circle_id, Lock::Shared).await?;
        let author_is_member = self.role_of(&mut tx, circle_id, caller.user_id).await?.is_some();
        let command = PublishPost {
            post_id: Uuid::now_v7(),
            circle: facts.circle,
            author: caller.user_id,
            author_is_member,
            content: content.clone(),
        };
        let (_, events) =
            self.posts.execute_in(&mut tx, &command.post_id.to_string(), meta, |p| p.handle(command.clone())).await?;
        tx.commit().await?;
        self.with_live(item(
            command.post_id,
            circle_id,
            caller.user_id,
            &content,
            events.first().map(|e| e.occurred_at),
        ))
        .await
    }

    pub async fn posts(
        &self,
        caller: &Caller,
        circle_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<ItemRow>, ApiError> {
        let row = queries::circle(&self.pool, circle_id, caller.user_id).await?.ok_or(CircleError::CircleNotFound)?;
        if row.my_role.is_empty() {
            return Err(CircleError::NotAMember.into());
        }
        Ok(queries::posts(&self.pool, circle_id, before, limit).await?)
    }

    /// The newest posts (at most `per_circle` each) of those of `circles` the caller is a
    /// member of: rows read for the caller, as [`CirclesApp::my_circles`] gives them. One query.
    pub async fn newest_posts(&self, circles: &[CircleRow], per_circle: i64) -> Result<Vec<ItemRow>, ApiError> {
        let ids: Vec<Uuid> = circles.iter().filter(|c| !c.my_role.is_empty()).map(|c| c.circle_id).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(queries::newest_posts(&self.pool, &ids, per_circle).await?)
    }

    /// Appends one `MomentPosted`; the fan-out consumer puts it on every friend's timeline.
    pub async fn post_moment(&self, meta: &EventMeta, caller: &Caller, content: Content) -> Result<ItemRow, ApiError> {
        let command = PostMoment { moment_id: Uuid::now_v7(), author: caller.user_id, content: content.clone() };
        let (_, events) =
            self.moments.execute(&command.moment_id.to_string(), meta, |m| m.handle(command.clone())).await?;
        self.with_live(item(
            command.moment_id,
            caller.user_id,
            caller.user_id,
            &content,
            events.first().map(|e| e.occurred_at),
        ))
        .await
    }

    /// The item with what its card shows now (lists get this from their own join).
    async fn with_live(&self, mut row: ItemRow) -> Result<ItemRow, ApiError> {
        if let (Some(kind), Some(id)) = (row.card_kind.as_deref(), row.card_id) {
            row.live = queries::card_live(&self.pool, kind, id).await?;
        }
        Ok(row)
    }

    pub async fn timeline(
        &self,
        caller: &Caller,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<ItemRow>, ApiError> {
        Ok(queries::timeline(&self.pool, caller.user_id, before, limit).await?)
    }
}

pub(super) fn item(
    id: Uuid,
    parent_id: Uuid,
    author_id: Uuid,
    content: &Content,
    at: Option<DateTime<Utc>>,
) -> ItemRow {
    let (card_kind, card_id) =
        content.card.map(|c| c.parts()).map(|(k, id)| (Some(k.to_string()), Some(id))).unwrap_or_default();
    ItemRow {
        id,
        parent_id,
        author_id,
        text: content.text.as_str().to_string(),
        card_kind,
        card_id,
        created_at: at.unwrap_or_else(Utc::now),
        source_name: String::new(),
        live: CardLive::default(),
    }
}
