//! Who is alive, from the heartbeats seen so far — pure, so it is tested with made-up times.
//!
//! A member is alive while its heartbeat sequence changed less than `ttl` ago by this node's
//! clock (its first sighting is dated by the server's timestamp). The member set proposed for
//! the placement has a margin against flapping: a placed member is dropped only after `ttl`
//! of silence, and an unplaced one is added only while its last heartbeat is under `ttl / 2`
//! old, so two nodes whose views differ by a few milliseconds propose the same set. Silence is
//! counted only while this node could see heartbeats: from `watching_since`, the instant since
//! which its own rounds have succeeded without a break, so a control stream that was out of
//! reach for a while (a lost server, a leader election) does not make every member look dead.

use super::control::Seen;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What this node knows of one member.
#[derive(Clone, Debug)]
struct Track {
    seq: u64,
    changed: Instant,
    leaving: bool,
}

/// The members seen, by name.
#[derive(Clone, Debug, Default)]
pub struct Liveness {
    tracks: BTreeMap<String, Track>,
}

impl Liveness {
    /// Takes in the heartbeats as stored now, read at `now`.
    pub fn observe(&mut self, seen: &[Seen], now: Instant) {
        for s in seen {
            match self.tracks.get_mut(&s.node) {
                Some(t) if t.seq == s.seq => {}
                Some(t) => {
                    t.seq = s.seq;
                    t.changed = now;
                    t.leaving = s.leaving;
                }
                None => {
                    let changed = now.checked_sub(s.age).unwrap_or(now);
                    self.tracks.insert(
                        s.node.clone(),
                        Track {
                            seq: s.seq,
                            changed,
                            leaving: s.leaving,
                        },
                    );
                }
            }
        }
    }

    /// Notes at `now` that `node` (this one) just heartbeat, so it counts as alive even
    /// before its heartbeat is read back.
    pub fn touch(&mut self, node: &str, now: Instant) {
        let t = self.tracks.entry(node.to_owned()).or_insert(Track {
            seq: 0,
            changed: now,
            leaving: false,
        });
        t.changed = now;
        t.leaving = false;
    }

    /// The members alive at `now`, with the instant of their last heartbeat, by name.
    pub fn alive(&self, now: Instant, ttl: Duration) -> Vec<(String, Instant)> {
        self.tracks
            .iter()
            .filter(|(_, t)| !t.leaving && now.saturating_duration_since(t.changed) < ttl)
            .map(|(n, t)| (n.clone(), t.changed))
            .collect()
    }

    /// The member set to place at `now`, given the `placed` members: `me` always, a placed
    /// member until `ttl` of silence (counted from `watching_since` at the earliest), an
    /// unplaced one while its heartbeat is under `ttl / 2` old; leavers never. Sorted.
    pub fn proposed(
        &self,
        placed: &[String],
        me: &str,
        now: Instant,
        ttl: Duration,
        watching_since: Instant,
    ) -> Vec<String> {
        let mut out: Vec<String> = self
            .tracks
            .iter()
            .filter(|(n, t)| {
                if *n == me || t.leaving {
                    return false;
                }
                if placed.contains(n) {
                    now.saturating_duration_since(t.changed.max(watching_since)) < ttl
                } else {
                    now.saturating_duration_since(t.changed) < ttl / 2
                }
            })
            .map(|(n, _)| n.clone())
            .collect();
        out.push(me.to_owned());
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(node: &str, seq: u64, age_ms: u64, leaving: bool) -> Seen {
        Seen {
            node: node.into(),
            seq,
            age: Duration::from_millis(age_ms),
            leaving,
            incarnation: String::new(),
        }
    }

    const TTL: Duration = Duration::from_secs(5);
    /// Watching since long before every test's times.
    static T0: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

    #[test]
    fn a_silent_member_goes_after_the_ttl() {
        let t0 = Instant::now();
        let mut l = Liveness::default();
        l.observe(&[seen("a", 1, 0, false), seen("b", 2, 0, false)], t0);
        let placed = vec!["a".to_string(), "b".to_string(), "me".to_string()];
        assert_eq!(l.proposed(&placed, "me", t0, TTL, *T0), placed);
        // a keeps beating, b falls silent.
        let t1 = t0 + Duration::from_secs(4);
        l.observe(&[seen("a", 3, 0, false), seen("b", 2, 0, false)], t1);
        assert_eq!(l.proposed(&placed, "me", t1, TTL, *T0), placed);
        let t2 = t0 + Duration::from_secs(6);
        assert_eq!(l.proposed(&placed, "me", t2, TTL, *T0), vec!["a", "me"]);
        let alive: Vec<String> = l.alive(t2, TTL).into_iter().map(|(n, _)| n).collect();
        assert_eq!(alive, vec!["a"]);
    }

    #[test]
    fn an_old_heartbeat_at_first_sight_is_not_a_member() {
        let t0 = Instant::now() + Duration::from_secs(60);
        let mut l = Liveness::default();
        l.observe(
            &[seen("old", 1, 30_000, false), seen("new", 2, 100, false)],
            t0,
        );
        assert_eq!(l.proposed(&[], "me", t0, TTL, *T0), vec!["me", "new"]);
    }

    #[test]
    fn joining_needs_a_fresh_heartbeat_but_staying_does_not() {
        let t0 = Instant::now() + Duration::from_secs(60);
        let mut l = Liveness::default();
        l.observe(&[seen("x", 1, 3_000, false)], t0);
        // 3 s old: too old to join (ttl/2 = 2.5 s), young enough to stay.
        assert_eq!(l.proposed(&[], "me", t0, TTL, *T0), vec!["me"]);
        assert_eq!(
            l.proposed(&["x".into()], "me", t0, TTL, *T0),
            vec!["me", "x"]
        );
    }

    #[test]
    fn a_leaver_goes_at_once_and_can_come_back() {
        let t0 = Instant::now();
        let mut l = Liveness::default();
        l.observe(&[seen("a", 1, 0, false)], t0);
        l.observe(&[seen("a", 2, 0, true)], t0);
        assert_eq!(l.proposed(&["a".into()], "me", t0, TTL, *T0), vec!["me"]);
        l.observe(&[seen("a", 3, 0, false)], t0);
        assert_eq!(l.proposed(&[], "me", t0, TTL, *T0), vec!["a", "me"]);
    }

    #[test]
    fn silence_while_this_node_could_not_watch_does_not_count() {
        let t0 = *T0 + Duration::from_secs(60);
        let mut l = Liveness::default();
        l.observe(&[seen("a", 1, 0, false)], t0);
        let placed = vec!["a".to_string(), "me".to_string()];
        // 8 s without heartbeats, but this node only watches again since 1 s: a stays.
        let t1 = t0 + Duration::from_secs(8);
        let since = t1 - Duration::from_secs(1);
        assert_eq!(l.proposed(&placed, "me", t1, TTL, since), placed);
        // Once this node has watched a whole ttl without a heartbeat of a, a goes.
        let t2 = since + TTL;
        assert_eq!(l.proposed(&placed, "me", t2, TTL, since), vec!["me"]);
    }

    #[test]
    fn me_is_always_proposed_and_alive_once_touched() {
        let t0 = Instant::now();
        let mut l = Liveness::default();
        assert_eq!(l.proposed(&[], "me", t0, TTL, *T0), vec!["me"]);
        l.touch("me", t0);
        assert_eq!(l.alive(t0, TTL).len(), 1);
    }
}
