//! A circle's settings (stream type `circle`, id = circle id): kind, name, topic, owner, cap,
//! approval, dissolution. Memberships are separate streams (see [`super::membership`]) so a
//! 2,000-member circle never has to be loaded to change one member; every command on a circle
//! serialises on its member-count row (see `store::queries::lock_circle`), which is also where
//! the cap is counted.

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{
    CircleError,
    error::invalid,
    events as pb,
    text::{CircleName, Topic},
};

event_enum! {
    pub enum CircleEvent {
        Created(pb::CircleCreated),
        Renamed(pb::CircleRenamed),
        TopicSet(pb::CircleTopicSet),
        ApprovalSet(pb::CircleApprovalSet),
        MemberCapSet(pb::MemberCapSet),
        OwnershipTransferred(pb::OwnershipTransferred),
        Dissolved(pb::CircleDissolved),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Closed: joining needs an invitation, optionally approved by an admin.
    #[default]
    Group,
    /// Topic-led and open: anyone may join, any member adds friends directly.
    Cluster,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Group => "group",
            Kind::Cluster => "cluster",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "group" => Some(Kind::Group),
            "cluster" => Some(Kind::Cluster),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// Who acts, and their role in the circle (None when not a member).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub role: Option<Role>,
}

impl Actor {
    fn require_admin(&self) -> Result<(), CircleError> {
        match self.role {
            None => Err(CircleError::NotAMember),
            Some(r) if r.is_admin() => Ok(()),
            Some(_) => Err(CircleError::NotAdmin),
        }
    }

    fn require_owner(&self) -> Result<(), CircleError> {
        match self.role {
            None => Err(CircleError::NotAMember),
            Some(Role::Owner) => Ok(()),
            Some(_) => Err(CircleError::NotOwner),
        }
    }
}

/// The limits a member cap must respect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapLimits {
    /// The cap any owner may set (and the default).
    pub standard: u32,
    /// The cap an owner with a premium plan may set.
    pub premium: u32,
    pub owner_is_premium: bool,
}

#[derive(Clone, Debug)]
pub enum CircleCommand {
    Create {
        circle_id: Uuid,
        owner: Uuid,
        name: CircleName,
        kind: Kind,
        topic: Topic,
        cap: u32,
        approval_required: bool,
    },
    Rename {
        actor: Actor,
        name: CircleName,
    },
    SetTopic {
        actor: Actor,
        topic: Topic,
    },
    SetApproval {
        actor: Actor,
        required: bool,
    },
    SetMemberCap {
        actor: Actor,
        cap: u32,
        limits: CapLimits,
        members: u32,
    },
    /// `to` must be a member (its role is passed in).
    TransferOwnership {
        actor: Actor,
        to: Uuid,
        to_role: Option<Role>,
    },
    Dissolve {
        actor: Actor,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Circle {
    pub id: Option<Uuid>,
    pub owner: Uuid,
    pub kind: Kind,
    pub name: String,
    pub topic: String,
    pub cap: u32,
    pub approval_required: bool,
    pub dissolved: bool,
}

impl Circle {
    /// Refuses unless the circle exists and is not dissolved.
    pub fn require_active(&self) -> Result<Uuid, CircleError> {
        match self.id {
            None => Err(CircleError::CircleNotFound),
            Some(_) if self.dissolved => Err(CircleError::Dissolved),
            Some(id) => Ok(id),
        }
    }
}

impl Aggregate for Circle {
    const STREAM_TYPE: &'static str = "circle";
    type Event = CircleEvent;
    type Command = CircleCommand;
    type Error = CircleError;

    fn handle(&self, cmd: CircleCommand) -> Result<Vec<CircleEvent>, CircleError> {
        if let CircleCommand::Create { circle_id, owner, name, kind, topic, cap, approval_required } = cmd {
            if self.id.is_some() {
                return Err(CircleError::CircleExists);
            }
            return Ok(vec![CircleEvent::Created(pb::CircleCreated {
                circle_id: circle_id.to_string(),
                owner_id: owner.to_string(),
                name: name.as_str().into(),
                kind: kind.as_str().into(),
                topic: topic.as_str().into(),
                member_cap: cap,
                approval_required: approval_required && kind == Kind::Group,
            })]);
        }
        let circle_id = self.require_active()?.to_string();
        let event = match cmd {
            CircleCommand::Create { .. } => unreachable!("handled above"),
            CircleCommand::Rename { actor, name } => {
                actor.require_admin()?;
                if name.as_str() == self.name {
                    return Ok(vec![]);
                }
                CircleEvent::Renamed(pb::CircleRenamed {
                    circle_id,
                    name: name.as_str().into(),
                    by_user_id: actor.user_id.to_string(),
                })
            }
            CircleCommand::SetTopic { actor, topic } => {
                actor.require_admin()?;
                if topic.as_str() == self.topic {
                    return Ok(vec![]);
                }
                CircleEvent::TopicSet(pb::CircleTopicSet {
                    circle_id,
                    topic: topic.as_str().into(),
                    by_user_id: actor.user_id.to_string(),
                })
            }
            CircleCommand::SetApproval { actor, required } => {
                actor.require_admin()?;
                if self.kind == Kind::Cluster && required {
                    return Err(invalid("a cluster grows without approval; only groups can require it"));
                }
                if required == self.approval_required {
                    return Ok(vec![]);
                }
                CircleEvent::ApprovalSet(pb::CircleApprovalSet {
                    circle_id,
                    approval_required: required,
                    by_user_id: actor.user_id.to_string(),
                })
            }
            CircleCommand::SetMemberCap { actor, cap, limits, members } => {
                actor.require_owner()?;
                if cap == 0 || cap > limits.premium {
                    return Err(invalid(format!("member cap must be between 1 and {}", limits.premium)));
                }
                if cap > limits.standard && !limits.owner_is_premium {
                    return Err(CircleError::PremiumRequired(limits.standard));
                }
                if cap < members {
                    return Err(CircleError::CapBelowMembers(members));
                }
                if cap == self.cap {
                    return Ok(vec![]);
                }
                CircleEvent::MemberCapSet(pb::MemberCapSet {
                    circle_id,
                    member_cap: cap,
                    by_user_id: actor.user_id.to_string(),
                })
            }
            CircleCommand::TransferOwnership { actor, to, to_role } => {
                actor.require_owner()?;
                if to == actor.user_id {
                    return Err(CircleError::SelfTarget);
                }
                if to_role.is_none() {
                    return Err(CircleError::SubjectNotMember);
                }
                CircleEvent::OwnershipTransferred(pb::OwnershipTransferred {
                    circle_id,
                    from_user_id: actor.user_id.to_string(),
                    to_user_id: to.to_string(),
                })
            }
            CircleCommand::Dissolve { actor } => {
                actor.require_owner()?;
                CircleEvent::Dissolved(pb::CircleDissolved { circle_id, by_user_id: actor.user_id.to_string() })
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &CircleEvent) {
        let id = |s: &str| Uuid::parse_str(s).unwrap_or_default();
        match event {
            CircleEvent::Created(e) => {
                *self = Circle {
                    id: Some(id(&e.circle_id)),
                    owner: id(&e.owner_id),
                    kind: Kind::parse(&e.kind).unwrap_or_default(),
                    name: e.name.clone(),
                    topic: e.topic.clone(),
                    cap: e.member_cap,
                    approval_required: e.approval_required,
                    dissolved: false,
                }
            }
            CircleEvent::Renamed(e) => self.name = e.name.clone(),
            CircleEvent::TopicSet(e) => self.topic = e.topic.clone(),
            CircleEvent::ApprovalSet(e) => self.approval_required = e.approval_required,
            CircleEvent::MemberCapSet(e) => self.cap = e.member_cap,
            CircleEvent::OwnershipTransferred(e) => self.owner = id(&e.to_user_id),
            CircleEvent::Dissolved(_) => self.dissolved = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(kind: Kind) -> (Circle, Uuid) {
        let owner = Uuid::now_v7();
        let cmd = CircleCommand::Create {
            circle_id: Uuid::now_v7(),
            owner,
            name: CircleName::parse("Dinner").unwrap(),
            kind,
            topic: Topic::default(),
            cap: 500,
            approval_required: true,
        };
        let events = Circle::default().handle(cmd).unwrap();
        (Circle::from_history(&events), owner)
    }

    fn limits(premium: bool) -> CapLimits {
        CapLimits { standard: 500, premium: 2000, owner_is_premium: premium }
    }

    #[test]
    fn clusters_never_require_approval() {
        let (circle, owner) = created(Kind::Cluster);
        assert!(!circle.approval_required);
        let actor = Actor { user_id: owner, role: Some(Role::Owner) };
        assert!(circle.handle(CircleCommand::SetApproval { actor, required: true }).is_err());
    }

    #[test]
    fn caps_above_500_need_a_premium_owner() {
        let (circle, owner) = created(Kind::Group);
        let owner = Actor { user_id: owner, role: Some(Role::Owner) };
        let set =
            |cap, premium, members| CircleCommand::SetMemberCap { actor: owner, cap, limits: limits(premium), members };
        assert_eq!(circle.handle(set(1000, false, 3)), Err(CircleError::PremiumRequired(500)));
        assert_eq!(circle.handle(set(2000, true, 3)).unwrap().len(), 1);
        assert!(matches!(circle.handle(set(2001, true, 3)), Err(CircleError::InvalidInput(_))));
        assert_eq!(circle.handle(set(10, true, 11)), Err(CircleError::CapBelowMembers(11)));
        let admin = Actor { user_id: Uuid::now_v7(), role: Some(Role::Admin) };
        let by_admin = CircleCommand::SetMemberCap { actor: admin, cap: 400, limits: limits(true), members: 1 };
        assert_eq!(circle.handle(by_admin), Err(CircleError::NotOwner));
    }

    #[test]
    fn members_cannot_rename_and_a_dissolved_circle_refuses_everything() {
        let (mut circle, owner) = created(Kind::Group);
        let member = Actor { user_id: Uuid::now_v7(), role: Some(Role::Member) };
        let rename = |actor| CircleCommand::Rename { actor, name: CircleName::parse("New").unwrap() };
        assert_eq!(circle.handle(rename(member)), Err(CircleError::NotAdmin));
        let owner = Actor { user_id: owner, role: Some(Role::Owner) };
        for e in circle.handle(CircleCommand::Dissolve { actor: owner }).unwrap() {
            circle.apply(&e);
        }
        assert_eq!(circle.handle(rename(owner)), Err(CircleError::Dissolved));
    }
}
