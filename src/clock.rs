//! Injected time: a [`Clock`] trait with a real [`SystemClock`] and a [`ManualClock`] for tests,
//! so that EWMA decay, window rollover and retention are tested exactly, never with sleeps.
//! The actors' timers (expiry, snapshots, bucket flushes, entity sweeps) run on the clock's
//! [`Clock::ticks`] through [`run_every`]: on a manual clock they fire when the test moves it.

use actix::{Actor, ActorStreamExt, AsyncContext, Context};
use futures_util::{Stream, StreamExt};
use parking_lot::Mutex;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_stream::wrappers::{IntervalStream, WatchStream};

/// A timer's ticks: one item each time a period of the clock's time has passed.
pub type Ticks = Pin<Box<dyn Stream<Item = ()> + Send>>;

/// A source of time: a monotonic reading for intervals and a wall-clock reading for timestamps.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since an arbitrary fixed start; never goes backwards.
    fn monotonic_nanos(&self) -> u64;
    /// Milliseconds since the Unix epoch (negative before 1970), as the wall clock says.
    fn epoch_millis(&self) -> i64;

    /// A tick every `period` of this clock's time, the first one `period` from now; ticks
    /// missed while the receiver was busy are not made up. Real time by default; must be
    /// called inside a tokio runtime (an actor's `started`).
    fn ticks(&self, period: Duration) -> Ticks {
        // A zero period would make tokio panic; config validation refuses it, but fields are public.
        let period = period.max(Duration::from_nanos(1));
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Box::pin(IntervalStream::new(every).map(|_| ()))
    }
}

/// Runs `f` on the actor every `period` of `clock`'s time (as `run_interval` does on real
/// time).
pub fn run_every<A>(
    ctx: &mut Context<A>,
    clock: &SharedClock,
    period: Duration,
    mut f: impl FnMut(&mut A, &mut Context<A>) + 'static,
) where
    A: Actor<Context = Context<A>>,
{
    let ticks = actix::fut::wrap_stream::<_, A>(clock.ticks(period));
    ctx.spawn(ticks.map(move |(), act, ctx| f(act, ctx)).finish());
}

/// A clock shared among actors and structs.
pub type SharedClock = Arc<dyn Clock>;

/// Where [`SystemClock`]'s monotonic reading starts: 2⁶² ns (about 146 years). State restored
/// from a snapshot keeps its ages by lying in the past of a new process's clock, so the
/// clock starts far enough from 0 for any age to fit (and still has 438 years to run).
pub const MONOTONIC_ORIGIN: u64 = 1 << 62;

/// The real clock: monotonic time from [`Instant`] ([`MONOTONIC_ORIGIN`] when the clock is
/// created) and epoch time from [`SystemTime`].
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock whose monotonic reading starts at [`MONOTONIC_ORIGIN`] now.
    pub fn new() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }

    /// The clock behind an [`Arc`], ready to be handed out.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn monotonic_nanos(&self) -> u64 {
        // u64 nanoseconds last 584 years; saturate rather than wrap beyond that.
        u64::try_from(self.start.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(MONOTONIC_ORIGIN)
    }

    fn epoch_millis(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that moves only when told to. Clones share the same time, so a test keeps one
/// handle and gives another to the code under test.
///
/// [`advance`](ManualClock::advance) moves the monotonic and the epoch readings together.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualTime>>,
    /// The monotonic reading, sent on every move (for [`Clock::ticks`]).
    moved: Arc<watch::Sender<u64>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            inner: Arc::default(),
            moved: Arc::new(watch::Sender::new(0)),
        }
    }
}

#[derive(Debug, Default)]
struct ManualTime {
    monotonic_nanos: u64,
    /// Epoch time in nanoseconds, so that sub-millisecond advances add up.
    epoch_nanos: i128,
}

impl ManualClock {
    /// A clock at monotonic 0 and epoch 0 (1970-01-01T00:00:00Z).
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// A clock at monotonic 0 whose epoch reading is `epoch_millis`.
    pub fn starting_at(epoch_millis: i64) -> Self {
        let clock = ManualClock::new();
        clock.set_epoch_millis(epoch_millis);
        clock
    }

    /// Moves both readings forward by `by` (the monotonic one saturates at `u64::MAX`).
    pub fn advance(&self, by: Duration) {
        let nanos = by.as_nanos();
        let now = {
            let mut time = self.inner.lock();
            let monotonic = u128::from(time.monotonic_nanos).saturating_add(nanos);
            time.monotonic_nanos = u64::try_from(monotonic).unwrap_or(u64::MAX);
            time.epoch_nanos = time
                .epoch_nanos
                .saturating_add(i128::try_from(nanos).unwrap_or(i128::MAX));
            time.monotonic_nanos
        };
        self.moved.send_replace(now);
    }

    /// Sets the epoch reading, leaving the monotonic one where it is (as an NTP step would).
    pub fn set_epoch_millis(&self, epoch_millis: i64) {
        self.inner.lock().epoch_nanos = i128::from(epoch_millis) * 1_000_000;
    }

    /// This clock behind an [`Arc<dyn Clock>`](SharedClock), sharing time with `self`.
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn monotonic_nanos(&self) -> u64 {
        self.inner.lock().monotonic_nanos
    }

    fn epoch_millis(&self) -> i64 {
        let millis = self.inner.lock().epoch_nanos.div_euclid(1_000_000);
        i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX })
    }

    /// Ticks when [`advance`](ManualClock::advance) has moved the clock a period or more past
    /// the last tick (one tick however far it moved); never on real time. The first period
    /// counts from when the receiver subscribed (an actor's `started`): a test moves the clock
    /// only after the server answered a request, so every actor is running.
    fn ticks(&self, period: Duration) -> Ticks {
        let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
        let mut due = self.monotonic_nanos().saturating_add(period);
        let moves = WatchStream::new(self.moved.subscribe());
        Box::pin(moves.filter_map(move |now| {
            let tick = now >= due;
            if tick {
                due = now.saturating_add(period);
            }
            std::future::ready(tick.then_some(()))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_advances_both_readings_and_clones_share_time() {
        let clock = ManualClock::starting_at(1_700_000_000_000);
        let handle: SharedClock = clock.shared();
        clock.advance(Duration::from_millis(1500));
        assert_eq!(handle.monotonic_nanos(), 1_500_000_000);
        assert_eq!(handle.epoch_millis(), 1_700_000_001_500);

        // Sub-millisecond steps add up on the epoch reading too.
        for _ in 0..4 {
            clock.advance(Duration::from_micros(250));
        }
        assert_eq!(handle.epoch_millis(), 1_700_000_001_501);
        assert_eq!(handle.monotonic_nanos(), 1_501_000_000);
    }

    #[test]
    fn manual_ticks_follow_the_clock_not_real_time() {
        let clock = ManualClock::new();
        let mut ticks = clock.ticks(Duration::from_secs(1));
        let next = |ticks: &mut Ticks| {
            futures_util::FutureExt::now_or_never(futures_util::StreamExt::next(ticks))
        };
        assert_eq!(next(&mut ticks), None, "no tick before the clock moves");
        clock.advance(Duration::from_millis(600));
        assert_eq!(next(&mut ticks), None, "600 ms is not a period");
        clock.advance(Duration::from_millis(400));
        assert_eq!(next(&mut ticks), Some(Some(())));
        // A long move is one tick; the next period counts from it.
        clock.advance(Duration::from_secs(10));
        assert_eq!(next(&mut ticks), Some(Some(())));
        clock.advance(Duration::from_millis(999));
        assert_eq!(next(&mut ticks), None);
    }

    #[test]
    fn set_epoch_leaves_monotonic_alone() {
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(3));
        clock.set_epoch_millis(-5);
        assert_eq!(clock.epoch_millis(), -5);
        assert_eq!(clock.monotonic_nanos(), 3_000_000_000);
        clock.advance(Duration::from_millis(10));
        assert_eq!(clock.epoch_millis(), 5);
    }

    #[test]
    fn system_clock_is_monotonic_and_near_now() {
        let clock = SystemClock::new();
        let a = clock.monotonic_nanos();
        let b = clock.monotonic_nanos();
        assert!(b >= a);
        // After 2020-01-01 and before 2200-01-01.
        let now = clock.epoch_millis();
        assert!(now > 1_577_836_800_000 && now < 7_258_118_400_000);
    }
}
