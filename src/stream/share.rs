//! Sharing frames among groups: a frame younger than the sharing window serves every group
//! that ticks meanwhile, and groups that tick while a read is under way wait for it. However
//! many subscribers and periods there are, the shards are read at most once per window (plus
//! one read of the shards when a frame without them was under way).

use super::frame::Frame;
use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a frame serves groups that tick after it was read.
pub const SHARE_WINDOW: Duration = Duration::from_millis(50);

/// What a ticking group should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Publish this recent frame.
    Serve(Arc<Frame>),
    /// Start a read (of the shards too when `services`), then call [`Sharing::done`].
    Read {
        /// Whether to read the shards.
        services: bool,
    },
    /// A read is under way; [`Sharing::done`] will name this group.
    Wait,
}

/// What to do when a read ends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Done {
    /// Groups to serve from the frame just read.
    pub serve: Vec<Duration>,
    /// Groups that need the shards, which the read just ended did not include: start a read
    /// with services for them (they stay waiting).
    pub read_services: bool,
}

/// The latest frame and the read under way.
#[derive(Debug, Default)]
pub struct Sharing {
    latest: Option<(Instant, Arc<Frame>)>,
    /// `Some(services)` while a read is under way.
    reading: Option<bool>,
    waiting: Vec<Duration>,
    deferred: Vec<Duration>,
}

impl Sharing {
    /// The group of `period` ticks at `now`; `services` when a member may want pushed metrics.
    pub fn want(&mut self, period: Duration, services: bool, now: Instant) -> Next {
        if let Some((at, frame)) = &self.latest {
            let fresh = now.saturating_duration_since(*at) < SHARE_WINDOW;
            if fresh && (frame.has_services || !services) {
                return Next::Serve(frame.clone());
            }
        }
        match self.reading {
            Some(with) if with || !services => {
                push_once(&mut self.waiting, period);
                Next::Wait
            }
            Some(_) => {
                push_once(&mut self.deferred, period);
                Next::Wait
            }
            None => {
                self.reading = Some(services);
                push_once(&mut self.waiting, period);
                Next::Read { services }
            }
        }
    }

    /// A read ended at `now` with `frame` (`None` when it failed: its groups skip this tick).
    pub fn done(&mut self, frame: Option<Arc<Frame>>, now: Instant) -> Done {
        let served = mem::take(&mut self.waiting);
        let serve = match frame {
            Some(frame) => {
                self.latest = Some((now, frame));
                served
            }
            None => Vec::new(),
        };
        self.reading = None;
        let read_services = !self.deferred.is_empty();
        if read_services {
            self.waiting = mem::take(&mut self.deferred);
            self.reading = Some(true);
        }
        Done {
            serve,
            read_services,
        }
    }

    /// Forgets a group that closed while waiting.
    pub fn forget(&mut self, period: Duration) {
        self.waiting.retain(|p| *p != period);
        self.deferred.retain(|p| *p != period);
    }
}

fn push_once(groups: &mut Vec<Duration>, period: Duration) {
    if !groups.contains(&period) {
        groups.push(period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn frame(services: bool) -> Arc<Frame> {
        Arc::new(Frame::build(0, &[], services.then(Vec::new)))
    }

    #[test]
    fn one_read_serves_every_group_of_the_window() {
        let t0 = Instant::now();
        let mut s = Sharing::default();
        assert_eq!(s.want(100 * MS, true, t0), Next::Read { services: true });
        assert_eq!(s.want(200 * MS, false, t0), Next::Wait);
        assert_eq!(s.want(100 * MS, true, t0 + MS), Next::Wait);
        let done = s.done(Some(frame(true)), t0 + 2 * MS);
        assert_eq!(done.serve, vec![100 * MS, 200 * MS]);
        assert!(!done.read_services);
        assert!(matches!(
            s.want(300 * MS, true, t0 + 40 * MS),
            Next::Serve(_)
        ));
        assert_eq!(
            s.want(300 * MS, false, t0 + 60 * MS),
            Next::Read { services: false }
        );
    }

    #[test]
    fn a_read_without_services_does_not_serve_those_who_want_them() {
        let t0 = Instant::now();
        let mut s = Sharing::default();
        assert_eq!(s.want(MS, false, t0), Next::Read { services: false });
        assert_eq!(s.want(2 * MS, true, t0), Next::Wait);
        let done = s.done(Some(frame(false)), t0);
        assert_eq!(done.serve, vec![MS]);
        assert!(done.read_services);
        // The frame without services is fresh, but not for groups that want services.
        assert_eq!(s.want(3 * MS, true, t0), Next::Wait);
        assert!(matches!(s.want(4 * MS, false, t0), Next::Serve(_)));
        let done = s.done(Some(frame(true)), t0);
        assert_eq!(done.serve, vec![2 * MS, 3 * MS]);
        assert!(!done.read_services);
    }

    #[test]
    fn failed_reads_serve_nobody_and_forgotten_groups_are_not_served() {
        let t0 = Instant::now();
        let mut s = Sharing::default();
        s.want(MS, true, t0);
        s.want(2 * MS, true, t0);
        s.forget(2 * MS);
        assert_eq!(s.done(None, t0), Done::default());
        assert_eq!(s.want(MS, true, t0), Next::Read { services: true });
    }
}
