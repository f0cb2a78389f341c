//! What a node needs to know to join a cluster: where NATS is, its own name, and the shape of the
//! log (partitions, replicas) and of membership (heartbeat, member TTL).

use super::ClusterError;
use std::time::Duration;

/// The partition count a new cluster gets unless the pipeline says otherwise.
pub const DEFAULT_PARTITIONS: u32 = 16;
/// The stream replica count a new cluster gets unless the pipeline says otherwise.
pub const DEFAULT_REPLICAS: usize = 3;
/// How often a member says it is alive.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a silent member stays a member.
pub const DEFAULT_MEMBER_TTL: Duration = Duration::from_secs(5);
/// How long an owner holds a part of a batch over several partitions without the batch's
/// commit or abort marker before it settles the outcome itself (aborting a batch whose
/// ingesting node died before committing it).
pub const DEFAULT_COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most partitions a cluster may have (a partition is a subject and a checkpoint each).
pub const MAX_PARTITIONS: u32 = 4096;

/// A node's cluster settings (`--cluster`, `--node`, and `[cluster]` in the pipeline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The NATS servers, e.g. `nats://127.0.0.1:4222`; the client fails over between them.
    pub urls: Vec<String>,
    /// This node's name, `[A-Za-z0-9_-]{1,64}`, unique in the cluster.
    pub node: String,
    /// The number of partitions, fixed for the life of the event stream.
    pub partitions: u32,
    /// The replica count of the streams when meterd creates them (1 to 5, at most the number of
    /// servers in the NATS cluster).
    pub replicas: usize,
    /// How often this node heartbeats (and re-checks membership and placement).
    pub heartbeat: Duration,
    /// A member silent this long is gone and its partitions move.
    pub member_ttl: Duration,
    /// How long an owner holds a batch's pending part before it settles the batch's outcome
    /// (see [`DEFAULT_COMMIT_TIMEOUT`]).
    pub commit_timeout: Duration,
}

impl ClusterSettings {
    /// Settings with every default for the given servers and node name.
    pub fn new(urls: Vec<String>, node: impl Into<String>) -> ClusterSettings {
        ClusterSettings {
            urls,
            node: node.into(),
            partitions: DEFAULT_PARTITIONS,
            replicas: DEFAULT_REPLICAS,
            heartbeat: DEFAULT_HEARTBEAT,
            member_ttl: DEFAULT_MEMBER_TTL,
            commit_timeout: DEFAULT_COMMIT_TIMEOUT,
        }
    }

    /// Splits a `--cluster` value (`nats://h1:4222,nats://h2:4222`) into its URLs, trimming
    /// blanks and dropping empty items.
    pub fn parse_urls(list: &str) -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Checks every field; all problems are named in one [`ClusterError::Config`].
    pub fn validate(&self) -> Result<(), ClusterError> {
        let mut problems = Vec::new();
        if self.urls.is_empty() {
            problems.push("no NATS server URL given".to_owned());
        }
        if !valid_node_name(&self.node) {
            problems.push(format!(
                "node name {:?} must be 1 to 64 of A-Z a-z 0-9 _ -",
                self.node
            ));
        }
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            problems.push(format!(
                "partitions is {}, must be 1 to {MAX_PARTITIONS}",
                self.partitions
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            problems.push(format!(
                "replicas is {}, must be 1 to 5 (JetStream's limit)",
                self.replicas
            ));
        }
        if self.heartbeat.is_zero() {
            problems.push("heartbeat must be above zero".to_owned());
        }
        if self.member_ttl < self.heartbeat * 2 {
            problems.push(format!(
                "member_ttl ({:?}) must be at least twice the heartbeat ({:?})",
                self.member_ttl, self.heartbeat
            ));
        }
        if self.commit_timeout < Duration::from_secs(1) {
            problems.push(format!(
                "commit_timeout ({:?}) must be at least 1 s",
                self.commit_timeout
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ClusterError::Config(problems.join("; ")))
        }
    }
}

/// Whether `name` can name a node: it becomes part of a NATS subject.
pub fn valid_node_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = ClusterSettings::new(vec!["nats://127.0.0.1:4222".into()], "n1");
        assert_eq!(s.partitions, 16);
        assert_eq!(s.replicas, 3);
        s.validate().unwrap();
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut s = ClusterSettings::new(vec![], "bad.name");
        s.partitions = 0;
        s.replicas = 7;
        s.member_ttl = s.heartbeat;
        s.commit_timeout = Duration::ZERO;
        let Err(ClusterError::Config(msg)) = s.validate() else {
            panic!("invalid settings accepted")
        };
        for part in [
            "URL",
            "node name",
            "partitions",
            "replicas",
            "member_ttl",
            "commit_timeout",
        ] {
            assert!(msg.contains(part), "{part} missing from {msg}");
        }
    }

    #[test]
    fn node_names_become_subject_tokens() {
        assert!(valid_node_name("node-1_a"));
        for bad in ["", "a.b", "a*", "a>", "a b", &"x".repeat(65)] {
            assert!(!valid_node_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn urls_split_on_commas() {
        assert_eq!(
            ClusterSettings::parse_urls(" nats://a:1, ,nats://b:2 "),
            vec!["nats://a:1", "nats://b:2"]
        );
    }
}
