//! Circles and memberships. Every command on an existing circle first locks the circle's row
//! (`queries::lock_circle`), then decides on the circle's and the members' streams inside that
//! transaction: commands on one circle serialise, the member count read under the lock is
//! exact, and the cap can never be passed.

use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::OwnedMutexGuard;
use tuan_eventstore::EventMeta;
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::CirclesApp;
use crate::{
    domain::{
        CircleError,
        circle::{Actor, CapLimits, CircleCommand, Kind, Role},
        membership::{CircleFacts, MemberAction, MembershipCommand, membership_id},
        text::{CircleName, Topic},
    },
    store::queries::{self, CircleRow, Lock, MembershipRow},
};

/// A membership operation as asked through the API (facts are filled in here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberOp {
    Invite,
    Approve,
    Decline,
    Join,
    Leave,
    Kick,
    Promote,
    Demote,
    Mute(bool),
}

/// A circle setting change.
#[derive(Clone, Debug)]
pub enum SettingChange {
    Rename(CircleName),
    Topic(Topic),
    Approval(bool),
    MemberCap(u32),
    Dissolve,
}

impl CirclesApp {
    pub async fn create_circle(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        name: CircleName,
        kind: Kind,
        topic: Topic,
        approval_required: bool,
    ) -> Result<CircleRow, ApiError> {
        let circle_id = Uuid::now_v7();
        let owner = caller.user_id;
        let cap = self.settings.default_member_cap;
        let mut tx = self.pool.begin().await?;
        let (circle, _) = self
            .circles
            .run_in(
                &mut tx,
                circle_id,
                meta,
                CircleCommand::Create {
                    circle_id,
                    owner,
                    name: name.clone(),
                    kind,
                    topic: topic.clone(),
                    cap,
                    approval_required,
                },
            )
            .await?;
        let facts = CircleFacts { circle, members: 0 };
        let actor = Actor { user_id: owner, role: None };
        self.memberships
            .run_in(
                &mut tx,
                membership_id(circle_id, owner),
                meta,
                MembershipCommand { facts: facts.clone(), actor, subject: owner, action: MemberAction::Found },
            )
            .await?;
        tx.commit().await?;
        self.circle(caller, circle_id).await
    }

    /// The circle as `caller` sees it. Groups are private to their members and invitees;
    /// clusters are open, so anyone may look.
    pub async fn circle(&self, caller: &Caller, circle_id: Uuid) -> Result<CircleRow, ApiError> {
        let row = queries::circle(&self.pool, circle_id, caller.user_id).await?.ok_or(CircleError::CircleNotFound)?;
        if row.kind == Kind::Group.as_str()
            && row.my_role.is_empty()
            && queries::membership(&self.pool, circle_id, caller.user_id).await?.is_none()
        {
            return Err(CircleError::CircleNotFound.into());
        }
        Ok(row)
    }

    /// Opens a transaction holding the circle's lock, with the circle's state and member count.
    /// Exclusive turns queue in this replica first (see [`super::gate`]); keep the returned
    /// turn until the transaction ends.
    pub(super) async fn lock(
        &self,
        circle_id: Uuid,
        lock: Lock,
    ) -> Result<(Transaction<'static, Postgres>, CircleFacts, Option<OwnedMutexGuard<()>>), ApiError> {
        let turn = match lock {
            Lock::Exclusive => Some(self.gate.enter(circle_id).await),
            Lock::Shared => None,
        };
        let mut tx = self.pool.begin().await?;
        let members = queries::lock_circle(&mut tx, circle_id, lock).await?.ok_or(CircleError::CircleNotFound)?;
        let (circle, _) = self.circles.load(&mut tx, &circle_id.to_string()).await?;
        Ok((tx, CircleFacts { circle, members }, turn))
    }

    pub(super) async fn role_of(
        &self,
        conn: &mut PgConnection,
        circle_id: Uuid,
        user: Uuid,
    ) -> Result<Option<Role>, ApiError> {
        let (membership, _) = self.memberships.load(conn, &membership_id(circle_id, user)).await?;
        Ok(membership.role())
    }

    pub async fn change_setting(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        circle_id: Uuid,
        change: SettingChange,
    ) -> Result<CircleRow, ApiError> {
        let (mut tx, facts, _turn) = self.lock(circle_id, Lock::Exclusive).await?;
        let actor = Actor { user_id: caller.user_id, role: self.role_of(&mut tx, circle_id, caller.user_id).await? };
        let command = match change {
            SettingChange::Rename(name) => CircleCommand::Rename { actor, name },
            SettingChange::Topic(topic) => CircleCommand::SetTopic { actor, topic },
            SettingChange::Approval(required) => CircleCommand::SetApproval { actor, required },
            SettingChange::Dissolve => CircleCommand::Dissolve { actor },
            SettingChange::MemberCap(cap) => {
                let limits = CapLimits {
                    standard: self.settings.default_member_cap,
                    premium: self.settings.premium_member_cap,
                    owner_is_premium: queries::is_premium(&mut tx, caller.user_id).await?,
                };
                CircleCommand::SetMemberCap { actor, cap, limits, members: facts.members }
            }
        };
        self.circles.run_in(&mut tx, circle_id, meta, command).await?;
        tx.commit().await?;
        Ok(queries::circle(&self.pool, circle_id, caller.user_id).await?.ok_or(CircleError::CircleNotFound)?)
    }

    /// Hands the circle to another member; the old owner stays on as an admin.
    pub async fn transfer_ownership(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        circle_id: Uuid,
        to: Uuid,
    ) -> Result<CircleRow, ApiError> {
        let (mut tx, facts, _turn) = self.lock(circle_id, Lock::Exclusive).await?;
        let actor = Actor { user_id: caller.user_id, role: self.role_of(&mut tx, circle_id, caller.user_id).await? };
        let to_role = self.role_of(&mut tx, circle_id, to).await?;
        let (circle, _) = self
            .circles
            .run_in(&mut tx, circle_id, meta, CircleCommand::TransferOwnership { actor, to, to_role })
            .await?;
        let facts = CircleFacts { circle, ..facts };
        for (subject, action) in [(to, MemberAction::TakeOwnership), (caller.user_id, MemberAction::HandOverOwnership)]
        {
            self.memberships
                .run_in(
                    &mut tx,
                    membership_id(circle_id, subject),
                    meta,
                    MembershipCommand { facts: facts.clone(), actor, subject, action: action.clone() },
                )
                .await?;
        }
        tx.commit().await?;
        Ok(queries::circle(&self.pool, circle_id, caller.user_id).await?.ok_or(CircleError::CircleNotFound)?)
    }

    /// Does `op` to `subject`'s membership as `caller`; returns the membership afterwards
    /// (None when the subject is no longer in or invited to the circle).
    pub async fn member_op(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        circle_id: Uuid,
        subject: Uuid,
        op: MemberOp,
    ) -> Result<Option<MembershipRow>, ApiError> {
        let (mut tx, facts, turn) = self.lock(circle_id, Lock::Exclusive).await?;
        let role = if caller.user_id == subject && op == MemberOp::Join {
            None
        } else {
            self.role_of(&mut tx, circle_id, caller.user_id).await?
        };
        let actor = Actor { user_id: caller.user_id, role };
        let action = match op {
            MemberOp::Invite => {
                MemberAction::Invite { relation: queries::relation(&mut tx, caller.user_id, subject).await? }
            }
            MemberOp::Join => {
                let owner = facts.circle.owner;
                MemberAction::Join { blocked_by_owner: queries::is_blocked(&mut *tx, owner, caller.user_id).await? }
            }
            MemberOp::Approve => MemberAction::Approve,
            MemberOp::Decline => MemberAction::Decline,
            MemberOp::Leave => MemberAction::Leave,
            MemberOp::Kick => MemberAction::Kick,
            MemberOp::Promote => MemberAction::Promote,
            MemberOp::Demote => MemberAction::Demote,
            MemberOp::Mute(muted) => MemberAction::Mute(muted),
        };
        let command = MembershipCommand { facts, actor, subject, action };
        self.memberships.run_in(&mut tx, membership_id(circle_id, subject), meta, command).await?;
        tx.commit().await?;
        drop(turn);
        Ok(queries::membership(&self.pool, circle_id, subject).await?)
    }

    pub async fn my_circles(
        &self,
        caller: &Caller,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<CircleRow>, ApiError> {
        Ok(queries::my_circles(&self.pool, caller.user_id, after, limit).await?)
    }

    /// Members (or invitees) of a circle; only its members may look.
    pub async fn members(
        &self,
        caller: &Caller,
        circle_id: Uuid,
        status: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<MembershipRow>, ApiError> {
        let row = queries::circle(&self.pool, circle_id, caller.user_id).await?.ok_or(CircleError::CircleNotFound)?;
        if row.my_role.is_empty() {
            return Err(CircleError::NotAMember.into());
        }
        Ok(queries::members(&self.pool, circle_id, status, after, limit).await?)
    }
}
