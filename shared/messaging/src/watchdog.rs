//! A consumer's watch over its group: what to do when the group's events wait and the broker's
//! group bookkeeping, not the consumer, is what holds them back.
//!
//! tansu 0.6.0 (the local and CI broker) has two such faults, both seen under the chaos harness
//! (docs/reliability.md):
//! - A group whose leader vanished without leaving (a consumer killed, or one whose session
//!   timed out while the broker was slow) is formed by the first follower's SyncGroup once the
//!   dead leader's session expired (`Inner<Forming>::sync` accepts any member when there is no
//!   leader), and a follower carries no assignments: the group is stable with partitions
//!   assigned to nobody, for good.
//! - A commit sent while the group rebalances can be lost without an error reaching us (commits
//!   are asynchronous), and nothing commits that partition again until a new event arrives.
//!
//! Apache Kafka (production) does neither. The watchdog is cheap and harmless there.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use crate::lag::PartitionProgress;

/// How long the group, formed, may leave waiting events on partitions this member does not
/// hold, with no member committing anything, before this member leaves and joins the group
/// again. As the leader of a fresh generation it assigns every partition. A member that is
/// merely spare (more members than partitions) sees the others commit, and stays. Only a formed
/// group is left: tansu 0.6.0 keeps a leader that leaves a group being formed as its leader for
/// good, and that group never forms again.
pub const STRANDED_AFTER: Duration = Duration::from_secs(15);
/// How long the broker may show a partition of ours stuck behind what we applied and committed
/// before we commit it again.
pub const LOST_COMMIT_AFTER: Duration = Duration::from_secs(3);
const CHECK_EVERY: Duration = Duration::from_secs(1);

pub type Partition = (String, i32);

/// What the consumer should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Commit these offsets again (the broker lost the commits).
    Recommit(Vec<(Partition, i64)>),
    /// Leave the group and join it again as a new member.
    Rejoin,
}

#[derive(Default)]
pub struct GroupWatch {
    checked: Option<Instant>,
    /// Since when events wait on partitions we do not hold with nobody committing, and the sum
    /// of the group's committed offsets then.
    stranded: Option<(Instant, i64)>,
    /// Our partitions the broker shows behind what we committed, since when, and at what
    /// committed offset (a commit the broker applies meanwhile starts the wait again).
    behind: HashMap<Partition, (Instant, i64)>,
}

impl GroupWatch {
    /// `formed`: the member's last rebalance event was an assignment; `owned`: partitions
    /// assigned to this member; `applied`: the next offset after the last event this member
    /// applied, per partition; `progress`: the group's figures (empty when none were measured
    /// yet).
    pub fn check(
        &mut self,
        now: Instant,
        formed: bool,
        owned: &HashSet<Partition>,
        applied: &HashMap<Partition, i64>,
        progress: &[PartitionProgress],
    ) -> Action {
        if self.checked.is_some_and(|t| now.duration_since(t) < CHECK_EVERY) || progress.is_empty() {
            return Action::Nothing;
        }
        self.checked = Some(now);

        let mut recommit = Vec::new();
        let mut still_behind = HashMap::new();
        for p in progress {
            let key = (p.topic.clone(), p.partition);
            let Some(&next) = applied.get(&key) else { continue };
            if owned.contains(&key) && next > p.committed {
                let since = match self.behind.get(&key) {
                    Some(&(since, committed)) if committed == p.committed => since,
                    _ => now,
                };
                if now.duration_since(since) >= LOST_COMMIT_AFTER {
                    recommit.push((key, next));
                } else {
                    still_behind.insert(key, (since, p.committed));
                }
            }
        }
        self.behind = still_behind;
        if !recommit.is_empty() {
            return Action::Recommit(recommit);
        }

        let waiting_elsewhere = progress.iter().any(|p| p.lag > 0 && !owned.contains(&(p.topic.clone(), p.partition)));
        let committed: i64 = progress.iter().map(|p| p.committed).sum();
        match self.stranded {
            _ if !waiting_elsewhere || !formed => self.stranded = None,
            Some((since, before)) if before == committed => {
                if now.duration_since(since) >= STRANDED_AFTER {
                    self.stranded = None;
                    return Action::Rejoin;
                }
            }
            _ => self.stranded = Some((now, committed)),
        }
        Action::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    fn p(partition: i32, lag: i64, committed: i64) -> PartitionProgress {
        PartitionProgress { topic: "t".into(), partition, lag, committed }
    }

    fn key(partition: i32) -> Partition {
        ("t".into(), partition)
    }

    #[test]
    fn a_member_rejoins_only_while_events_wait_where_nobody_consumes() {
        let start = Instant::now();
        let none = HashSet::new();
        let applied = HashMap::new();
        let waiting = [p(0, 5, 100), p(1, 0, 40)];
        let end = STRANDED_AFTER.as_secs();
        let mut w = GroupWatch::default();
        assert_eq!(w.check(start, true, &none, &applied, &waiting), Action::Nothing);
        assert_eq!(w.check(at(start, end - 1), true, &none, &applied, &waiting), Action::Nothing);
        assert_eq!(
            w.check(at(start, end), true, &none, &applied, &waiting),
            Action::Rejoin,
            "stranded the whole window"
        );
        assert_eq!(
            w.check(at(start, end + 1), true, &none, &applied, &waiting),
            Action::Nothing,
            "a new window begins"
        );

        // Another member commits: this one is spare, not stranded.
        let mut w = GroupWatch::default();
        assert_eq!(w.check(start, true, &none, &applied, &waiting), Action::Nothing);
        let moving = [p(0, 4, 101), p(1, 0, 40)];
        assert_eq!(w.check(at(start, end / 2), true, &none, &applied, &moving), Action::Nothing);
        assert_eq!(w.check(at(start, end + 1), true, &none, &applied, &moving), Action::Nothing);

        // Mid-rebalance (the last event a revocation): never, however long.
        let mut w = GroupWatch::default();
        for secs in [0, end, 2 * end] {
            assert_eq!(w.check(at(start, secs), false, &none, &applied, &waiting), Action::Nothing);
        }

        // Events wait only on our own partition (we are busy with them), nothing waits, or no
        // figures yet: never.
        let mine: HashSet<Partition> = [key(0)].into();
        for (owned, progress) in [(&mine, &waiting[..]), (&none, &[p(0, 0, 7)][..]), (&none, &[][..])] {
            let mut w = GroupWatch::default();
            for secs in [0, end, 2 * end] {
                assert_eq!(w.check(at(start, secs), true, owned, &applied, progress), Action::Nothing);
            }
        }
    }

    #[test]
    fn a_commit_the_broker_lost_is_sent_again() {
        let start = Instant::now();
        let mine: HashSet<Partition> = [key(0), key(1)].into();
        let applied: HashMap<Partition, i64> = [(key(0), 120), (key(1), 40)].into();
        let progress = [p(0, 20, 100), p(1, 0, 40)];
        let mut w = GroupWatch::default();
        assert_eq!(w.check(start, true, &mine, &applied, &progress), Action::Nothing, "a commit may be in flight");
        assert_eq!(w.check(at(start, 2), true, &mine, &applied, &progress), Action::Nothing);
        let after = at(start, LOST_COMMIT_AFTER.as_secs());
        assert_eq!(w.check(after, true, &mine, &applied, &progress), Action::Recommit(vec![(key(0), 120)]));
        // The broker moves on (commits arrive while events keep coming): no need.
        let mut w = GroupWatch::default();
        for (secs, committed) in [(0, 100), (2, 105), (4, 110), (6, 115)] {
            let flowing = [p(0, 20, committed), p(1, 0, 40)];
            assert_eq!(w.check(at(start, secs), true, &mine, &applied, &flowing), Action::Nothing);
        }
        // Caught up: nothing more.
        let caught_up = [p(0, 0, 120), p(1, 0, 40)];
        assert_eq!(w.check(at(start, 10), true, &mine, &applied, &caught_up), Action::Nothing);
        // Not ours any more: not ours to commit.
        let theirs: HashSet<Partition> = [key(1)].into();
        let mut w = GroupWatch::default();
        for secs in [0, 5, 10] {
            assert_eq!(w.check(at(start, secs), true, &theirs, &applied, &progress), Action::Nothing);
        }
    }
}
