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
        // The recorded event, not only the decided one: the reply shows the time it was stored at.
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

    /// The circles the caller is a member of (as [`CirclesApp::my_circles`] gives them) and
    /// the newest posts (at most `per_circle` each) of the first `with_posts` of them. One query.
    pub async fn my_circles_with_posts(
        &self,
        caller: &Caller,
        after: Option<Uuid>,
        limit: i64,
        with_posts: i64,
        per_circle: i64,
    ) -> Result<(Vec<CircleRow>, Vec<ItemRow>), ApiError> {
        let rows =
            queries::my_circles_with_posts(&self.pool, caller.user_id, after, limit, with_posts, per_circle).await?;
        let (mut circles, mut posts): (Vec<CircleRow>, Vec<ItemRow>) = (Vec::new(), Vec::new());
        // A circle's rows (one per post) come together.
        for row in rows {
            if circles.last().is_none_or(|c| c.circle_id != row.circle.circle_id) {
                circles.push(row.circle);
            }
            posts.extend(row.post);
        }
        Ok((circles, posts))
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
