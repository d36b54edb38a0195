//! The relationship between two users (stream type `friendship`, id = the two user ids in
//! ascending order joined by `:`), so both sides' actions serialise on one stream.
//!
//! Blocking is directed (each side may block the other) and ends any friendship or request.

use std::collections::BTreeSet;

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{error::UserError, events as pb};

event_enum! {
    pub enum FriendshipEvent {
        Requested(pb::FriendRequested),
        Accepted(pb::FriendRequestAccepted),
        Declined(pb::FriendRequestDeclined),
        Cancelled(pb::FriendRequestCancelled),
        Removed(pb::FriendRemoved),
        Blocked(pb::UserBlocked),
        Unblocked(pb::UserUnblocked),
    }
}

/// The stream id of the pair, the same whichever side acts.
pub fn pair_id(a: Uuid, b: Uuid) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

tuan_kernel::text_type!(
    /// A request message: at most 200 characters.
    pub RequestMessage, "friend request message", tuan_kernel::text::Bounds::lines(0, 200));

/// What `actor` wants to do about `other`.
#[derive(Clone, Debug)]
pub struct FriendshipCommand {
    pub actor: Uuid,
    pub other: Uuid,
    pub action: FriendAction,
}

#[derive(Clone, Debug)]
pub enum FriendAction {
    Request(RequestMessage),
    Cancel,
    Accept,
    Decline,
    Remove,
    Block,
    Unblock,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Friendship {
    /// The pending request, as (from, to).
    pub pending: Option<(Uuid, Uuid)>,
    pub friends: bool,
    pub blocked_by: BTreeSet<Uuid>,
}

/// How one side sees the relationship.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    None,
    RequestSent,
    RequestReceived,
    Friends,
    Blocked,
}

impl Friendship {
    pub fn relation_for(&self, me: Uuid) -> Relation {
        if self.blocked_by.contains(&me) {
            Relation::Blocked
        } else if self.friends {
            Relation::Friends
        } else {
            match self.pending {
                Some((from, _)) if from == me => Relation::RequestSent,
                Some(_) => Relation::RequestReceived,
                None => Relation::None,
            }
        }
    }
}

impl Aggregate for Friendship {
    const STREAM_TYPE: &'static str = "friendship";
    type Event = FriendshipEvent;
    type Command = FriendshipCommand;
    type Error = UserError;

    fn handle(&self, cmd: FriendshipCommand) -> Result<Vec<FriendshipEvent>, UserError> {
        let FriendshipCommand { actor, other, action } = cmd;
        if actor == other {
            return Err(UserError::SelfFriendship);
        }
        let (me, them) = (actor.to_string(), other.to_string());
        let event = match action {
            FriendAction::Request(message) => {
                if self.blocked_by.contains(&other) {
                    return Err(UserError::BlockedByOther);
                }
                if self.blocked_by.contains(&actor) {
                    return Err(UserError::BlockedByYou);
                }
                if self.friends {
                    return Err(UserError::AlreadyFriends);
                }
                match self.pending {
                    Some((from, _)) if from == actor => return Err(UserError::RequestAlreadySent),
                    // They already asked: asking back is saying yes.
                    Some(_) => {
                        FriendshipEvent::Accepted(pb::FriendRequestAccepted { from_user_id: them, to_user_id: me })
                    }
                    None => FriendshipEvent::Requested(pb::FriendRequested {
                        from_user_id: me,
                        to_user_id: them,
                        message: message.into_string(),
                    }),
                }
            }
            FriendAction::Accept | FriendAction::Decline => {
                if self.pending != Some((other, actor)) {
                    return Err(UserError::NoSuchRequest);
                }
                if matches!(action, FriendAction::Accept) {
                    FriendshipEvent::Accepted(pb::FriendRequestAccepted { from_user_id: them, to_user_id: me })
                } else {
                    FriendshipEvent::Declined(pb::FriendRequestDeclined { from_user_id: them, to_user_id: me })
                }
            }
            FriendAction::Cancel => {
                if self.pending != Some((actor, other)) {
                    return Err(UserError::NoSuchRequest);
                }
                FriendshipEvent::Cancelled(pb::FriendRequestCancelled { from_user_id: me, to_user_id: them })
            }
            FriendAction::Remove => {
                if !self.friends {
                    return Err(UserError::NotFriends);
                }
                FriendshipEvent::Removed(pb::FriendRemoved { by_user_id: me, other_user_id: them })
            }
            FriendAction::Block => {
                if self.blocked_by.contains(&actor) {
                    return Ok(vec![]);
                }
                FriendshipEvent::Blocked(pb::UserBlocked { blocker_id: me, blocked_id: them })
            }
            FriendAction::Unblock => {
                if !self.blocked_by.contains(&actor) {
                    return Ok(vec![]);
                }
                FriendshipEvent::Unblocked(pb::UserUnblocked { blocker_id: me, blocked_id: them })
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &FriendshipEvent) {
        let id = |s: &str| Uuid::parse_str(s).unwrap_or_default();
        match event {
            FriendshipEvent::Requested(e) => self.pending = Some((id(&e.from_user_id), id(&e.to_user_id))),
            FriendshipEvent::Accepted(_) => {
                self.pending = None;
                self.friends = true;
            }
            FriendshipEvent::Declined(_) | FriendshipEvent::Cancelled(_) => self.pending = None,
            FriendshipEvent::Removed(_) => self.friends = false,
            FriendshipEvent::Blocked(e) => {
                self.blocked_by.insert(id(&e.blocker_id));
                self.friends = false;
                self.pending = None;
            }
            FriendshipEvent::Unblocked(e) => {
                self.blocked_by.remove(&id(&e.blocker_id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tuan_eventstore::testing;

    use super::*;

    /// The friendship after `history` (every command accepted).
    fn given(history: &[FriendshipCommand]) -> testing::Given<Friendship> {
        testing::given(history.iter().cloned())
    }

    fn users() -> (Uuid, Uuid) {
        (Uuid::now_v7(), Uuid::now_v7())
    }

    fn cmd(actor: Uuid, other: Uuid, action: FriendAction) -> FriendshipCommand {
        FriendshipCommand { actor, other, action }
    }

    fn request(a: Uuid, b: Uuid) -> FriendshipCommand {
        cmd(a, b, FriendAction::Request(RequestMessage::default()))
    }

    #[test]
    fn request_then_accept_makes_friends_on_both_sides() {
        let (a, b) = users();
        let state = given(&[request(a, b)]).when(cmd(b, a, FriendAction::Accept)).unwrap();
        assert_eq!(state.relation_for(a), Relation::Friends);
        assert_eq!(state.relation_for(b), Relation::Friends);
    }

    #[test]
    fn only_the_receiver_can_accept() {
        let (a, b) = users();
        assert_eq!(given(&[request(a, b)]).when(cmd(a, b, FriendAction::Accept)), Err(UserError::NoSuchRequest));
        assert_eq!(given(&[]).when(cmd(b, a, FriendAction::Accept)), Err(UserError::NoSuchRequest));
    }

    #[test]
    fn asking_back_accepts() {
        let (a, b) = users();
        let state = given(&[request(a, b)]).when(request(b, a)).unwrap();
        assert!(state.friends);
    }

    #[test]
    fn befriending_yourself_is_refused() {
        let (a, _) = users();
        assert_eq!(given(&[]).when(request(a, a)), Err(UserError::SelfFriendship));
    }

    #[test]
    fn a_blocked_user_cannot_send_requests_and_blocking_ends_friendship() {
        let (a, b) = users();
        let history = [request(a, b), cmd(b, a, FriendAction::Accept), cmd(b, a, FriendAction::Block)];
        let g = given(&history);
        assert!(!g.0.friends);
        assert_eq!(g.when(request(a, b)), Err(UserError::BlockedByOther));
        assert_eq!(g.when(request(b, a)), Err(UserError::BlockedByYou));
        let unblocked = g.when(cmd(b, a, FriendAction::Unblock)).unwrap();
        assert_eq!(unblocked.relation_for(a), Relation::None);
    }

    #[test]
    fn duplicate_requests_and_double_friendship_are_refused() {
        let (a, b) = users();
        assert_eq!(given(&[request(a, b)]).when(request(a, b)), Err(UserError::RequestAlreadySent));
        let friends = given(&[request(a, b), cmd(b, a, FriendAction::Accept)]);
        assert_eq!(friends.when(request(a, b)), Err(UserError::AlreadyFriends));
        assert_eq!(given(&[]).when(cmd(a, b, FriendAction::Remove)), Err(UserError::NotFriends));
    }

    #[test]
    fn pair_id_is_symmetric() {
        let (a, b) = users();
        assert_eq!(pair_id(a, b), pair_id(b, a));
    }
}
