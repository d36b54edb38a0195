//! Granted roles: the operator role is given by an operator (the first one from inside the
//! deployment, [`grant_operator_in_deployment`]), never by a phone number, and can be revoked.

use tuan_eventstore::{Aggregate as _, EventMeta, ProjectionSet, Repository};
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::UsersApp;
use crate::{
    domain::{
        UserError,
        phone::PhoneNumber,
        user::{Role, User, UserCommand},
    },
    store::queries::{self, RoleChangeRow},
};

/// Who granted a role from inside the deployment (`users grant-operator`).
pub const DEPLOYMENT: &str = "deployment";

impl UsersApp {
    /// Grants `role` to `user`. Operators only; granting a role the user has changes nothing.
    pub async fn grant_role(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        user: Uuid,
        role: Role,
    ) -> Result<Vec<String>, ApiError> {
        caller.require_operator()?;
        let granted_by = caller.user_id.to_string();
        let (user, _) = self
            .users
            .execute(&user.to_string(), meta, |u| {
                u.handle(UserCommand::GrantRole { role, granted_by: granted_by.clone() })
            })
            .await?;
        Ok(user.roles.into_iter().collect())
    }

    /// Revokes `role` from `user` and ends every session of theirs. Operators only, and not
    /// their own (so one operator always remains to grant it again).
    pub async fn revoke_role(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        user: Uuid,
        role: Role,
    ) -> Result<Vec<String>, ApiError> {
        caller.require_operator()?;
        if user == caller.user_id {
            return Err(UserError::OwnRole.into());
        }
        let revoked_by = caller.user_id.to_string();
        let mut tx = self.pool.begin().await?;
        let (after, events) = self
            .users
            .run_in(&mut tx, user, meta, UserCommand::RevokeRole { role, revoked_by: revoked_by.clone() })
            .await?;
        if !events.is_empty() {
            self.end_sessions(&mut tx, meta, user, None, "role_revoked").await?;
        }
        tx.commit().await?;
        Ok(after.roles.into_iter().collect())
    }

    /// Every grant and revocation, newest first, before the cursor position. Operators only.
    pub async fn role_changes(
        &self,
        caller: &Caller,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RoleChangeRow>, ApiError> {
        caller.require_operator()?;
        Ok(queries::role_changes(&self.pool, before, limit).await?)
    }
}

/// Makes the user with `phone` an operator: what `users grant-operator <phone>` runs inside the
/// deployment, with database access and no token. Returns the user's id.
pub async fn grant_operator_in_deployment(
    pool: &sqlx::PgPool,
    projections: ProjectionSet,
    phone: &str,
) -> Result<Uuid, ApiError> {
    let phone = PhoneNumber::parse(phone)?;
    let user = queries::user_by_phone(pool, phone.as_str()).await?.ok_or(UserError::UserNotFound)?;
    let users: Repository<User> = Repository::new(tuan_eventstore::EventStore::new(pool.clone()), projections);
    let meta = EventMeta::default();
    users
        .execute(&user.user_id.to_string(), &meta, |u| {
            u.handle(UserCommand::GrantRole { role: Role::Operator, granted_by: DEPLOYMENT.into() })
        })
        .await?;
    Ok(user.user_id)
}
