//! Merchant applications and their verification by operators.

use chrono::{DateTime, Utc};
use tuan_eventstore::{Aggregate as _, EventMeta};
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::UsersApp;
use crate::{
    domain::{
        UserError,
        merchant::{BusinessDetails, MerchantCommand},
    },
    store::queries::{self, ApplicationRow},
};

impl UsersApp {
    pub async fn apply_merchant(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        details: BusinessDetails,
    ) -> Result<ApplicationRow, ApiError> {
        let user_id = caller.user_id;
        self.merchants
            .execute(&user_id.to_string(), meta, |m| {
                m.handle(MerchantCommand::Apply { user_id, details: details.clone() })
            })
            .await?;
        self.application(caller, None).await
    }

    /// The caller's own application, or anyone's for an operator.
    pub async fn application(&self, caller: &Caller, user: Option<Uuid>) -> Result<ApplicationRow, ApiError> {
        let user = user.unwrap_or(caller.user_id);
        if user != caller.user_id {
            caller.require_operator()?;
        }
        queries::application(&self.pool, user)
            .await?
            .ok_or_else(|| ApiError::not_found("no merchant application for this user"))
    }

    pub async fn applications(
        &self,
        caller: &Caller,
        status: Option<&str>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<ApplicationRow>, ApiError> {
        caller.require_operator()?;
        Ok(queries::applications(&self.pool, status, after, limit).await?)
    }

    /// Verifies (`reason` = None) or rejects an application. Operators only.
    pub async fn decide_merchant(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        user: Uuid,
        rejection: Option<String>,
    ) -> Result<ApplicationRow, ApiError> {
        caller.require_operator()?;
        if user == caller.user_id {
            return Err(UserError::OwnApplication.into());
        }
        let operator_id = caller.user_id;
        self.merchants
            .execute(&user.to_string(), meta, |m| {
                m.handle(match &rejection {
                    None => MerchantCommand::Verify { operator_id },
                    Some(reason) => MerchantCommand::Reject { operator_id, reason: reason.clone() },
                })
            })
            .await?;
        self.application(caller, Some(user)).await
    }
}
