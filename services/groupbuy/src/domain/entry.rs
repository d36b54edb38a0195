//! Whether a campaign takes a join now.
//!
//! A join does not load the campaign's stream (joins never contend on it): the app gathers
//! what the decision needs from the campaign's read model and the buyer's units in it, and
//! asks here before it takes any stock.

use super::{
    GroupBuyError,
    campaign::{CampaignStatus, ModeKind, Tipping},
};

/// How a buyer takes part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Team mode: opens a team as its leader.
    OpenTeam,
    /// Team mode: joins an open team.
    JoinTeam,
    /// Tipping mode: commits to one unit.
    Tipping,
}

/// What a join needs to know about its campaign and its buyer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CampaignFacts {
    pub mode: ModeKind,
    pub status: CampaignStatus,
    pub tipping: Tipping,
    pub starts_at_micros: i64,
    pub ends_at_micros: i64,
    pub per_user_limit: u32,
    /// The units the buyer holds in the campaign already.
    pub units: u32,
}

impl CampaignFacts {
    /// Refuses a join by `entry` that the campaign does not take at `now_micros`: the wrong
    /// mode first, then a campaign that is not running, then the buyer's limit.
    pub fn admit(&self, entry: Entry, now_micros: i64) -> Result<(), GroupBuyError> {
        match (entry, self.mode) {
            (Entry::Tipping, ModeKind::Team) => return Err(GroupBuyError::WrongMode("team", "OpenTeam or JoinTeam")),
            (Entry::OpenTeam | Entry::JoinTeam, ModeKind::Tipping) => {
                return Err(GroupBuyError::WrongMode("tipping", "JoinCampaign"));
            }
            _ => {}
        }
        match self.status {
            CampaignStatus::Active => {}
            CampaignStatus::Paused => return Err(GroupBuyError::CampaignNotActive("paused")),
            CampaignStatus::Ended | CampaignStatus::None => return Err(GroupBuyError::CampaignEnded),
        }
        if self.tipping == Tipping::Failed || now_micros >= self.ends_at_micros {
            return Err(GroupBuyError::CampaignEnded);
        }
        if now_micros < self.starts_at_micros {
            return Err(GroupBuyError::CampaignNotStarted);
        }
        if self.units >= self.per_user_limit {
            return Err(GroupBuyError::PerUserLimit(self.per_user_limit));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000_000;
    const HOUR: i64 = 3_600_000_000;

    fn team() -> CampaignFacts {
        CampaignFacts {
            mode: ModeKind::Team,
            status: CampaignStatus::Active,
            tipping: Tipping::NotTipping,
            starts_at_micros: NOW - HOUR,
            ends_at_micros: NOW + HOUR,
            per_user_limit: 2,
            units: 0,
        }
    }

    fn tipping() -> CampaignFacts {
        CampaignFacts { mode: ModeKind::Tipping, tipping: Tipping::Pending, ..team() }
    }

    #[test]
    fn a_running_campaign_takes_the_joins_of_its_mode() {
        assert_eq!(team().admit(Entry::OpenTeam, NOW), Ok(()));
        assert_eq!(team().admit(Entry::JoinTeam, NOW), Ok(()));
        assert_eq!(tipping().admit(Entry::Tipping, NOW), Ok(()));
        let tipped = CampaignFacts { tipping: Tipping::Tipped, ..tipping() };
        assert_eq!(tipped.admit(Entry::Tipping, NOW), Ok(()), "a tipped campaign still sells");
        assert_eq!(CampaignFacts { units: 1, ..team() }.admit(Entry::OpenTeam, NOW), Ok(()), "below the limit");
    }

    #[test]
    fn a_join_of_the_other_mode_is_refused_first() {
        let wrong_for_team = Err(GroupBuyError::WrongMode("team", "OpenTeam or JoinTeam"));
        assert_eq!(team().admit(Entry::Tipping, NOW), wrong_for_team);
        let wrong_for_tipping = Err(GroupBuyError::WrongMode("tipping", "JoinCampaign"));
        assert_eq!(tipping().admit(Entry::OpenTeam, NOW), wrong_for_tipping);
        assert_eq!(tipping().admit(Entry::JoinTeam, NOW), wrong_for_tipping);
        let ended = CampaignFacts { status: CampaignStatus::Ended, ..tipping() };
        assert_eq!(ended.admit(Entry::JoinTeam, NOW), wrong_for_tipping, "before the status");
    }

    #[test]
    fn only_an_active_campaign_takes_joins() {
        let paused = CampaignFacts { status: CampaignStatus::Paused, ..team() };
        assert_eq!(paused.admit(Entry::OpenTeam, NOW), Err(GroupBuyError::CampaignNotActive("paused")));
        for status in [CampaignStatus::Ended, CampaignStatus::None] {
            let over = CampaignFacts { status, ..team() };
            assert_eq!(over.admit(Entry::JoinTeam, NOW), Err(GroupBuyError::CampaignEnded), "{status:?}");
        }
        let failed = CampaignFacts { tipping: Tipping::Failed, ..tipping() };
        assert_eq!(failed.admit(Entry::Tipping, NOW), Err(GroupBuyError::CampaignEnded));
    }

    #[test]
    fn joins_are_taken_from_the_start_until_before_the_end() {
        let ends_now = CampaignFacts { ends_at_micros: NOW, ..team() };
        assert_eq!(ends_now.admit(Entry::OpenTeam, NOW), Err(GroupBuyError::CampaignEnded));
        assert_eq!(ends_now.admit(Entry::OpenTeam, NOW - 1), Ok(()));
        let starts_now = CampaignFacts { starts_at_micros: NOW, ..team() };
        assert_eq!(starts_now.admit(Entry::OpenTeam, NOW), Ok(()));
        assert_eq!(starts_now.admit(Entry::OpenTeam, NOW - 1), Err(GroupBuyError::CampaignNotStarted));
        let paused_later = CampaignFacts { status: CampaignStatus::Paused, starts_at_micros: NOW + HOUR, ..team() };
        let paused = Err(GroupBuyError::CampaignNotActive("paused"));
        assert_eq!(paused_later.admit(Entry::OpenTeam, NOW), paused, "the status before the times");
    }

    #[test]
    fn a_buyer_at_the_limit_is_refused() {
        let full = CampaignFacts { units: 2, ..team() };
        assert_eq!(full.admit(Entry::OpenTeam, NOW), Err(GroupBuyError::PerUserLimit(2)));
        let late = CampaignFacts { ends_at_micros: NOW, ..full };
        assert_eq!(late.admit(Entry::OpenTeam, NOW), Err(GroupBuyError::CampaignEnded), "the times before the limit");
    }
}
