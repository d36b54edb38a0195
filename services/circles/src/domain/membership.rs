//! One user's membership of one circle (stream type `membership`, id = `<circle>:<user>`):
//! invitation, approval, joining, role, mute. Per-member streams keep a big circle cheap to
//! change; the facts a decision needs about the circle (kind, approval, member count and cap
//! read under the circle's lock) and about people (friendship, blocks) come in the command.

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{
    CircleError,
    circle::{Actor, Circle, Kind, Role},
    events as pb,
};

event_enum! {
    pub enum MembershipEvent {
        Invited(pb::MemberInvited),
        Approved(pb::InvitationApproved),
        Declined(pb::InvitationDeclined),
        Joined(pb::MemberJoined),
        Left(pb::MemberLeft),
        Kicked(pb::MemberKicked),
        RoleChanged(pb::MemberRoleChanged),
        Muted(pb::CircleMuted),
    }
}

/// The stream id of `user`'s membership of `circle`.
pub fn membership_id(circle: Uuid, user: Uuid) -> String {
    format!("{circle}:{user}")
}

/// How the actor relates to the person they want to invite (from the users projections).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Friends,
    NotFriends,
    /// The actor blocked them.
    YouBlocked,
    /// They blocked the actor.
    BlockedYou,
}

/// What the decision needs to know about the circle, read under its lock.
#[derive(Clone, Debug)]
pub struct CircleFacts {
    pub circle: Circle,
    pub members: u32,
}

#[derive(Clone, Debug)]
pub enum MemberAction {
    /// The creator becomes the owner.
    Found,
    Invite {
        relation: Relation,
    },
    Approve,
    Decline,
    /// `blocked_by_owner`: the circle's owner blocked the joiner (refused for open clusters).
    Join {
        blocked_by_owner: bool,
    },
    Leave,
    Kick,
    Promote,
    Demote,
    Mute(bool),
    /// Follows an `OwnershipTransferred`: the new owner's and the old owner's new roles.
    TakeOwnership,
    HandOverOwnership,
}

/// `actor` does `action` to `subject`'s membership (often `actor == subject`).
#[derive(Clone, Debug)]
pub struct MembershipCommand {
    pub facts: CircleFacts,
    pub actor: Actor,
    pub subject: Uuid,
    pub action: MemberAction,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    None,
    Invited {
        by: Uuid,
        awaiting_approval: bool,
    },
    Member {
        role: Role,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    pub status: Status,
    pub muted: bool,
}

impl Membership {
    pub fn role(&self) -> Option<Role> {
        match self.status {
            Status::Member { role } => Some(role),
            _ => None,
        }
    }
}

fn check_cap(facts: &CircleFacts) -> Result<(), CircleError> {
    if facts.members >= facts.circle.cap {
        return Err(CircleError::MemberCapReached(facts.circle.cap));
    }
    Ok(())
}

impl Aggregate for Membership {
    const STREAM_TYPE: &'static str = "membership";
    type Event = MembershipEvent;
    type Command = MembershipCommand;
    type Error = CircleError;

    fn handle(&self, cmd: MembershipCommand) -> Result<Vec<MembershipEvent>, CircleError> {
        let MembershipCommand { facts, actor, subject, action } = cmd;
        let circle_id = facts.circle.require_active()?.to_string();
        let (user_id, by) = (subject.to_string(), actor.user_id.to_string());
        let is_self = actor.user_id == subject;
        let joined = |role: Role, added_by: String| {
            MembershipEvent::Joined(pb::MemberJoined {
                circle_id: circle_id.clone(),
                user_id: user_id.clone(),
                role: role.as_str().into(),
                added_by,
            })
        };
        let role_changed = |role: Role| {
            MembershipEvent::RoleChanged(pb::MemberRoleChanged {
                circle_id: circle_id.clone(),
                user_id: user_id.clone(),
                role: role.as_str().into(),
                by_user_id: by.clone(),
            })
        };
        let event = match action {
            MemberAction::Found => {
                if self.status != Status::None {
                    return Err(CircleError::AlreadyMember);
                }
                joined(Role::Owner, String::new())
            }
            MemberAction::Invite { relation } => {
                let actor_role = actor.role.ok_or(CircleError::NotAMember)?;
                if is_self {
                    return Err(CircleError::SelfTarget);
                }
                match relation {
                    Relation::Friends => {}
                    Relation::NotFriends => return Err(CircleError::NotFriends),
                    Relation::YouBlocked => return Err(CircleError::BlockedByYou),
                    Relation::BlockedYou => return Err(CircleError::BlockedByOther),
                }
                match self.status {
                    Status::Member { .. } => return Err(CircleError::AlreadyMember),
                    Status::Invited { .. } => return Err(CircleError::AlreadyInvited),
                    Status::None => {}
                }
                match facts.circle.kind {
                    // Any member adds friends directly: that is what makes a cluster grow.
                    Kind::Cluster => {
                        check_cap(&facts)?;
                        joined(Role::Member, by)
                    }
                    Kind::Group => MembershipEvent::Invited(pb::MemberInvited {
                        circle_id,
                        user_id,
                        invited_by: by,
                        awaiting_approval: facts.circle.approval_required && !actor_role.is_admin(),
                    }),
                }
            }
            MemberAction::Approve => {
                if !actor.role.is_some_and(Role::is_admin) {
                    return Err(if actor.role.is_none() { CircleError::NotAMember } else { CircleError::NotAdmin });
                }
                if !matches!(self.status, Status::Invited { awaiting_approval: true, .. }) {
                    return Err(CircleError::NoPendingInvitation);
                }
                MembershipEvent::Approved(pb::InvitationApproved { circle_id, user_id, approved_by: by })
            }
            MemberAction::Decline => {
                if !is_self && !actor.role.is_some_and(Role::is_admin) {
                    return Err(if actor.role.is_none() { CircleError::NotAMember } else { CircleError::NotAdmin });
                }
                if !matches!(self.status, Status::Invited { .. }) {
                    return Err(CircleError::NoPendingInvitation);
                }
                MembershipEvent::Declined(pb::InvitationDeclined { circle_id, user_id, by_user_id: by })
            }
            MemberAction::Join { blocked_by_owner } => {
                if !is_self {
                    return Err(CircleError::SelfTarget);
                }
                match (self.status, facts.circle.kind) {
                    (Status::Member { .. }, _) => return Err(CircleError::AlreadyMember),
                    (Status::Invited { awaiting_approval: true, .. }, _) => return Err(CircleError::AwaitingApproval),
                    (Status::Invited { by: inviter, .. }, _) => {
                        check_cap(&facts)?;
                        joined(Role::Member, inviter.to_string())
                    }
                    (Status::None, Kind::Group) => return Err(CircleError::NotInvited),
                    (Status::None, Kind::Cluster) => {
                        if blocked_by_owner {
                            return Err(CircleError::BlockedByOwner);
                        }
                        check_cap(&facts)?;
                        joined(Role::Member, String::new())
                    }
                }
            }
            MemberAction::Leave => match self.status {
                Status::Member { role: Role::Owner } => return Err(CircleError::OwnerCannotLeave),
                Status::Member { .. } => MembershipEvent::Left(pb::MemberLeft { circle_id, user_id }),
                Status::Invited { .. } => {
                    MembershipEvent::Declined(pb::InvitationDeclined { circle_id, user_id, by_user_id: by })
                }
                Status::None => return Err(CircleError::NotAMember),
            },
            MemberAction::Kick => {
                let actor_role = actor.role.ok_or(CircleError::NotAMember)?;
                if !actor_role.is_admin() {
                    return Err(CircleError::NotAdmin);
                }
                if is_self {
                    return Err(CircleError::SelfTarget);
                }
                let role = self.role().ok_or(CircleError::SubjectNotMember)?;
                // Owners kick anyone; admins kick plain members only.
                if role <= actor_role {
                    return Err(CircleError::Outranked);
                }
                MembershipEvent::Kicked(pb::MemberKicked { circle_id, user_id, by_user_id: by })
            }
            MemberAction::Promote | MemberAction::Demote => {
                match actor.role {
                    None => return Err(CircleError::NotAMember),
                    Some(Role::Owner) => {}
                    Some(_) => return Err(CircleError::NotOwner),
                }
                if is_self {
                    return Err(CircleError::SelfTarget);
                }
                let target = if matches!(action, MemberAction::Promote) { Role::Admin } else { Role::Member };
                match self.role().ok_or(CircleError::SubjectNotMember)? {
                    r if r == target => return Ok(vec![]),
                    _ => role_changed(target),
                }
            }
            MemberAction::Mute(muted) => {
                if !is_self {
                    return Err(CircleError::SelfTarget);
                }
                self.role().ok_or(CircleError::NotAMember)?;
                if self.muted == muted {
                    return Ok(vec![]);
                }
                MembershipEvent::Muted(pb::CircleMuted { circle_id, user_id, muted })
            }
            MemberAction::TakeOwnership => {
                self.role().ok_or(CircleError::SubjectNotMember)?;
                role_changed(Role::Owner)
            }
            MemberAction::HandOverOwnership => {
                if self.role() != Some(Role::Owner) {
                    return Err(CircleError::NotOwner);
                }
                role_changed(Role::Admin)
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &MembershipEvent) {
        let id = |s: &str| Uuid::parse_str(s).unwrap_or_default();
        match event {
            MembershipEvent::Invited(e) => {
                self.status = Status::Invited { by: id(&e.invited_by), awaiting_approval: e.awaiting_approval }
            }
            MembershipEvent::Approved(_) => {
                if let Status::Invited { by, .. } = self.status {
                    self.status = Status::Invited { by, awaiting_approval: false };
                }
            }
            MembershipEvent::Declined(_) | MembershipEvent::Left(_) | MembershipEvent::Kicked(_) => {
                *self = Membership::default()
            }
            MembershipEvent::Joined(e) => {
                self.status = Status::Member { role: Role::parse(&e.role).unwrap_or(Role::Member) };
                self.muted = false;
            }
            MembershipEvent::RoleChanged(e) => {
                self.status = Status::Member { role: Role::parse(&e.role).unwrap_or(Role::Member) };
            }
            MembershipEvent::Muted(e) => self.muted = e.muted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::circle::CircleCommand;
    use crate::domain::text::{CircleName, Topic};

    fn circle(kind: Kind, approval_required: bool, cap: u32) -> Circle {
        let cmd = CircleCommand::Create {
            circle_id: Uuid::now_v7(),
            owner: Uuid::now_v7(),
            name: CircleName::parse("Hotpot").unwrap(),
            kind,
            topic: Topic::default(),
            cap,
            approval_required,
        };
        Circle::from_history(&Circle::default().handle(cmd).unwrap())
    }

    fn run(
        state: &Membership,
        circle: &Circle,
        members: u32,
        actor: Actor,
        subject: Uuid,
        action: MemberAction,
    ) -> Result<Membership, CircleError> {
        let facts = CircleFacts { circle: circle.clone(), members };
        tuan_eventstore::testing::when(state, MembershipCommand { facts, actor, subject, action })
    }

    fn actor(role: Option<Role>) -> Actor {
        Actor { user_id: Uuid::now_v7(), role }
    }

    #[test]
    fn in_a_cluster_a_member_adds_a_friend_directly() {
        let c = circle(Kind::Cluster, false, 500);
        let friend = Uuid::now_v7();
        let added = run(
            &Membership::default(),
            &c,
            3,
            actor(Some(Role::Member)),
            friend,
            MemberAction::Invite { relation: Relation::Friends },
        )
        .unwrap();
        assert_eq!(added.role(), Some(Role::Member));
    }

    #[test]
    fn in_a_group_with_approval_a_members_invitation_waits_for_an_admin() {
        let c = circle(Kind::Group, true, 500);
        let (member, admin, friend) = (actor(Some(Role::Member)), actor(Some(Role::Admin)), Uuid::now_v7());
        let invited =
            run(&Membership::default(), &c, 3, member, friend, MemberAction::Invite { relation: Relation::Friends })
                .unwrap();
        assert!(matches!(invited.status, Status::Invited { awaiting_approval: true, .. }));
        let me = Actor { user_id: friend, role: None };
        assert_eq!(
            run(&invited, &c, 3, me, friend, MemberAction::Join { blocked_by_owner: false }),
            Err(CircleError::AwaitingApproval)
        );
        assert_eq!(run(&invited, &c, 3, member, friend, MemberAction::Approve), Err(CircleError::NotAdmin));
        let approved = run(&invited, &c, 3, admin, friend, MemberAction::Approve).unwrap();
        let joined = run(&approved, &c, 3, me, friend, MemberAction::Join { blocked_by_owner: false }).unwrap();
        assert_eq!(joined.role(), Some(Role::Member));
        // An admin's own invitation needs no approval.
        let direct =
            run(&Membership::default(), &c, 3, admin, friend, MemberAction::Invite { relation: Relation::Friends })
                .unwrap();
        assert!(matches!(direct.status, Status::Invited { awaiting_approval: false, .. }));
    }

    #[test]
    fn invitations_need_friendship_and_no_block() {
        let c = circle(Kind::Group, false, 500);
        let a = actor(Some(Role::Member));
        let invite =
            |relation| run(&Membership::default(), &c, 3, a, Uuid::now_v7(), MemberAction::Invite { relation });
        assert_eq!(invite(Relation::NotFriends), Err(CircleError::NotFriends));
        assert_eq!(invite(Relation::YouBlocked), Err(CircleError::BlockedByYou));
        assert_eq!(invite(Relation::BlockedYou), Err(CircleError::BlockedByOther));
        let outsider = run(
            &Membership::default(),
            &c,
            3,
            actor(None),
            Uuid::now_v7(),
            MemberAction::Invite { relation: Relation::Friends },
        );
        assert_eq!(outsider, Err(CircleError::NotAMember));
    }

    #[test]
    fn joining_a_full_cluster_fails_and_groups_need_an_invitation() {
        let cluster = circle(Kind::Cluster, false, 2);
        let me = actor(None);
        let join = MemberAction::Join { blocked_by_owner: false };
        assert_eq!(
            run(&Membership::default(), &cluster, 2, me, me.user_id, join.clone()),
            Err(CircleError::MemberCapReached(2))
        );
        assert!(run(&Membership::default(), &cluster, 1, me, me.user_id, join.clone()).is_ok());
        let group = circle(Kind::Group, false, 500);
        assert_eq!(run(&Membership::default(), &group, 1, me, me.user_id, join), Err(CircleError::NotInvited));
    }

    #[test]
    fn admins_kick_members_but_not_admins_and_the_owner_cannot_leave() {
        let c = circle(Kind::Group, false, 500);
        let member = Membership { status: Status::Member { role: Role::Member }, muted: false };
        let admin_state = Membership { status: Status::Member { role: Role::Admin }, muted: false };
        let (admin, owner) = (actor(Some(Role::Admin)), actor(Some(Role::Owner)));
        assert!(run(&member, &c, 3, admin, Uuid::now_v7(), MemberAction::Kick).is_ok());
        assert_eq!(run(&admin_state, &c, 3, admin, Uuid::now_v7(), MemberAction::Kick), Err(CircleError::Outranked));
        assert!(run(&admin_state, &c, 3, owner, Uuid::now_v7(), MemberAction::Kick).is_ok());
        assert_eq!(
            run(&member, &c, 3, actor(Some(Role::Member)), Uuid::now_v7(), MemberAction::Kick),
            Err(CircleError::NotAdmin)
        );
        let owner_state = Membership { status: Status::Member { role: Role::Owner }, muted: false };
        assert_eq!(
            run(&owner_state, &c, 3, owner, owner.user_id, MemberAction::Leave),
            Err(CircleError::OwnerCannotLeave)
        );
        assert_eq!(run(&member, &c, 3, admin, Uuid::now_v7(), MemberAction::Promote), Err(CircleError::NotOwner));
    }
}
