//! How screens are put together from backend answers: which teams a friend is in, which
//! collections are open for me and what I owe, which groups my bills belong to.

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::Decimal;
use tuan_proto::{
    circles::v1 as circles,
    gateway::v1 as gw,
    groupbuy::v1::{self as gb, MemberStatus, TeamStatus},
    payments::v1 as pay,
    users::v1::PublicProfile,
};

/// The caller's friends by user id.
pub type Friends = HashMap<String, PublicProfile>;

/// What a deal card in a post points at, when it is group buying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DealTarget {
    Campaign(String),
    Team(String),
}

pub fn deal_target(post: &circles::Post) -> Option<DealTarget> {
    use circles::deal_card::Target;
    match post.card.as_ref()?.target.as_ref()? {
        Target::CampaignId(id) => Some(DealTarget::Campaign(id.clone())),
        Target::TeamId(id) => Some(DealTarget::Team(id.clone())),
        Target::BillId(_) | Target::CollectionId(_) => None,
    }
}

/// Still filling up: pending (leader's hold on its way) or open.
pub fn is_filling(team: &gb::Team) -> bool {
    matches!(team.status(), TeamStatus::Pending | TeamStatus::Open)
}

fn active_members(team: &gb::Team) -> impl Iterator<Item = &gb::Member> {
    team.members.iter().filter(|m| matches!(m.status(), MemberStatus::Pending | MemberStatus::Confirmed))
}

pub fn has_member(team: &gb::Team, user: &str) -> bool {
    active_members(team).any(|m| m.user_id == user)
}

/// The caller's friends among the team's active members, in joining order.
pub fn friends_in(team: &gb::Team, friends: &Friends) -> Vec<PublicProfile> {
    active_members(team).filter_map(|m| friends.get(&m.user_id).cloned()).collect()
}

pub fn team_with_friends(team: gb::Team, friends: &Friends, me: &str) -> gw::TeamWithFriends {
    gw::TeamWithFriends {
        friends_joined: friends_in(&team, friends),
        i_joined: has_member(&team, me),
        team: Some(team),
    }
}

/// Open, joinable teams with at least one friend in them that I am not in yet, each once.
pub fn friend_teams(
    teams: impl IntoIterator<Item = gb::Team>,
    friends: &Friends,
    me: &str,
    campaigns: &HashMap<String, gb::Campaign>,
) -> Vec<gw::FriendTeam> {
    let mut seen = HashSet::new();
    teams
        .into_iter()
        .filter(|t| t.status() == TeamStatus::Open && t.joinable && !has_member(t, me))
        .filter(|t| seen.insert(t.team_id.clone()))
        .filter_map(|team| {
            let in_team = friends_in(&team, friends);
            (!in_team.is_empty()).then(|| gw::FriendTeam {
                campaign: campaigns.get(&team.campaign_id).cloned(),
                friends: in_team,
                team: Some(team),
            })
        })
        .collect()
}

/// An open collection I organise or have a part in, with my unpaid part.
pub fn open_collection(collection: pay::Collection, bill_title: String, me: &str) -> Option<gw::OpenCollection> {
    if collection.closed {
        return None;
    }
    let organiser = collection.organiser_id == me;
    let mine = collection.entries.iter().find(|e| e.user_id == me);
    if !organiser && mine.is_none() {
        return None;
    }
    let i_owe = mine.filter(|e| !e.paid).map(|e| e.amount.clone()).unwrap_or_default();
    Some(gw::OpenCollection { collection: Some(collection), bill_title, i_am_organiser: organiser, i_owe })
}

/// What I owe across `collections`, per currency (sorted by currency). Unparsable amounts
/// are skipped rather than summed wrongly.
pub fn total_owed(collections: &[gw::OpenCollection]) -> Vec<gw::Amount> {
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for c in collections {
        let (Some(collection), false) = (&c.collection, c.i_owe.is_empty()) else { continue };
        if let Ok(amount) = c.i_owe.parse::<Decimal>() {
            *totals.entry(collection.currency.clone()).or_default() += amount;
        }
    }
    totals.into_iter().map(|(currency, amount)| gw::Amount { amount: amount.to_string(), currency }).collect()
}

/// A group whose balances payments keeps: a circle, or the caller and one friend.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BillGroup {
    Circle(String),
    Friend(String),
}

/// The groups of `bills` (newest bills first), at most `cap`: a bill in a circle counts for
/// the circle; a bill among friends for each other payer and participant.
pub fn groups_of(bills: &[pay::Bill], me: &str, cap: usize) -> Vec<BillGroup> {
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    for bill in bills {
        let candidates: Vec<BillGroup> = if bill.circle_id.is_empty() {
            let others = bill.payers.iter().map(|p| &p.user_id).chain(bill.parts.iter().map(|p| &p.user_id));
            others.filter(|u| u.as_str() != me).map(|u| BillGroup::Friend(u.clone())).collect()
        } else {
            vec![BillGroup::Circle(bill.circle_id.clone())]
        };
        for group in candidates {
            if groups.len() == cap {
                return groups;
            }
            if seen.insert(group.clone()) {
                groups.push(group);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(user: &str, status: MemberStatus) -> gb::Member {
        gb::Member { user_id: user.into(), status: status as i32, ..Default::default() }
    }

    fn team(id: &str, status: TeamStatus, members: Vec<gb::Member>) -> gb::Team {
        gb::Team {
            team_id: id.into(),
            campaign_id: "c".into(),
            status: status as i32,
            members,
            joinable: true,
            ..Default::default()
        }
    }

    fn friends(ids: &[&str]) -> Friends {
        ids.iter().map(|id| (id.to_string(), PublicProfile { user_id: id.to_string(), ..Default::default() })).collect()
    }

    #[test]
    fn friend_teams_are_open_joinable_with_a_friend_and_without_me() {
        let f = friends(&["a", "b"]);
        let teams = vec![
            team(
                "t1",
                TeamStatus::Open,
                vec![member("a", MemberStatus::Confirmed), member("x", MemberStatus::Pending)],
            ),
            team("t1", TeamStatus::Open, vec![member("a", MemberStatus::Confirmed)]),
            team("t2", TeamStatus::Completed, vec![member("a", MemberStatus::Confirmed)]),
            team("t3", TeamStatus::Open, vec![member("x", MemberStatus::Confirmed)]),
            team(
                "t4",
                TeamStatus::Open,
                vec![member("b", MemberStatus::Confirmed), member("me", MemberStatus::Pending)],
            ),
            team("t5", TeamStatus::Open, vec![member("b", MemberStatus::Left), member("y", MemberStatus::Confirmed)]),
        ];
        let found = friend_teams(teams, &f, "me", &HashMap::new());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].team.as_ref().unwrap().team_id, "t1");
        assert_eq!(found[0].friends.iter().map(|p| p.user_id.as_str()).collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn team_with_friends_names_friends_and_me() {
        let t = team(
            "t",
            TeamStatus::Open,
            vec![member("a", MemberStatus::Confirmed), member("me", MemberStatus::Pending)],
        );
        let view = team_with_friends(t, &friends(&["a"]), "me");
        assert!(view.i_joined);
        assert_eq!(view.friends_joined.len(), 1);
    }

    fn collection(organiser: &str, entries: &[(&str, &str, bool)], closed: bool) -> pay::Collection {
        pay::Collection {
            organiser_id: organiser.into(),
            currency: "CNY".into(),
            closed,
            entries: entries
                .iter()
                .map(|(u, a, paid)| pay::CollectionEntry {
                    user_id: u.to_string(),
                    amount: a.to_string(),
                    paid: *paid,
                    reminders: 0,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn open_collections_and_what_i_owe() {
        let owed = open_collection(collection("o", &[("me", "33.33", false)], false), "dinner".into(), "me").unwrap();
        assert_eq!((owed.i_owe.as_str(), owed.i_am_organiser), ("33.33", false));
        let paid = open_collection(collection("o", &[("me", "10.00", true)], false), "lunch".into(), "me").unwrap();
        assert_eq!(paid.i_owe, "");
        let mine = open_collection(collection("me", &[("b", "5.00", false)], false), "x".into(), "me").unwrap();
        assert!(mine.i_am_organiser);
        assert!(open_collection(collection("o", &[("me", "1.00", false)], true), "x".into(), "me").is_none());
        assert!(open_collection(collection("o", &[("b", "1.00", false)], false), "x".into(), "me").is_none());
        let more = open_collection(collection("p", &[("me", "0.67", false)], false), "y".into(), "me").unwrap();
        let total = total_owed(&[owed, paid, mine, more]);
        assert_eq!(total, vec![gw::Amount { amount: "34.00".into(), currency: "CNY".into() }]);
    }

    #[test]
    fn groups_of_bills_are_circles_or_friends_once_each() {
        let bill = |circle: &str, payers: &[&str], parts: &[&str]| pay::Bill {
            circle_id: circle.into(),
            payers: payers.iter().map(|u| pay::Payer { user_id: u.to_string(), amount: "1".into() }).collect(),
            parts: parts.iter().map(|u| pay::BillPart { user_id: u.to_string(), amount: "1".into() }).collect(),
            ..Default::default()
        };
        let bills =
            vec![bill("", &["me"], &["me", "b", "c"]), bill("k", &["b"], &["me", "b"]), bill("", &["b"], &["me", "b"])];
        let groups = groups_of(&bills, "me", 10);
        assert_eq!(
            groups,
            vec![BillGroup::Friend("b".into()), BillGroup::Friend("c".into()), BillGroup::Circle("k".into())]
        );
        assert_eq!(groups_of(&bills, "me", 2).len(), 2);
    }

    #[test]
    fn deal_targets() {
        use circles::deal_card::Target;
        let post =
            |t: Option<Target>| circles::Post { card: Some(circles::DealCard { target: t }), ..Default::default() };
        assert_eq!(deal_target(&post(Some(Target::TeamId("t".into())))), Some(DealTarget::Team("t".into())));
        assert_eq!(deal_target(&post(Some(Target::CampaignId("c".into())))), Some(DealTarget::Campaign("c".into())));
        assert_eq!(deal_target(&post(Some(Target::BillId("b".into())))), None);
        assert_eq!(deal_target(&circles::Post::default()), None);
    }
}
