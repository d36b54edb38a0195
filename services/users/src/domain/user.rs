//! The user account aggregate (stream type `user`, id = user id).

use std::collections::BTreeSet;

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{
    error::UserError,
    events as pb,
    phone::PhoneNumber,
    profile::{DisplayName, ProfilePatch, Region},
};

event_enum! {
    pub enum UserEvent {
        SignedUp(pb::UserSignedUp),
        ProfileUpdated(pb::ProfileUpdated),
        RoleGranted(pb::RoleGranted),
        RoleRevoked(pb::RoleRevoked),
        PasswordChanged(pb::PasswordChanged),
    }
}

#[derive(Clone, Debug)]
pub enum UserCommand {
    SignUp {
        user_id: Uuid,
        phone: PhoneNumber,
        /// argon2id PHC string, computed by the caller (hashing is slow and random-salted).
        password_hash: String,
        display_name: DisplayName,
        region: Region,
    },
    UpdateProfile(ProfilePatch),
    /// Granting a role the user has changes nothing.
    GrantRole {
        role: Role,
        granted_by: String,
    },
    /// Revoking a role the user does not have changes nothing.
    RevokeRole {
        role: Role,
        revoked_by: String,
    },
    /// The caller checked the old password; this stores the new one's hash.
    ChangePassword {
        password_hash: String,
    },
}

/// A role that is granted (and revoked) by hand. `merchant` is not one: it follows from a
/// verified merchant application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Operator,
}

impl Role {
    pub fn parse(role: &str) -> Result<Self, UserError> {
        match role {
            tuan_runtime::auth::ROLE_OPERATOR => Ok(Role::Operator),
            _ => Err(super::error::invalid("role must be \"operator\"")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => tuan_runtime::auth::ROLE_OPERATOR,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct User {
    pub id: Option<Uuid>,
    pub phone: String,
    pub password_hash: String,
    pub display_name: String,
    pub avatar_url: String,
    pub region: String,
    pub marketplace_account_id: String,
    pub roles: BTreeSet<String>,
}

impl Aggregate for User {
    const STREAM_TYPE: &'static str = "user";
    type Event = UserEvent;
    type Command = UserCommand;
    type Error = UserError;

    fn handle(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::SignUp { user_id, phone, password_hash, display_name, region } => {
                if self.id.is_some() {
                    return Err(UserError::UserExists);
                }
                Ok(vec![UserEvent::SignedUp(pb::UserSignedUp {
                    user_id: user_id.to_string(),
                    phone_e164: phone.as_str().to_string(),
                    password_hash,
                    display_name: display_name.as_str().to_string(),
                    region: region.as_str().to_string(),
                    // Retired: discovery hashes change with the salt and are kept outside the
                    // events (store/discovery.rs).
                    phone_hash: String::new(),
                })])
            }
            UserCommand::UpdateProfile(patch) => {
                let id = self.id.ok_or(UserError::UserNotFound)?;
                let updated = pb::ProfileUpdated {
                    user_id: id.to_string(),
                    display_name: pick(patch.display_name.as_ref().map(|v| v.as_str()), &self.display_name),
                    avatar_url: pick(patch.avatar_url.as_ref().map(|v| v.as_str()), &self.avatar_url),
                    region: pick(patch.region.as_ref().map(|v| v.as_str()), &self.region),
                    marketplace_account_id: pick(
                        patch.marketplace_account_id.as_ref().map(|v| v.as_str()),
                        &self.marketplace_account_id,
                    ),
                };
                let unchanged = updated.display_name == self.display_name
                    && updated.avatar_url == self.avatar_url
                    && updated.region == self.region
                    && updated.marketplace_account_id == self.marketplace_account_id;
                Ok(if unchanged { vec![] } else { vec![UserEvent::ProfileUpdated(updated)] })
            }
            UserCommand::GrantRole { role, granted_by } => {
                let id = self.id.ok_or(UserError::UserNotFound)?;
                if self.roles.contains(role.as_str()) {
                    return Ok(vec![]);
                }
                let role = role.as_str().to_string();
                Ok(vec![UserEvent::RoleGranted(pb::RoleGranted { user_id: id.to_string(), role, granted_by })])
            }
            UserCommand::RevokeRole { role, revoked_by } => {
                let id = self.id.ok_or(UserError::UserNotFound)?;
                if !self.roles.contains(role.as_str()) {
                    return Ok(vec![]);
                }
                let role = role.as_str().to_string();
                Ok(vec![UserEvent::RoleRevoked(pb::RoleRevoked { user_id: id.to_string(), role, revoked_by })])
            }
            UserCommand::ChangePassword { password_hash } => {
                let id = self.id.ok_or(UserError::UserNotFound)?;
                Ok(vec![UserEvent::PasswordChanged(pb::PasswordChanged { user_id: id.to_string(), password_hash })])
            }
        }
    }

    fn apply(&mut self, event: &UserEvent) {
        match event {
            UserEvent::SignedUp(e) => {
                self.id = Uuid::parse_str(&e.user_id).ok();
                self.phone = e.phone_e164.clone();
                self.password_hash = e.password_hash.clone();
                self.display_name = e.display_name.clone();
                self.region = e.region.clone();
            }
            UserEvent::ProfileUpdated(e) => {
                self.display_name = e.display_name.clone();
                self.avatar_url = e.avatar_url.clone();
                self.region = e.region.clone();
                self.marketplace_account_id = e.marketplace_account_id.clone();
            }
            UserEvent::RoleGranted(e) => {
                self.roles.insert(e.role.clone());
            }
            UserEvent::RoleRevoked(e) => {
                self.roles.remove(&e.role);
            }
            UserEvent::PasswordChanged(e) => self.password_hash = e.password_hash.clone(),
        }
    }
}

fn pick(new: Option<&str>, current: &str) -> String {
    new.unwrap_or(current).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::AvatarUrl;

    fn sign_up() -> UserCommand {
        UserCommand::SignUp {
            user_id: Uuid::nil(),
            phone: PhoneNumber::parse("+8613800138000").unwrap(),
            password_hash: "hash".into(),
            display_name: DisplayName::parse("Li Lei").unwrap(),
            region: Region::parse("Shanghai").unwrap(),
        }
    }

    #[test]
    fn sign_up_once_only() {
        let events = User::default().handle(sign_up()).unwrap();
        assert_eq!(events.len(), 1);
        let user = User::from_history(&events);
        assert_eq!(user.handle(sign_up()), Err(UserError::UserExists));
    }

    #[test]
    fn nobody_is_an_operator_at_sign_up_and_a_granted_role_can_be_revoked() {
        let mut user = User::from_history(&User::default().handle(sign_up()).unwrap());
        assert!(user.roles.is_empty());
        let grant = || UserCommand::GrantRole { role: Role::Operator, granted_by: "deployment".into() };
        user.handle(grant()).unwrap().iter().for_each(|e| user.apply(e));
        assert!(user.roles.contains("operator"));
        assert!(user.handle(grant()).unwrap().is_empty(), "granting twice changes nothing");
        let revoke = || UserCommand::RevokeRole { role: Role::Operator, revoked_by: "someone".into() };
        user.handle(revoke()).unwrap().iter().for_each(|e| user.apply(e));
        assert!(user.roles.is_empty());
        assert!(user.handle(revoke()).unwrap().is_empty(), "revoking twice changes nothing");
        assert!(Role::parse("merchant").is_err());
    }

    #[test]
    fn profile_update_changes_only_what_is_given_and_is_silent_when_nothing_changes() {
        let user = User::from_history(&User::default().handle(sign_up()).unwrap());
        let patch =
            ProfilePatch { avatar_url: Some(AvatarUrl::parse("https://a/b.png").unwrap()), ..Default::default() };
        let events = user.handle(UserCommand::UpdateProfile(patch.clone())).unwrap();
        let mut after = user.clone();
        events.iter().for_each(|e| after.apply(e));
        assert_eq!(after.display_name, "Li Lei");
        assert_eq!(after.avatar_url, "https://a/b.png");
        assert!(after.handle(UserCommand::UpdateProfile(patch)).unwrap().is_empty());
    }
}
