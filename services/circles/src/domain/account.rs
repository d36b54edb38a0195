//! Public accounts of verified merchants (stream type `public_account`) with their monthly
//! broadcast quota, and each follower's follow state (stream type `follow`, id =
//! `<account>:<user>`, so tens of thousands of followers never make one huge aggregate).

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{
    CircleError, events as pb,
    text::{AccountName, Content, Description},
};

event_enum! {
    pub enum AccountEvent {
        Opened(pb::PublicAccountOpened),
        BroadcastSent(pb::BroadcastSent),
    }
}

event_enum! {
    pub enum FollowEvent {
        Followed(pb::AccountFollowed),
        Unfollowed(pb::AccountUnfollowed),
        Muted(pb::AccountMuted),
    }
}

/// A calendar month in UTC, `YYYY-MM`: the period the broadcast quota counts in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Month(String);

impl Month {
    pub fn of(year: i32, month: u32) -> Self {
        Self(format!("{year:04}-{month:02}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug)]
pub enum AccountCommand {
    Open { account_id: Uuid, owner: Uuid, name: AccountName, description: Description, owner_is_merchant: bool },
    Broadcast { actor: Uuid, broadcast_id: Uuid, content: Content, month: Month, quota: u32 },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublicAccount {
    pub id: Option<Uuid>,
    pub owner: Uuid,
    /// The month of the latest broadcast and how many were sent in it.
    pub month: String,
    pub sent_in_month: u32,
}

impl PublicAccount {
    /// Broadcasts already sent in `month`.
    pub fn sent_in(&self, month: &Month) -> u32 {
        if self.month == month.as_str() { self.sent_in_month } else { 0 }
    }
}

impl Aggregate for PublicAccount {
    const STREAM_TYPE: &'static str = "public_account";
    type Event = AccountEvent;
    type Command = AccountCommand;
    type Error = CircleError;

    fn handle(&self, cmd: AccountCommand) -> Result<Vec<AccountEvent>, CircleError> {
        match cmd {
            AccountCommand::Open { account_id, owner, name, description, owner_is_merchant } => {
                if !owner_is_merchant {
                    return Err(CircleError::NotMerchant);
                }
                if self.id.is_some() {
                    return Err(CircleError::AccountExists);
                }
                Ok(vec![AccountEvent::Opened(pb::PublicAccountOpened {
                    account_id: account_id.to_string(),
                    owner_id: owner.to_string(),
                    name: name.as_str().into(),
                    description: description.as_str().into(),
                })])
            }
            AccountCommand::Broadcast { actor, broadcast_id, content, month, quota } => {
                let account_id = self.id.ok_or(CircleError::AccountNotFound)?;
                if actor != self.owner {
                    return Err(CircleError::NotAccountOwner);
                }
                if self.sent_in(&month) >= quota {
                    return Err(CircleError::QuotaExhausted(quota));
                }
                Ok(vec![AccountEvent::BroadcastSent(pb::BroadcastSent {
                    account_id: account_id.to_string(),
                    broadcast_id: broadcast_id.to_string(),
                    text: content.text.as_str().into(),
                    card: content.card.map(|c| c.to_proto()),
                    month: month.as_str().into(),
                })])
            }
        }
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(e) => {
                self.id = Uuid::parse_str(&e.account_id).ok();
                self.owner = Uuid::parse_str(&e.owner_id).unwrap_or_default();
            }
            AccountEvent::BroadcastSent(e) => {
                if self.month == e.month {
                    self.sent_in_month += 1;
                } else {
                    self.month = e.month.clone();
                    self.sent_in_month = 1;
                }
            }
        }
    }
}

/// The stream id of `user` following `account`.
pub fn follow_id(account: Uuid, user: Uuid) -> String {
    format!("{account}:{user}")
}

#[derive(Clone, Debug)]
pub enum FollowAction {
    Follow,
    Unfollow,
    Mute(bool),
}

#[derive(Clone, Debug)]
pub struct FollowCommand {
    pub account_id: Uuid,
    pub user_id: Uuid,
    /// Whether the account exists (checked against its stream).
    pub account_exists: bool,
    pub action: FollowAction,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Follow {
    pub following: bool,
    pub muted: bool,
}

impl Aggregate for Follow {
    const STREAM_TYPE: &'static str = "follow";
    type Event = FollowEvent;
    type Command = FollowCommand;
    type Error = CircleError;

    fn handle(&self, cmd: FollowCommand) -> Result<Vec<FollowEvent>, CircleError> {
        if !cmd.account_exists {
            return Err(CircleError::AccountNotFound);
        }
        let (account_id, user_id) = (cmd.account_id.to_string(), cmd.user_id.to_string());
        let event = match cmd.action {
            // Following twice is the same as following once.
            FollowAction::Follow if self.following => return Ok(vec![]),
            FollowAction::Follow => FollowEvent::Followed(pb::AccountFollowed { account_id, user_id }),
            _ if !self.following => return Err(CircleError::NotFollowing),
            FollowAction::Unfollow => FollowEvent::Unfollowed(pb::AccountUnfollowed { account_id, user_id }),
            FollowAction::Mute(muted) if muted == self.muted => return Ok(vec![]),
            FollowAction::Mute(muted) => FollowEvent::Muted(pb::AccountMuted { account_id, user_id, muted }),
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &FollowEvent) {
        match event {
            FollowEvent::Followed(_) => *self = Follow { following: true, muted: false },
            FollowEvent::Unfollowed(_) => *self = Follow::default(),
            FollowEvent::Muted(e) => self.muted = e.muted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::PostText;

    fn opened() -> (PublicAccount, Uuid) {
        let owner = Uuid::now_v7();
        let open = AccountCommand::Open {
            account_id: Uuid::now_v7(),
            owner,
            name: AccountName::parse("Fresh Fruit").unwrap(),
            description: Description::default(),
            owner_is_merchant: true,
        };
        (PublicAccount::from_history(&PublicAccount::default().handle(open).unwrap()), owner)
    }

    fn broadcast(actor: Uuid, month: Month) -> AccountCommand {
        let content = Content { text: PostText::parse("sale").unwrap(), card: None };
        AccountCommand::Broadcast { actor, broadcast_id: Uuid::now_v7(), content, month, quota: 20 }
    }

    #[test]
    fn the_21st_broadcast_of_a_month_is_refused_and_the_next_month_starts_afresh() {
        let (mut account, owner) = opened();
        for _ in 0..20 {
            for e in account.handle(broadcast(owner, Month::of(2025, 3))).unwrap() {
                account.apply(&e);
            }
        }
        assert_eq!(account.handle(broadcast(owner, Month::of(2025, 3))), Err(CircleError::QuotaExhausted(20)));
        assert_eq!(account.handle(broadcast(owner, Month::of(2025, 4))).unwrap().len(), 1);
        assert_eq!(account.handle(broadcast(Uuid::now_v7(), Month::of(2025, 4))), Err(CircleError::NotAccountOwner));
    }

    #[test]
    fn only_merchants_open_accounts() {
        let open = AccountCommand::Open {
            account_id: Uuid::now_v7(),
            owner: Uuid::now_v7(),
            name: AccountName::parse("X").unwrap(),
            description: Description::default(),
            owner_is_merchant: false,
        };
        assert_eq!(PublicAccount::default().handle(open), Err(CircleError::NotMerchant));
    }
}
