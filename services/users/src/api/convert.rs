//! Read models and domain values to protobuf, and back for cursors.

use chrono::{DateTime, Utc};
use tuan_proto::users::v1 as pb;
use tuan_runtime::ApiError;
use uuid::Uuid;

use crate::{
    app::Tokens,
    domain::friendship::Relation,
    store::queries::{ApplicationRow, ProfileRow, UserRow},
};

pub fn tokens(t: Tokens) -> pb::AuthTokens {
    pb::AuthTokens {
        user_id: t.user_id.to_string(),
        access_token: t.access_token,
        access_expires_at_micros: t.access_expires_at.timestamp_micros(),
        refresh_token: t.refresh_token,
        refresh_expires_at_micros: t.refresh_expires_at.timestamp_micros(),
    }
}

fn merchant_status(s: &str) -> pb::MerchantStatus {
    match s {
        "pending" => pb::MerchantStatus::Pending,
        "verified" => pb::MerchantStatus::Verified,
        "rejected" => pb::MerchantStatus::Rejected,
        _ => pb::MerchantStatus::None,
    }
}

pub fn status_filter(status: pb::MerchantStatus) -> Result<Option<&'static str>, ApiError> {
    Ok(match status {
        pb::MerchantStatus::Unspecified => None,
        pb::MerchantStatus::Pending => Some("pending"),
        pb::MerchantStatus::Verified => Some("verified"),
        pb::MerchantStatus::Rejected => Some("rejected"),
        pb::MerchantStatus::None => return Err(ApiError::invalid("status NONE has no applications to list")),
    })
}

pub fn user(u: UserRow) -> pb::User {
    pb::User {
        user_id: u.user_id.to_string(),
        phone_e164: u.phone_e164,
        display_name: u.display_name,
        avatar_url: u.avatar_url,
        region: u.region,
        marketplace_account_id: u.marketplace_account_id,
        roles: u.roles,
        merchant_status: merchant_status(&u.merchant_status) as i32,
        created_at_micros: u.created_at.timestamp_micros(),
    }
}

pub fn profile(p: ProfileRow) -> pb::PublicProfile {
    pb::PublicProfile {
        user_id: p.user_id.to_string(),
        display_name: p.display_name,
        avatar_url: p.avatar_url,
        region: p.region,
        verified_merchant: p.merchant_status == "verified",
    }
}

pub fn relation(r: Relation) -> pb::FriendshipState {
    match r {
        Relation::None => pb::FriendshipState::None,
        Relation::RequestSent => pb::FriendshipState::RequestSent,
        Relation::RequestReceived => pb::FriendshipState::RequestReceived,
        Relation::Friends => pb::FriendshipState::Friends,
        Relation::Blocked => pb::FriendshipState::Blocked,
    }
}

pub fn application(a: ApplicationRow) -> pb::MerchantApplication {
    pb::MerchantApplication {
        user_id: a.user_id.to_string(),
        business_name: a.business_name,
        license_number: a.license_number,
        contact_phone_e164: a.contact_phone_e164,
        category: a.category,
        status: merchant_status(&a.status) as i32,
        rejection_reason: a.rejection_reason,
        applied_at_micros: a.applied_at.timestamp_micros(),
        decided_at_micros: a.decided_at.map(|d| d.timestamp_micros()).unwrap_or_default(),
        decided_by: a.decided_by,
    }
}

/// `<applied_at micros>_<user id>`.
pub fn application_cursor(a: &ApplicationRow) -> String {
    format!("{}_{}", a.applied_at.timestamp_micros(), a.user_id)
}

pub fn parse_application_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    tuan_runtime::paging::parse_time_cursor(cursor)
}
