//! A team (stream type `team`, id = team id): at most 50 members, so its stream is short and
//! its version orders every change (watchers use it as a sequence number).

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{error::GroupBuyError, events as pb, names::named};

event_enum! {
    pub enum TeamEvent {
        Opened(pb::TeamOpened),
        MemberJoined(pb::TeamMemberJoined),
        MemberConfirmed(pb::TeamMemberConfirmed),
        MemberLeft(pb::TeamMemberLeft),
        MemberDropped(pb::TeamMemberDropped),
        LeaderChanged(pb::TeamLeaderChanged),
        Completed(pb::TeamCompleted),
        Expired(pb::TeamExpired),
        Failed(pb::TeamFailed),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TeamStatus {
    #[default]
    None,
    /// The leader's hold is pending; nobody else may join yet.
    Pending,
    Open,
    Completed,
    Expired,
    Failed,
}

impl TeamStatus {
    pub fn is_live(self) -> bool {
        matches!(self, TeamStatus::Pending | TeamStatus::Open)
    }
}

named!(TeamStatus, "team status", {
    None => "none",
    Pending => "pending",
    Open => "open",
    Completed => "completed",
    Expired => "expired",
    Failed => "failed",
});

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    Pending,
    Confirmed,
    Left,
    Dropped,
}

impl MemberStatus {
    pub fn is_active(self) -> bool {
        matches!(self, MemberStatus::Pending | MemberStatus::Confirmed)
    }
}

named!(MemberStatus, "member status", {
    Pending => "pending",
    Confirmed => "confirmed",
    Left => "left",
    Dropped => "dropped",
});

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub join_id: Uuid,
    pub user_id: Uuid,
    pub status: MemberStatus,
}

#[derive(Clone, Debug)]
pub enum TeamCommand {
    Open {
        team_id: Uuid,
        campaign_id: Uuid,
        leader_id: Uuid,
        join_id: Uuid,
        size: u32,
        expires_at_micros: i64,
    },
    Join {
        join_id: Uuid,
        user_id: Uuid,
        now_micros: i64,
        /// The team's leader blocked this user (from the social graph): a blocked user cannot
        /// buy together with the blocker.
        blocked_by_leader: bool,
    },
    /// The member's hold was placed.
    Confirm {
        join_id: Uuid,
    },
    Leave {
        user_id: Uuid,
    },
    /// The member's hold was refused or lost.
    Drop {
        join_id: Uuid,
        reason: String,
    },
    /// The window ran out (`force`: the campaign ended, whatever the window says).
    Expire {
        now_micros: i64,
        force: bool,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Team {
    pub team_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub leader_id: Option<Uuid>,
    pub size: u32,
    pub expires_at_micros: i64,
    pub status: TeamStatus,
    pub members: Vec<Member>,
    pub reason: String,
}

impl Team {
    pub fn active_members(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.status.is_active())
    }

    pub fn confirmed(&self) -> u32 {
        self.members.iter().filter(|m| m.status == MemberStatus::Confirmed).count() as u32
    }

    pub fn member_by_join(&self, join_id: Uuid) -> Option<&Member> {
        self.members.iter().find(|m| m.join_id == join_id)
    }

    fn active_member_of(&self, user_id: Uuid) -> Option<&Member> {
        self.active_members().find(|m| m.user_id == user_id)
    }

    fn ids(&self) -> (String, String) {
        (
            self.team_id.map(|t| t.to_string()).unwrap_or_default(),
            self.campaign_id.map(|c| c.to_string()).unwrap_or_default(),
        )
    }

    fn closed_error(&self) -> GroupBuyError {
        match self.status {
            TeamStatus::None => GroupBuyError::TeamNotFound,
            TeamStatus::Pending => GroupBuyError::TeamNotOpen,
            TeamStatus::Completed => GroupBuyError::TeamCompleted,
            TeamStatus::Expired => GroupBuyError::TeamExpired,
            TeamStatus::Failed | TeamStatus::Open => GroupBuyError::TeamFailed,
        }
    }

    /// Events after `join_id` stops being an active member: a new leader, or the team fails
    /// when nobody is left.
    fn after_removal(&self, join_id: Uuid, why_failed: &str) -> Vec<TeamEvent> {
        let (team_id, campaign_id) = self.ids();
        let Some(gone) = self.member_by_join(join_id) else { return vec![] };
        let mut rest = self.active_members().filter(|m| m.join_id != join_id);
        match rest.next() {
            None => vec![TeamEvent::Failed(pb::TeamFailed { team_id, campaign_id, reason: why_failed.to_string() })],
            Some(next) if Some(gone.user_id) == self.leader_id => {
                vec![TeamEvent::LeaderChanged(pb::TeamLeaderChanged {
                    team_id,
                    previous_leader_id: gone.user_id.to_string(),
                    leader_id: next.user_id.to_string(),
                })]
            }
            Some(_) => vec![],
        }
    }
}

impl Aggregate for Team {
    const STREAM_TYPE: &'static str = "team";
    type Event = TeamEvent;
    type Command = TeamCommand;
    type Error = GroupBuyError;

    fn handle(&self, command: TeamCommand) -> Result<Vec<TeamEvent>, GroupBuyError> {
        let (team_id, campaign_id) = self.ids();
        match command {
            TeamCommand::Open { team_id, campaign_id, leader_id, join_id, size, expires_at_micros } => {
                if self.status != TeamStatus::None {
                    return Err(GroupBuyError::TeamExists);
                }
                Ok(vec![TeamEvent::Opened(pb::TeamOpened {
                    team_id: team_id.to_string(),
                    campaign_id: campaign_id.to_string(),
                    leader_id: leader_id.to_string(),
                    join_id: join_id.to_string(),
                    team_size: size,
                    expires_at_micros,
                })])
            }
            TeamCommand::Join { join_id, user_id, now_micros, blocked_by_leader } => {
                if blocked_by_leader {
                    return Err(GroupBuyError::BlockedByLeader);
                }
                if self.status != TeamStatus::Open {
                    return Err(self.closed_error());
                }
                if now_micros >= self.expires_at_micros {
                    return Err(GroupBuyError::TeamExpired);
                }
                if self.active_member_of(user_id).is_some() {
                    return Err(GroupBuyError::AlreadyMember);
                }
                if self.active_members().count() as u32 >= self.size {
                    return Err(GroupBuyError::TeamFull);
                }
                Ok(vec![TeamEvent::MemberJoined(pb::TeamMemberJoined {
                    team_id,
                    campaign_id,
                    join_id: join_id.to_string(),
                    user_id: user_id.to_string(),
                })])
            }
            TeamCommand::Confirm { join_id } => {
                let Some(member) = self.member_by_join(join_id) else { return Err(GroupBuyError::NotMember) };
                if !self.status.is_live() || !member.status.is_active() {
                    return Err(self.closed_error());
                }
                if member.status == MemberStatus::Confirmed {
                    return Ok(vec![]);
                }
                let mut events = vec![TeamEvent::MemberConfirmed(pb::TeamMemberConfirmed {
                    team_id: team_id.clone(),
                    join_id: join_id.to_string(),
                    user_id: member.user_id.to_string(),
                })];
                if self.confirmed() + 1 >= self.size {
                    events.push(TeamEvent::Completed(pb::TeamCompleted { team_id, campaign_id }));
                }
                Ok(events)
            }
            TeamCommand::Leave { user_id } => {
                if !self.status.is_live() {
                    return Err(self.closed_error());
                }
                let member = self.active_member_of(user_id).ok_or(GroupBuyError::NotMember)?;
                let mut events = vec![TeamEvent::MemberLeft(pb::TeamMemberLeft {
                    team_id,
                    join_id: member.join_id.to_string(),
                    user_id: user_id.to_string(),
                })];
                events.extend(self.after_removal(member.join_id, "everyone left"));
                Ok(events)
            }
            TeamCommand::Drop { join_id, reason } => {
                let Some(member) = self.member_by_join(join_id) else { return Ok(vec![]) };
                if !self.status.is_live() || !member.status.is_active() {
                    return Ok(vec![]);
                }
                let mut events = vec![TeamEvent::MemberDropped(pb::TeamMemberDropped {
                    team_id,
                    join_id: join_id.to_string(),
                    user_id: member.user_id.to_string(),
                    reason: reason.clone(),
                })];
                let why = if Some(member.user_id) == self.leader_id && self.status == TeamStatus::Pending {
                    format!("the leader's payment failed: {reason}")
                } else {
                    "every member's payment failed".to_string()
                };
                events.extend(self.after_removal(join_id, &why));
                Ok(events)
            }
            TeamCommand::Expire { now_micros, force } => {
                if !self.status.is_live() || (!force && now_micros < self.expires_at_micros) {
                    return Ok(vec![]);
                }
                Ok(vec![TeamEvent::Expired(pb::TeamExpired { team_id, campaign_id })])
            }
        }
    }

    fn apply(&mut self, event: &TeamEvent) {
        let uuid = |s: &str| Uuid::parse_str(s).unwrap_or_default();
        let set = |members: &mut Vec<Member>, join: &str, status| {
            let join = uuid(join);
            if let Some(m) = members.iter_mut().find(|m| m.join_id == join) {
                m.status = status;
            }
        };
        match event {
            TeamEvent::Opened(e) => {
                self.team_id = Some(uuid(&e.team_id));
                self.campaign_id = Some(uuid(&e.campaign_id));
                self.leader_id = Some(uuid(&e.leader_id));
                self.size = e.team_size;
                self.expires_at_micros = e.expires_at_micros;
                self.status = TeamStatus::Pending;
                self.members = vec![Member {
                    join_id: uuid(&e.join_id),
                    user_id: uuid(&e.leader_id),
                    status: MemberStatus::Pending,
                }];
            }
            TeamEvent::MemberJoined(e) => self.members.push(Member {
                join_id: uuid(&e.join_id),
                user_id: uuid(&e.user_id),
                status: MemberStatus::Pending,
            }),
            TeamEvent::MemberConfirmed(e) => {
                set(&mut self.members, &e.join_id, MemberStatus::Confirmed);
                if self.status == TeamStatus::Pending && Some(uuid(&e.user_id)) == self.leader_id {
                    self.status = TeamStatus::Open;
                }
            }
            TeamEvent::MemberLeft(e) => set(&mut self.members, &e.join_id, MemberStatus::Left),
            TeamEvent::MemberDropped(e) => set(&mut self.members, &e.join_id, MemberStatus::Dropped),
            TeamEvent::LeaderChanged(e) => self.leader_id = Some(uuid(&e.leader_id)),
            TeamEvent::Completed(_) => self.status = TeamStatus::Completed,
            TeamEvent::Expired(_) => self.status = TeamStatus::Expired,
            TeamEvent::Failed(e) => {
                self.status = TeamStatus::Failed;
                self.reason = e.reason.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Given {
        team: Team,
        leader: Uuid,
        leader_join: Uuid,
    }

    use tuan_eventstore::testing::run;

    fn opened(size: u32) -> Given {
        let (leader, leader_join) = (Uuid::now_v7(), Uuid::now_v7());
        let mut team = Team::default();
        run(
            &mut team,
            TeamCommand::Open {
                team_id: Uuid::now_v7(),
                campaign_id: Uuid::now_v7(),
                leader_id: leader,
                join_id: leader_join,
                size,
                expires_at_micros: 1_000,
            },
        )
        .unwrap();
        Given { team, leader, leader_join }
    }

    fn join(t: &mut Team) -> (Uuid, Uuid) {
        let (user, join_id) = (Uuid::now_v7(), Uuid::now_v7());
        run(t, TeamCommand::Join { join_id, user_id: user, now_micros: 10, blocked_by_leader: false }).unwrap();
        (user, join_id)
    }

    #[test]
    fn the_team_opens_only_after_the_leader_paid_and_completes_at_its_size() {
        let mut g = opened(3);
        let early = g.team.handle(TeamCommand::Join {
            join_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            now_micros: 10,
            blocked_by_leader: false,
        });
        assert_eq!(early, Err(GroupBuyError::TeamNotOpen));
        run(&mut g.team, TeamCommand::Confirm { join_id: g.leader_join }).unwrap();
        assert_eq!(g.team.status, TeamStatus::Open);
        let (_, a) = join(&mut g.team);
        let (_, b) = join(&mut g.team);
        let full = g.team.handle(TeamCommand::Join {
            join_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            now_micros: 10,
            blocked_by_leader: false,
        });
        assert_eq!(full, Err(GroupBuyError::TeamFull));
        assert_eq!(run(&mut g.team, TeamCommand::Confirm { join_id: a }).unwrap().len(), 1);
        assert!(run(&mut g.team, TeamCommand::Confirm { join_id: a }).unwrap().is_empty(), "idempotent");
        let done = run(&mut g.team, TeamCommand::Confirm { join_id: b }).unwrap();
        assert!(matches!(done.last(), Some(TeamEvent::Completed(_))));
        assert_eq!(g.team.handle(TeamCommand::Leave { user_id: g.leader }), Err(GroupBuyError::TeamCompleted));
    }

    #[test]
    fn a_user_the_leader_blocked_cannot_join() {
        let mut g = opened(3);
        run(&mut g.team, TeamCommand::Confirm { join_id: g.leader_join }).unwrap();
        let join = TeamCommand::Join {
            join_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            now_micros: 10,
            blocked_by_leader: true,
        };
        assert_eq!(g.team.handle(join), Err(GroupBuyError::BlockedByLeader));
        assert_eq!(g.team.active_members().count(), 1, "nothing changed");
    }

    #[test]
    fn joining_twice_late_or_closed_is_refused() {
        let mut g = opened(3);
        run(&mut g.team, TeamCommand::Confirm { join_id: g.leader_join }).unwrap();
        let twice = g.team.handle(TeamCommand::Join {
            join_id: Uuid::now_v7(),
            user_id: g.leader,
            now_micros: 10,
            blocked_by_leader: false,
        });
        assert_eq!(twice, Err(GroupBuyError::AlreadyMember));
        let late = g.team.handle(TeamCommand::Join {
            join_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            now_micros: 1_000,
            blocked_by_leader: false,
        });
        assert_eq!(late, Err(GroupBuyError::TeamExpired));
        assert!(run(&mut g.team, TeamCommand::Expire { now_micros: 999, force: false }).unwrap().is_empty());
        assert_eq!(run(&mut g.team, TeamCommand::Expire { now_micros: 1_000, force: false }).unwrap().len(), 1);
        assert!(run(&mut g.team, TeamCommand::Expire { now_micros: 2_000, force: false }).unwrap().is_empty());
        let closed = g.team.handle(TeamCommand::Join {
            join_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            now_micros: 10,
            blocked_by_leader: false,
        });
        assert_eq!(closed, Err(GroupBuyError::TeamExpired));
    }

    #[test]
    fn a_leaving_leader_passes_leadership_to_the_next_member() {
        let mut g = opened(3);
        run(&mut g.team, TeamCommand::Confirm { join_id: g.leader_join }).unwrap();
        let (next, _) = join(&mut g.team);
        let events = run(&mut g.team, TeamCommand::Leave { user_id: g.leader }).unwrap();
        assert!(matches!(events[1], TeamEvent::LeaderChanged(_)));
        assert_eq!(g.team.leader_id, Some(next));
        assert_eq!(g.team.status, TeamStatus::Open);
        let last = run(&mut g.team, TeamCommand::Leave { user_id: next }).unwrap();
        assert!(matches!(last[1], TeamEvent::Failed(_)));
        assert_eq!(g.team.handle(TeamCommand::Leave { user_id: next }), Err(GroupBuyError::TeamFailed));
    }

    #[test]
    fn a_refused_leader_payment_fails_the_team() {
        let mut g = opened(2);
        let events =
            run(&mut g.team, TeamCommand::Drop { join_id: g.leader_join, reason: "insufficient funds".into() })
                .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(g.team.status, TeamStatus::Failed);
        assert!(g.team.reason.contains("insufficient funds"));
        assert!(run(&mut g.team, TeamCommand::Drop { join_id: g.leader_join, reason: "x".into() }).unwrap().is_empty());
    }
}
