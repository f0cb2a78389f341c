//! The partition of a series: a fixed hash of its key (FNV-1a, [`SeriesKey::stable_hash`]) mod
//! the partition count, the same on every node, build and run, so that one series always lands
//! in one partition of the stream and one big service spreads over all of them.

use crate::model::{Event, SeriesKey};

/// The partition (of `partitions`) that holds series `key`.
pub fn partition_of(key: &SeriesKey, partitions: u32) -> u32 {
    (key.stable_hash() % u64::from(partitions.max(1))) as u32
}

/// Splits a batch into one batch per partition that has events, in partition order, keeping
/// the order of events within each.
pub fn split(events: Vec<Event>, partitions: u32) -> Vec<(u32, Vec<Event>)> {
    let count = partitions.max(1) as usize;
    crate::collector::split_by(events, count, |key| partition_of(key, partitions) as usize)
        .into_iter()
        .enumerate()
        .filter(|(_, events)| !events.is_empty())
        .map(|(p, events)| (p as u32, events))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Scope};

    fn event(name: &str, value: f64) -> Event {
        let key = SeriesKey::simple(Scope::Application, name, vec![]);
        Event::observe(key, Kind::Counter, value, 0)
    }

    #[test]
    fn the_partition_is_fixed_by_the_stable_hash() {
        let key = SeriesKey::simple(Scope::Application, "requests", vec![]);
        // stable_hash("requests") = 0xa8ed_089f_3043_ccaf, fixed by FNV-1a's spec.
        assert_eq!(
            partition_of(&key, 16),
            (0xa8ed_089f_3043_ccafu64 % 16) as u32
        );
        assert_eq!(partition_of(&key, 1), 0);
        assert_eq!(partition_of(&key, 0), 0, "no partitions counts as one");
    }

    #[test]
    fn a_split_keeps_each_series_in_one_partition_and_the_order() {
        let batch: Vec<Event> = (0..200)
            .map(|i| event(&format!("m{}", i % 13), f64::from(i)))
            .collect();
        let parts = split(batch.clone(), 4);
        assert_eq!(parts.iter().map(|(_, e)| e.len()).sum::<usize>(), 200);
        assert!(parts.len() > 1, "13 series spread over more than one of 4");
        for (p, events) in &parts {
            for e in events {
                assert_eq!(partition_of(&e.key, 4), *p);
            }
            let values: Vec<f64> = events.iter().map(|e| e.value).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            assert_eq!(values, sorted, "order kept within a partition");
        }
        assert!(parts.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
