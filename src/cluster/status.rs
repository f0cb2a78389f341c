//! `GET /cluster` and `/-/ready` as pure functions of what a node knows: the placement, the
//! live members, and each partition's applied position and last stored sequence.
//!
//! The HTTP edge gathers the inputs (the placement watch, [`super::Membership::members`], the
//! owners' answers and [`super::Jet::last_sequence`]) and renders [`ClusterView::to_json`];
//! `/-/ready` answers 200 when [`ClusterView::ready`] is `Ok`, else 503 with its reasons.

use super::Placement;
use serde_json::{json, Value};
use std::time::Duration;

/// How far behind the last stored sequence a partition's owner may be and still count as
/// caught up for `/-/ready` (in messages: one message is one ingest's share of a partition).
pub const DEFAULT_READY_LAG: u64 = 64;
/// The most reasons a not-ready answer lists (then "and N more").
const MAX_REASONS: usize = 8;

/// One partition's progress: the last sequence its owner applied, and the last one stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The stream sequence the owner's state includes.
    pub applied: u64,
    /// The partition's last stored sequence.
    pub last: u64,
}

impl Progress {
    /// How many sequences the owner is behind (0 when caught up).
    pub fn lag(&self) -> u64 {
        self.last.saturating_sub(self.applied)
    }
}

/// Everything `GET /cluster` and `/-/ready` are computed from.
#[derive(Clone, Copy, Debug)]
pub struct ClusterView<'a> {
    /// The node answering.
    pub node: &'a str,
    /// Whether it has joined (its membership runs and a placement is known).
    pub joined: bool,
    /// The latest stored placement.
    pub placement: &'a Placement,
    /// Live members with the age of their last heartbeat.
    pub members: &'a [(String, Duration)],
    /// `progress[p]`: partition p's progress, `None` when its owner did not answer.
    pub progress: &'a [Option<Progress>],
    /// The lag still counted as caught up ([`DEFAULT_READY_LAG`] unless configured).
    pub max_lag: u64,
}

/// Why a node is not ready: one line per problem (the first few).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotReady {
    /// What is missing, e.g. `partition 3: owner n2 lags 120 behind`.
    pub reasons: Vec<String>,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reasons.join("; "))
    }
}

impl ClusterView<'_> {
    /// Ready when joined and every partition has an owner whose applied position is within
    /// `max_lag` of the partition's last sequence.
    pub fn ready(&self) -> Result<(), NotReady> {
        let mut reasons = Vec::new();
        if !self.joined {
            reasons.push("this node has not joined the cluster".to_owned());
        }
        if self.placement.owners.is_empty() {
            reasons.push("no placement stored yet".to_owned());
        }
        for (p, owner) in self.placement.owners.iter().enumerate() {
            if let Some(problem) = self.partition_problem(p, owner) {
                reasons.push(format!("partition {p}: {problem}"));
            }
        }
        if reasons.is_empty() {
            return Ok(());
        }
        if reasons.len() > MAX_REASONS {
            let more = reasons.len() - MAX_REASONS;
            reasons.truncate(MAX_REASONS);
            reasons.push(format!("and {more} more"));
        }
        Err(NotReady { reasons })
    }

    fn partition_problem(&self, p: usize, owner: &str) -> Option<String> {
        if owner.is_empty() {
            return Some("no owner".to_owned());
        }
        match self.progress.get(p).copied().flatten() {
            None => Some(format!("owner {owner} has not reported its position")),
            Some(pr) if pr.lag() > self.max_lag => Some(format!(
                "owner {owner} lags {} behind (applied {}, last {})",
                pr.lag(),
                pr.applied,
                pr.last
            )),
            Some(_) => None,
        }
    }

    /// The body of `GET /cluster`: the node, the epoch, the members (live, with heartbeat
    /// age, and whether placed), and per partition its owner, epoch, applied position, last
    /// sequence and lag (`null` where unknown), with the readiness verdict.
    pub fn to_json(&self) -> Value {
        let placement = self.placement;
        let mut names: Vec<&str> = self.members.iter().map(|(n, _)| n.as_str()).collect();
        names.extend(placement.members.iter().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        let members: Vec<Value> = names
            .iter()
            .map(|name| {
                let age = self.members.iter().find(|(n, _)| n == name).map(|(_, a)| a);
                json!({
                    "node": name,
                    "alive": age.is_some(),
                    "last_heartbeat_ms": age.map(|a| a.as_millis() as u64),
                    "placed": placement.members.iter().any(|m| m == name),
                })
            })
            .collect();
        let partitions: Vec<Value> = placement
            .owners
            .iter()
            .enumerate()
            .map(|(p, owner)| {
                let progress = self.progress.get(p).copied().flatten();
                json!({
                    "partition": p,
                    "owner": (!owner.is_empty()).then_some(owner),
                    "epoch": placement.epoch,
                    "applied": progress.map(|pr| pr.applied),
                    "last": progress.map(|pr| pr.last),
                    "lag": progress.map(|pr| pr.lag()),
                })
            })
            .collect();
        let ready = self.ready();
        json!({
            "node": self.node,
            "joined": self.joined,
            "epoch": placement.epoch,
            "members": members,
            "partitions": partitions,
            "ready": ready.is_ok(),
            "not_ready": ready.err().map(|r| r.reasons),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement() -> Placement {
        Placement {
            epoch: 4,
            members: vec!["n1".into(), "n2".into()],
            owners: vec!["n1".into(), "n2".into(), "n1".into()],
        }
    }

    fn members() -> Vec<(String, Duration)> {
        vec![
            ("n1".into(), Duration::from_millis(120)),
            ("n3".into(), Duration::from_millis(40)),
        ]
    }

    fn view<'a>(
        placement: &'a Placement,
        members: &'a [(String, Duration)],
        progress: &'a [Option<Progress>],
    ) -> ClusterView<'a> {
        ClusterView {
            node: "n1",
            joined: true,
            placement,
            members,
            progress,
            max_lag: 10,
        }
    }

    fn at(applied: u64, last: u64) -> Option<Progress> {
        Some(Progress { applied, last })
    }

    #[test]
    fn ready_when_every_owner_is_caught_up() {
        let (p, m) = (placement(), members());
        let progress = [at(5, 5), at(0, 0), at(95, 105)];
        assert_eq!(view(&p, &m, &progress).ready(), Ok(()));
    }

    #[test]
    fn not_ready_names_each_problem() {
        let (p, m) = (placement(), members());
        let progress = [at(5, 5), None, at(90, 105)];
        let mut v = view(&p, &m, &progress);
        v.joined = false;
        let reasons = v.ready().unwrap_err().reasons;
        assert_eq!(
            reasons,
            vec![
                "this node has not joined the cluster",
                "partition 1: owner n2 has not reported its position",
                "partition 2: owner n1 lags 15 behind (applied 90, last 105)",
            ]
        );
    }

    #[test]
    fn no_owner_or_no_placement_is_not_ready() {
        let m = members();
        let empty = Placement::compute(0, vec![], 2);
        let reasons = view(&empty, &m, &[at(0, 0), at(0, 0)]).ready().unwrap_err();
        assert_eq!(
            reasons.to_string(),
            "partition 0: no owner; partition 1: no owner"
        );
        let none = Placement {
            epoch: 0,
            members: vec![],
            owners: vec![],
        };
        assert!(view(&none, &m, &[]).ready().is_err());
    }

    #[test]
    fn a_long_list_of_reasons_is_cut() {
        let p = Placement::compute(1, vec!["a".into()], 20);
        let reasons = view(&p, &[], &[]).ready().unwrap_err().reasons;
        assert_eq!(reasons.len(), MAX_REASONS + 1);
        assert_eq!(reasons.last().unwrap(), "and 12 more");
    }

    #[test]
    fn the_cluster_body() {
        let (p, m) = (placement(), members());
        let progress = [at(5, 5), None, at(90, 105)];
        let body = view(&p, &m, &progress).to_json();
        assert_eq!(
            body,
            json!({
                "node": "n1",
                "joined": true,
                "epoch": 4,
                "members": [
                    {"node": "n1", "alive": true, "last_heartbeat_ms": 120, "placed": true},
                    {"node": "n2", "alive": false, "last_heartbeat_ms": null, "placed": true},
                    {"node": "n3", "alive": true, "last_heartbeat_ms": 40, "placed": false},
                ],
                "partitions": [
                    {"partition": 0, "owner": "n1", "epoch": 4, "applied": 5, "last": 5, "lag": 0},
                    {"partition": 1, "owner": "n2", "epoch": 4, "applied": null, "last": null, "lag": null},
                    {"partition": 2, "owner": "n1", "epoch": 4, "applied": 90, "last": 105, "lag": 15},
                ],
                "ready": false,
                "not_ready": [
                    "partition 1: owner n2 has not reported its position",
                    "partition 2: owner n1 lags 15 behind (applied 90, last 105)",
                ],
            })
        );
    }
}
