//! Merchant decisions, roles and users.

use anyhow::Context as _;
use serde_json::{Value, json};
use tonic::transport::Channel;
use tuan_proto::users::v1::{self as us, users_service_client::UsersServiceClient};

use crate::{
    cli::*,
    ctl::{Ctl, status},
    output::*,
};

impl Ctl {
    pub(crate) async fn merchants(&self, command: &Merchants) -> anyhow::Result<()> {
        let mut users = self.users().await?;
        let decided = match command {
            Merchants::Pending => {
                let mut applications = Vec::new();
                let mut cursor = String::new();
                loop {
                    let page = tuan_proto::common::v1::PageRequest { limit: 100, cursor: cursor.clone() };
                    let request = us::ListMerchantApplicationsRequest {
                        status: us::MerchantStatus::Pending as i32,
                        page: Some(page),
                    };
                    let reply =
                        users.list_merchant_applications(self.authed(request)).await.map_err(status)?.into_inner();
                    applications.extend(reply.applications);
                    if reply.next_cursor.is_empty() {
                        break;
                    }
                    cursor = reply.next_cursor;
                }
                if self.json {
                    print_json(&Value::Array(applications.iter().map(application_json).collect()));
                } else if applications.is_empty() {
                    println!("no merchant application is pending");
                } else {
                    let rows: Vec<Vec<String>> = applications
                        .iter()
                        .map(|a| {
                            vec![
                                a.user_id.clone(),
                                a.business_name.clone(),
                                a.license_number.clone(),
                                a.category.clone(),
                                a.contact_phone_e164.clone(),
                                when(a.applied_at_micros),
                            ]
                        })
                        .collect();
                    table(&["USER", "BUSINESS", "LICENCE", "CATEGORY", "CONTACT", "APPLIED"], &rows);
                }
                return Ok(());
            }
            Merchants::Verify { user } => {
                let request = us::VerifyMerchantRequest { user_id: user.clone() };
                users.verify_merchant(self.authed(request)).await.map_err(status)?.into_inner()
            }
            Merchants::Reject { user, reason } => {
                let request = us::RejectMerchantRequest { user_id: user.clone(), reason: reason.clone() };
                users.reject_merchant(self.authed(request)).await.map_err(status)?.into_inner()
            }
        };
        if self.json {
            print_json(&application_json(&decided));
        } else {
            println!(
                "{} ({}) is now {}{}",
                decided.business_name,
                decided.user_id,
                merchant_status(decided.status),
                if decided.rejection_reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", decided.rejection_reason)
                }
            );
        }
        Ok(())
    }

    pub(crate) async fn roles(&self, command: &Roles) -> anyhow::Result<()> {
        let mut users = self.users().await?;
        let changed = match command {
            Roles::Grant { user, role } => {
                let user_id = self.user_id(&mut users, user).await?;
                let request = us::GrantRoleRequest { user_id, role: role.clone() };
                users.grant_role(self.authed(request)).await.map_err(status)?.into_inner()
            }
            Roles::Revoke { user, role } => {
                let user_id = self.user_id(&mut users, user).await?;
                let request = us::RevokeRoleRequest { user_id, role: role.clone() };
                users.revoke_role(self.authed(request)).await.map_err(status)?.into_inner()
            }
            Roles::Changes { limit } => {
                let page = tuan_proto::common::v1::PageRequest { limit: *limit, cursor: String::new() };
                let request = us::ListRoleChangesRequest { page: Some(page) };
                let changes = users.list_role_changes(self.authed(request)).await.map_err(status)?.into_inner().changes;
                if self.json {
                    let rows = changes
                        .iter()
                        .map(|c| {
                            json!({"user_id": c.user_id, "role": c.role, "change": c.change,
                                   "changed_by": c.changed_by, "changed_at": when(c.changed_at_micros)})
                        })
                        .collect();
                    print_json(&Value::Array(rows));
                } else {
                    let rows: Vec<Vec<String>> = changes
                        .iter()
                        .map(|c| {
                            vec![
                                when(c.changed_at_micros),
                                c.user_id.clone(),
                                c.role.clone(),
                                c.change.clone(),
                                c.changed_by.clone(),
                            ]
                        })
                        .collect();
                    table(&["WHEN", "USER", "ROLE", "CHANGE", "BY"], &rows);
                }
                return Ok(());
            }
        };
        if self.json {
            print_json(&json!({"user_id": changed.user_id, "roles": changed.roles}));
        } else {
            println!("{} now has roles [{}]", changed.user_id, changed.roles.join(", "));
        }
        Ok(())
    }

    /// A user id from an id or a phone number (+E.164).
    pub(crate) async fn user_id(&self, users: &mut UsersServiceClient<Channel>, who: &str) -> anyhow::Result<String> {
        Ok(if who.starts_with('+') {
            // Found the way the app finds friends: by the salted hash of the number.
            // (It counts against the operator's daily discovery allowance, one number a lookup.)
            let salt = users
                .get_discovery_salt(self.authed(us::GetDiscoverySaltRequest {}))
                .await
                .map_err(status)?
                .into_inner();
            use sha2::Digest as _;
            let hash = hex::encode(sha2::Sha256::new().chain_update(salt.salt.as_bytes()).chain_update(who).finalize());
            let request = us::DiscoverFriendsRequest { phone_hashes: vec![hash], salt_id: salt.salt_id };
            let found = users.discover_friends(self.authed(request)).await.map_err(status)?.into_inner();
            found
                .matches
                .into_iter()
                .find_map(|m| m.profile.map(|p| p.user_id))
                .with_context(|| format!("no user has the phone number {who}"))?
        } else {
            who.to_string()
        })
    }

    pub(crate) async fn user(&self, who: &str) -> anyhow::Result<()> {
        let mut users = self.users().await?;
        let user_id = self.user_id(&mut users, who).await?;
        let profiles = users
            .get_profiles(self.authed(us::GetProfilesRequest { user_ids: vec![user_id.clone()] }))
            .await
            .map_err(status)?
            .into_inner();
        let profile = profiles.profiles.into_iter().next().with_context(|| format!("no user {user_id}"))?;
        let application = match users
            .get_merchant_application(self.authed(us::GetMerchantApplicationRequest { user_id: user_id.clone() }))
            .await
        {
            Ok(a) => Some(a.into_inner()),
            Err(e) if e.code() == tonic::Code::NotFound => None,
            Err(e) => return Err(status(e)),
        };
        if self.json {
            print_json(&json!({
                "user_id": profile.user_id, "display_name": profile.display_name, "region": profile.region,
                "avatar_url": profile.avatar_url, "verified_merchant": profile.verified_merchant,
                "merchant_application": application.as_ref().map(application_json),
            }));
        } else {
            println!("user       {}", profile.user_id);
            println!("name       {}", profile.display_name);
            println!("region     {}", profile.region);
            println!("merchant   {}", if profile.verified_merchant { "verified" } else { "no" });
            if let Some(a) = application {
                println!(
                    "application  {} ({}), {}, applied {}",
                    a.business_name,
                    a.category,
                    merchant_status(a.status),
                    when(a.applied_at_micros)
                );
            }
        }
        Ok(())
    }
}
