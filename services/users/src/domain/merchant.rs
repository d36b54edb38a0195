//! A merchant application (stream type `merchant`, id = the applicant's user id): apply, then
//! an operator verifies or rejects it. A rejected merchant may apply again.

use tuan_eventstore::{Aggregate, event_enum};
use tuan_kernel::{bounded, text::Bounds};
use uuid::Uuid;

use super::{
    error::{UserError, invalid},
    events as pb,
    phone::PhoneNumber,
};

event_enum! {
    pub enum MerchantEvent {
        Applied(pb::MerchantApplied),
        Verified(pb::MerchantVerified),
        Rejected(pb::MerchantRejected),
    }
}

/// Business details, checked once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessDetails {
    pub business_name: String,
    pub license_number: String,
    pub contact_phone: PhoneNumber,
    pub category: String,
}

impl BusinessDetails {
    pub fn parse(name: &str, license: &str, phone: &str, category: &str) -> Result<Self, UserError> {
        let name = bounded("business_name", name, Bounds::line(1, 100))?;
        let license = license.trim();
        if !(5..=32).contains(&license.len()) || !license.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid("license_number must be 5 to 32 letters, digits or '-'"));
        }
        let category = bounded("category", category, Bounds::line(1, 50))?;
        Ok(Self {
            business_name: name,
            license_number: license.to_string(),
            contact_phone: PhoneNumber::parse(phone)?,
            category,
        })
    }
}

#[derive(Clone, Debug)]
pub enum MerchantCommand {
    Apply { user_id: Uuid, details: BusinessDetails },
    Verify { operator_id: Uuid },
    Reject { operator_id: Uuid, reason: String },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MerchantStatus {
    #[default]
    None,
    Pending,
    Verified,
    Rejected,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MerchantApplication {
    pub user_id: Option<Uuid>,
    pub status: MerchantStatus,
}

impl Aggregate for MerchantApplication {
    const STREAM_TYPE: &'static str = "merchant";
    type Event = MerchantEvent;
    type Command = MerchantCommand;
    type Error = UserError;

    fn handle(&self, command: MerchantCommand) -> Result<Vec<MerchantEvent>, UserError> {
        match command {
            MerchantCommand::Apply { user_id, details } => match self.status {
                MerchantStatus::Pending => Err(UserError::ApplicationExists("pending")),
                MerchantStatus::Verified => Err(UserError::ApplicationExists("verified")),
                MerchantStatus::None | MerchantStatus::Rejected => {
                    Ok(vec![MerchantEvent::Applied(pb::MerchantApplied {
                        user_id: user_id.to_string(),
                        business_name: details.business_name,
                        license_number: details.license_number,
                        contact_phone_e164: details.contact_phone.as_str().to_string(),
                        category: details.category,
                    })])
                }
            },
            MerchantCommand::Verify { operator_id } => {
                let user_id = self.pending()?;
                Ok(vec![MerchantEvent::Verified(pb::MerchantVerified {
                    user_id: user_id.to_string(),
                    operator_id: operator_id.to_string(),
                })])
            }
            MerchantCommand::Reject { operator_id, reason } => {
                let reason = bounded("reason", &reason, Bounds::lines(1, 500))?;
                let user_id = self.pending()?;
                Ok(vec![MerchantEvent::Rejected(pb::MerchantRejected {
                    user_id: user_id.to_string(),
                    operator_id: operator_id.to_string(),
                    reason,
                })])
            }
        }
    }

    fn apply(&mut self, event: &MerchantEvent) {
        match event {
            MerchantEvent::Applied(e) => {
                self.user_id = Uuid::parse_str(&e.user_id).ok();
                self.status = MerchantStatus::Pending;
            }
            MerchantEvent::Verified(_) => self.status = MerchantStatus::Verified,
            MerchantEvent::Rejected(_) => self.status = MerchantStatus::Rejected,
        }
    }
}

impl MerchantApplication {
    fn pending(&self) -> Result<Uuid, UserError> {
        match (self.status, self.user_id) {
            (MerchantStatus::Pending, Some(id)) => Ok(id),
            _ => Err(UserError::NoPendingApplication),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_cmd(user: Uuid) -> MerchantCommand {
        MerchantCommand::Apply {
            user_id: user,
            details: BusinessDetails::parse("Fresh Fruit Co", "91310000-ABC", "+8613900139000", "grocery").unwrap(),
        }
    }

    use tuan_eventstore::testing::run;

    #[test]
    fn apply_verify_and_no_second_application() {
        let (user, op) = (Uuid::now_v7(), Uuid::now_v7());
        let mut m = MerchantApplication::default();
        run(&mut m, apply_cmd(user)).unwrap();
        assert_eq!(run(&mut m, apply_cmd(user)), Err(UserError::ApplicationExists("pending")));
        run(&mut m, MerchantCommand::Verify { operator_id: op }).unwrap();
        assert_eq!(m.status, MerchantStatus::Verified);
        assert_eq!(run(&mut m, MerchantCommand::Verify { operator_id: op }), Err(UserError::NoPendingApplication));
    }

    #[test]
    fn rejection_needs_a_reason_and_allows_reapplying() {
        let (user, op) = (Uuid::now_v7(), Uuid::now_v7());
        let mut m = MerchantApplication::default();
        run(&mut m, apply_cmd(user)).unwrap();
        assert!(run(&mut m, MerchantCommand::Reject { operator_id: op, reason: " ".into() }).is_err());
        run(&mut m, MerchantCommand::Reject { operator_id: op, reason: "license expired".into() }).unwrap();
        run(&mut m, apply_cmd(user)).unwrap();
        assert_eq!(m.status, MerchantStatus::Pending);
    }

    #[test]
    fn bad_business_details_are_refused() {
        assert!(BusinessDetails::parse("", "12345", "+8613900139000", "x").is_err());
        assert!(BusinessDetails::parse("A", "1", "+8613900139000", "x").is_err());
        assert!(BusinessDetails::parse("A", "12345", "139", "x").is_err());
    }
}
