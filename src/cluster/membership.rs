//! [`Membership`]: this node's heartbeats, its view of the other members, and the placement
//! kept in step with them by compare-and-set.
//!
//! Every `heartbeat`, a member stores its heartbeat (on a task of its own), and in a round
//! bounded below half the member TTL reads everyone's heartbeat, reads the placement, and
//! when the live member set (see [`super::nats::liveness`]) differs from the placement's
//! members proposes `Placement::compute(epoch + 1, ..)` on the condition that the placement
//! is still the one it read. Of racing proposals one is stored; the others read it again and
//! find nothing left to change (or propose again).

use super::nats::liveness::Liveness;
use super::{jet, ClusterError, ClusterSettings, Jet, Placement};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How many times one round re-reads and proposes again after losing a race.
const PROPOSALS_PER_ROUND: usize = 4;
/// The shortest bound on a heartbeat publish.
const MIN_BEAT_WITHIN: Duration = Duration::from_secs(1);

/// A node's membership in the cluster; dropping it stops the heartbeats (as a crash would:
/// the others move its partitions after `member_ttl`), [`Membership::leave`] moves them now.
pub struct Membership {
    jet: Jet,
    alive: Arc<Mutex<Vec<(String, Instant)>>>,
    task: JoinHandle<()>,
    /// The heartbeats, on their own task so that a slow round cannot silence this node.
    beats: JoinHandle<()>,
}

/// The state one member's rounds carry.
struct Rounds {
    jet: Jet,
    node: String,
    partitions: u32,
    ttl: Duration,
    liveness: Liveness,
    alive: Arc<Mutex<Vec<(String, Instant)>>>,
    placement: watch::Sender<Placement>,
    /// Since when the rounds have succeeded without a break (`None` after a failed one).
    watching_since: Option<Instant>,
    /// The last sequence seen of a heartbeat under this node's name from another process.
    twin_seq: Option<u64>,
}

impl Membership {
    /// Joins: heartbeats every `heartbeat`, watches the others, and whenever the live member
    /// set differs from the stored placement's members, proposes
    /// `Placement::compute(epoch + 1, ..)` by compare-and-set (a lost race re-reads and
    /// retries). Returns once a placement is stored; the receiver always holds the latest
    /// stored placement (read again every heartbeat).
    pub async fn join(
        jet: &Jet,
        s: &ClusterSettings,
    ) -> Result<(Membership, watch::Receiver<Placement>), ClusterError> {
        let alive = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = watch::channel(Placement::compute(0, vec![], s.partitions));
        let mut rounds = Rounds {
            jet: jet.clone(),
            node: s.node.clone(),
            partitions: s.partitions,
            ttl: s.member_ttl,
            liveness: Liveness::default(),
            alive: alive.clone(),
            placement: tx,
            watching_since: None,
            twin_seq: None,
        };
        // A publish lost with a dead server is given up after this, and the next heartbeat
        // goes through the reconnected client.
        let beat_within = s.heartbeat.max(MIN_BEAT_WITHIN);
        refuse_a_twin(jet, s).await?;
        jet.heartbeat(false, beat_within).await?;
        rounds.round().await?;
        let every = s.heartbeat;
        let beats = tokio::spawn(heartbeats(jet.clone(), every, beat_within));
        let round_within = round_bound(s.member_ttl);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let done = tokio::time::timeout(round_within, rounds.round())
                    .await
                    .unwrap_or_else(|_| {
                        Err(ClusterError::Unavailable(format!(
                            "a membership round took over {round_within:?}"
                        )))
                    });
                if let Err(e) = done {
                    rounds.watching_since = None;
                    tracing::warn!(node = %rounds.node, error = %e, "membership round failed");
                }
            }
        });
        Ok((
            Membership {
                jet: jet.clone(),
                alive,
                task,
                beats,
            },
            rx,
        ))
    }

    /// Live members now (name -> last heartbeat age), for GET /cluster, by name.
    pub fn members(&self) -> Vec<(String, Duration)> {
        let now = Instant::now();
        self.alive
            .lock()
            .iter()
            .map(|(n, at)| (n.clone(), now.saturating_duration_since(*at)))
            .collect()
    }

    /// Leaves at once (a last "leaving" heartbeat, then a placement without this node) so
    /// partitions move without waiting member_ttl. Failures are logged: the others drop this
    /// node after member_ttl anyway.
    pub async fn leave(self) {
        self.task.abort();
        self.beats.abort();
        let node = self.jet.settings().node.clone();
        if let Err(e) = self.jet.heartbeat(true, jet::REQUEST_TIMEOUT).await {
            tracing::warn!(%node, error = %e, "leaving heartbeat failed");
        }
        for _ in 0..PROPOSALS_PER_ROUND {
            let (seq, placement) = match self.jet.placement_with_seq().await {
                Ok((seq, Some(placement))) => (seq, placement),
                Ok((_, None)) => return,
                Err(e) => {
                    tracing::warn!(%node, error = %e, "leaving: reading the placement failed");
                    return;
                }
            };
            if !placement.members.contains(&node) {
                return;
            }
            let rest = placement
                .members
                .iter()
                .filter(|m| **m != node)
                .cloned()
                .collect();
            let next = Placement::compute(placement.epoch + 1, rest, placement.owners.len() as u32);
            match self.jet.store_placement(seq, &next).await {
                Ok(Some(_)) => return,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(%node, error = %e, "leaving: storing the placement failed");
                    return;
                }
            }
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.task.abort();
        self.beats.abort();
    }
}

/// The bound on one membership round: under half the member TTL, so a round stalled by an
/// election gives way to the next before a member could be judged by stale views.
fn round_bound(ttl: Duration) -> Duration {
    ttl * 9 / 20
}

/// Refuses to join ([`ClusterError::Config`]) while another live process heartbeats under this
/// node's name: a fresh heartbeat of another incarnation whose sequence moves on within three
/// heartbeats. (A predecessor killed a moment ago stays still, and is not a twin.)
async fn refuse_a_twin(jet: &Jet, s: &ClusterSettings) -> Result<(), ClusterError> {
    let other = |seen: Vec<super::nats::control::Seen>| {
        seen.into_iter()
            .find(|m| m.node == s.node && m.incarnation != jet.incarnation() && !m.leaving)
    };
    let Some(first) = other(jet.members_seen().await?) else {
        return Ok(());
    };
    if first.age >= s.member_ttl {
        return Ok(());
    }
    tokio::time::sleep(s.heartbeat * 3).await;
    match other(jet.members_seen().await?) {
        Some(later) if later.seq != first.seq => {
            tracing::error!(node = %s.node, other = %later.incarnation, "another running process uses this node name");
            Err(ClusterError::Config(format!(
                "node name {:?} is in use by another running process (incarnation {}): give \
                 each node its own name",
                s.node, later.incarnation
            )))
        }
        _ => Ok(()),
    }
}

/// Publishes this node's heartbeat every `every`, each acked within `within`.
async fn heartbeats(jet: Jet, every: Duration, within: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = jet.heartbeat(false, within).await {
            tracing::warn!(node = %jet.settings().node, error = %e, "heartbeat failed");
        }
    }
}

impl Rounds {
    /// One round: read the members and the placement, propose if they differ.
    async fn round(&mut self) -> Result<(), ClusterError> {
        self.liveness.touch(&self.node, Instant::now());
        let seen = self.jet.members_seen().await?;
        let mine = self.jet.incarnation();
        if let Some(twin) = seen
            .iter()
            .find(|m| m.node == self.node && m.incarnation != mine && !m.leaving)
        {
            if self
                .twin_seq
                .replace(twin.seq)
                .is_some_and(|s| s != twin.seq)
            {
                tracing::error!(node = %self.node, other = %twin.incarnation, "another running process heartbeats under this node's name");
            }
        }
        let now = Instant::now();
        let watching_since = *self.watching_since.get_or_insert(now);
        self.liveness.observe(&seen, now);
        *self.alive.lock() = self.liveness.alive(now, self.ttl);
        for _ in 0..PROPOSALS_PER_ROUND {
            let (seq, current) = self.jet.placement_with_seq().await?;
            let placed = current.as_ref().map_or(&[][..], |p| &p.members[..]);
            let wanted = self.liveness.proposed(
                placed,
                &self.node,
                Instant::now(),
                self.ttl,
                watching_since,
            );
            let fits = current
                .as_ref()
                .is_some_and(|p| p.members == wanted && p.owners.len() == self.partitions as usize);
            if fits {
                let current = current.expect("checked above");
                self.placement.send_if_modified(|held| {
                    let changed = *held != current;
                    *held = current;
                    changed
                });
                return Ok(());
            }
            let epoch = current.as_ref().map_or(0, |p| p.epoch) + 1;
            let next = Placement::compute(epoch, wanted, self.partitions);
            if self.jet.store_placement(seq, &next).await?.is_some() {
                tracing::info!(node = %self.node, epoch, members = ?next.members, "placement stored");
                self.placement.send_replace(next);
                return Ok(());
            }
        }
        Err(ClusterError::Unavailable(format!(
            "the placement changed under {PROPOSALS_PER_ROUND} proposals in a row"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_bounded_below_half_the_member_ttl() {
        for ttl in [Duration::from_millis(2500), Duration::from_secs(5)] {
            assert!(round_bound(ttl) < ttl / 2 && round_bound(ttl) >= ttl * 2 / 5);
        }
    }
}
