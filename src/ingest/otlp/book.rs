//! Cumulative points made into increments: the last cumulative value (or histogram) of each
//! series under its start time, so that repeated exports and exporter restarts never count
//! twice.

use super::buckets::Buckets;
use crate::model::SeriesKey;
use std::collections::HashMap;

/// What a cumulative point adds to its series.
#[derive(Debug, Clone, PartialEq)]
pub enum Advance<T> {
    /// The increment since the previous point of the same start time (or the whole value,
    /// for the first point of a start time meterd knows to be new).
    Counted(T),
    /// Nothing: the point only sets the baseline that later points are measured from.
    Baseline,
}

/// The last cumulative state of one series.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    /// `start_time_unix_nano` of the points it came from.
    start: u64,
    last: Last,
    /// Epoch ms it was last written (the least recently seen entries go first when full).
    seen_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
enum Last {
    Value(f64),
    Histogram {
        layout: u64,
        scale: Option<i32>,
        count: u64,
        sum: f64,
        buckets: Vec<(i64, u64)>,
    },
}

/// The last cumulative point of every series fed by cumulative OTLP sums and histograms.
///
/// Rules, per series (the mapped series key):
/// - same start time as the last point: the difference counts; a decrease (or a histogram
///   whose bucket layout changed) only sets a new baseline, since it cannot be told apart from
///   a reset that lost counts;
/// - a later start time (the exporter restarted): the whole value counts;
/// - an earlier start time: refused (a point from before the exporter's last restart);
/// - a series meterd has not seen: the whole value counts when its start time is after the
///   book was created (so nothing before it can have been counted), else it sets the baseline.
///   After a restart of meterd the book is empty: cumulative series already running then
///   resume from their next point, losing at most one export interval, never counting twice.
///
/// At `capacity` series the least recently seen eighth is forgotten (they then resume as
/// unseen series).
#[derive(Debug)]
pub struct CumulativeBook {
    entries: HashMap<SeriesKey, Entry, foldhash::fast::RandomState>,
    since_nanos: u64,
    capacity: usize,
}

/// What one request wrote into the book, to take back if its batch is refused.
#[derive(Debug, Default)]
pub struct Undo(Vec<(SeriesKey, Option<Entry>, Entry)>);

impl Undo {
    /// True when the request wrote nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl CumulativeBook {
    /// An empty book created at `now_ms` (epoch), holding at most `capacity` series.
    pub fn new(now_ms: i64, capacity: usize) -> Self {
        CumulativeBook {
            entries: HashMap::default(),
            since_nanos: u64::try_from(now_ms).unwrap_or(0).saturating_mul(1_000_000),
            capacity: capacity.max(8),
        }
    }

    /// Series held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no series is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Advances a cumulative monotonic sum.
    pub fn sum(
        &mut self,
        key: &SeriesKey,
        start: u64,
        value: f64,
        now_ms: i64,
        undo: &mut Undo,
    ) -> Result<Advance<f64>, String> {
        let advance = match self.previous(key, start)? {
            Previous::New => Advance::Counted(value),
            Previous::Unknown => Advance::Baseline,
            Previous::Same(Last::Value(last)) if value >= *last => Advance::Counted(value - last),
            Previous::Same(_) => Advance::Baseline,
        };
        self.write(key, start, Last::Value(value), now_ms, undo);
        Ok(advance)
    }

    /// Advances a cumulative histogram; a counted advance is the histogram of the values
    /// recorded since the previous point (min and max are the cumulative ones, which are
    /// those of every value meterd has counted for the series).
    pub fn histogram(
        &mut self,
        key: &SeriesKey,
        start: u64,
        point: Buckets,
        now_ms: i64,
        undo: &mut Undo,
    ) -> Result<Advance<Buckets>, String> {
        let last = Last::Histogram {
            layout: point.layout,
            scale: point.scale,
            count: point.count,
            sum: point.sum,
            buckets: point.buckets.iter().map(|b| (b.0, b.2)).collect(),
        };
        let advance = match self.previous(key, start)? {
            Previous::New => Advance::Counted(point),
            Previous::Unknown => Advance::Baseline,
            Previous::Same(prev) => match subtract(&point, prev) {
                Some(delta) => Advance::Counted(delta),
                None => Advance::Baseline,
            },
        };
        self.write(key, start, last, now_ms, undo);
        Ok(advance)
    }

    /// Takes back what a refused request wrote, where no later request has written since.
    pub fn undo(&mut self, undo: Undo) {
        for (key, before, written) in undo.0.into_iter().rev() {
            if self.entries.get(&key) != Some(&written) {
                continue;
            }
            match before {
                Some(entry) => {
                    self.entries.insert(key, entry);
                }
                None => {
                    self.entries.remove(&key);
                }
            }
        }
    }

    fn previous(&self, key: &SeriesKey, start: u64) -> Result<Previous<'_>, String> {
        match self.entries.get(key) {
            None if start != 0 && start >= self.since_nanos => Ok(Previous::New),
            None => Ok(Previous::Unknown),
            Some(e) if e.start == start => Ok(Previous::Same(&e.last)),
            Some(e) if start > e.start => Ok(Previous::New),
            Some(e) => Err(format!(
                "start time {start} is before the series' current start time {} (a point from \
                 before the exporter restarted)",
                e.start
            )),
        }
    }

    fn write(&mut self, key: &SeriesKey, start: u64, last: Last, now_ms: i64, undo: &mut Undo) {
        let entry = Entry {
            start,
            last,
            seen_ms: now_ms,
        };
        let before = match self.entries.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, entry.clone())),
            None => {
                if self.entries.len() >= self.capacity {
                    self.evict();
                }
                self.entries.insert(key.clone(), entry.clone());
                None
            }
        };
        undo.0.push((key.clone(), before, entry));
    }

    /// Forgets the least recently seen eighth of the series.
    fn evict(&mut self) {
        let mut seen: Vec<i64> = self.entries.values().map(|e| e.seen_ms).collect();
        let cut = seen.len() / 8;
        let (_, threshold, _) = seen.select_nth_unstable(cut);
        let threshold = *threshold;
        let mut dropped = 0;
        self.entries.retain(|_, e| {
            let drop = e.seen_ms < threshold || (e.seen_ms == threshold && dropped <= cut);
            dropped += usize::from(drop);
            !drop
        });
    }
}

enum Previous<'a> {
    /// The whole value counts.
    New,
    /// Nothing is known: the point is a baseline.
    Unknown,
    /// The last point of the same start time.
    Same(&'a Last),
}

/// `point - prev` for two cumulative histograms of one start time, or `None` when they do not
/// subtract (another layout, a count that went down, an exponential scale that went up). An
/// exponential histogram whose scale went down (the SDK halves its resolution as its range
/// grows) subtracts the previous buckets merged into the new scale.
fn subtract(point: &Buckets, prev: &Last) -> Option<Buckets> {
    let Last::Histogram {
        layout,
        scale,
        count,
        sum,
        buckets,
    } = prev
    else {
        return None;
    };
    if *layout != point.layout || point.count < *count {
        return None;
    }
    let merged;
    let buckets = match (*scale, point.scale) {
        (Some(from), Some(to)) if from > to => {
            let mut rescaled: Vec<(i64, u64)> = buckets
                .iter()
                .map(|&(id, n)| (super::buckets::rescale(id, from, to), n))
                .collect();
            rescaled.sort_by_key(|b| b.0);
            rescaled.dedup_by(|later, first| {
                let same = later.0 == first.0;
                if same {
                    first.1 += later.1;
                }
                same
            });
            merged = rescaled;
            &merged
        }
        (from, to) if from == to => buckets,
        _ => return None,
    };
    let mut before = buckets.iter().peekable();
    let mut delta = Vec::with_capacity(point.buckets.len());
    for &(id, rep, n) in &point.buckets {
        let mut was = 0;
        while let Some(&&(bid, bn)) = before.peek() {
            if bid < id {
                // A bucket that had values and has none now: counts went down.
                if bn > 0 {
                    return None;
                }
                before.next();
            } else {
                if bid == id {
                    was = bn;
                    before.next();
                }
                break;
            }
        }
        let d = n.checked_sub(was)?;
        if d > 0 {
            delta.push((id, rep, d));
        }
    }
    if before.any(|&(_, bn)| bn > 0) {
        return None;
    }
    Some(Buckets {
        layout: point.layout,
        scale: point.scale,
        buckets: delta,
        count: point.count - count,
        sum: point.sum - sum,
        min: point.min,
        max: point.max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;

    const T0: i64 = 1_700_000_000_000;
    const NS: u64 = 1_000_000;

    fn key(name: &str) -> SeriesKey {
        SeriesKey::simple(Scope::Application, name, vec![])
    }

    fn hist(buckets: &[(i64, u64)], sum: f64) -> Buckets {
        Buckets {
            layout: 7,
            scale: None,
            buckets: buckets.iter().map(|&(id, n)| (id, id as f64, n)).collect(),
            count: buckets.iter().map(|b| b.1).sum(),
            sum,
            min: 0.0,
            max: 9.0,
        }
    }

    #[test]
    fn repeated_exports_count_once_and_a_restart_counts_afresh() {
        let mut book = CumulativeBook::new(T0, 100);
        let mut undo = Undo::default();
        let start = T0 as u64 * NS + 5;
        let k = key("c");
        let mut add = |book: &mut CumulativeBook, start, v| book.sum(&k, start, v, T0, &mut undo);
        assert_eq!(add(&mut book, start, 5.0), Ok(Advance::Counted(5.0)));
        assert_eq!(add(&mut book, start, 5.0), Ok(Advance::Counted(0.0)));
        assert_eq!(add(&mut book, start, 8.0), Ok(Advance::Counted(3.0)));
        assert_eq!(
            add(&mut book, start, 2.0),
            Ok(Advance::Baseline),
            "a decrease"
        );
        assert_eq!(add(&mut book, start, 4.0), Ok(Advance::Counted(2.0)));
        // The exporter restarted: a new start time, counted from zero.
        assert_eq!(add(&mut book, start + 10, 1.0), Ok(Advance::Counted(1.0)));
        assert!(
            add(&mut book, start, 9.0).is_err(),
            "a point from before the restart"
        );
    }

    #[test]
    fn series_started_before_the_book_only_set_a_baseline() {
        let mut book = CumulativeBook::new(T0, 100);
        let mut undo = Undo::default();
        let old = (T0 as u64 - 1000) * NS;
        assert_eq!(
            book.sum(&key("c"), old, 50.0, T0, &mut undo),
            Ok(Advance::Baseline)
        );
        assert_eq!(
            book.sum(&key("c"), old, 52.0, T0, &mut undo),
            Ok(Advance::Counted(2.0))
        );
        assert_eq!(
            book.sum(&key("z"), 0, 3.0, T0, &mut undo),
            Ok(Advance::Baseline)
        );
    }

    #[test]
    fn undo_takes_back_only_what_no_one_has_overwritten() {
        let mut book = CumulativeBook::new(T0, 100);
        let start = T0 as u64 * NS;
        let mut first = Undo::default();
        book.sum(&key("a"), start, 5.0, T0, &mut first).unwrap();
        let mut refused = Undo::default();
        book.sum(&key("a"), start, 9.0, T0, &mut refused).unwrap();
        book.sum(&key("b"), start, 1.0, T0, &mut refused).unwrap();
        book.undo(refused);
        assert_eq!(book.len(), 1);
        let mut again = Undo::default();
        assert_eq!(
            book.sum(&key("a"), start, 9.0, T0, &mut again),
            Ok(Advance::Counted(4.0))
        );
        let mut late = Undo::default();
        book.sum(&key("a"), start, 10.0, T0, &mut late).unwrap();
        book.undo(again);
        let mut probe = Undo::default();
        assert_eq!(
            book.sum(&key("a"), start, 10.0, T0, &mut probe),
            Ok(Advance::Counted(0.0))
        );
    }

    #[test]
    fn histograms_subtract_bucket_by_bucket() {
        let mut book = CumulativeBook::new(T0, 100);
        let mut undo = Undo::default();
        let start = T0 as u64 * NS;
        let k = key("h");
        let first = hist(&[(1, 2), (3, 1)], 10.0);
        assert_eq!(
            book.histogram(&k, start, first.clone(), T0, &mut undo),
            Ok(Advance::Counted(first))
        );
        let Ok(Advance::Counted(d)) = book.histogram(
            &k,
            start,
            hist(&[(0, 1), (1, 2), (3, 4)], 25.0),
            T0,
            &mut undo,
        ) else {
            panic!("not counted");
        };
        assert_eq!(d.buckets, vec![(0, 0.0, 1), (3, 3.0, 3)]);
        assert_eq!((d.count, d.sum), (4, 15.0));
        // A bucket that lost values cannot be subtracted.
        let lost = book.histogram(
            &k,
            start,
            hist(&[(0, 1), (1, 1), (3, 9)], 30.0),
            T0,
            &mut undo,
        );
        assert_eq!(lost, Ok(Advance::Baseline));
    }

    #[test]
    fn an_exponential_histogram_that_lost_resolution_still_subtracts() {
        let mut book = CumulativeBook::new(T0, 100);
        let mut undo = Undo::default();
        let k = key("e");
        let exp = |scale, buckets: &[(i64, u64)]| Buckets {
            scale: Some(scale),
            ..hist(buckets, 0.0)
        };
        // Scale 1: positive buckets 2 and 3 (ids 9 and 13); then scale 0 merges them into 1.
        let first = exp(1, &[(9, 1), (13, 2)]);
        book.histogram(&k, 1, first, T0, &mut undo).unwrap();
        let Ok(Advance::Counted(d)) = book.histogram(&k, 1, exp(0, &[(5, 4)]), T0, &mut undo)
        else {
            panic!("not counted");
        };
        assert_eq!((d.count, d.buckets.len(), d.buckets[0].2), (1, 1, 1));
        let up = book.histogram(&k, 1, exp(1, &[(9, 2), (13, 3)]), T0, &mut undo);
        assert_eq!(up, Ok(Advance::Baseline), "a scale never goes back up");
    }

    #[test]
    fn a_full_book_forgets_the_least_recently_seen() {
        let mut book = CumulativeBook::new(T0, 16);
        let mut undo = Undo::default();
        for i in 0..40 {
            book.sum(&key(&format!("s{i}")), 1, 1.0, T0 + i, &mut undo)
                .unwrap();
        }
        assert!(book.len() <= 16, "{}", book.len());
        let mut probe = Undo::default();
        assert_eq!(
            book.sum(&key("s39"), 1, 2.0, T0, &mut probe),
            Ok(Advance::Counted(1.0))
        );
    }
}
