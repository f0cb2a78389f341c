//! Routing: split a batch into one batch per shard by series-key hash.

use crate::model::Event;

/// The shard (of `shards`) that owns the series `key`.
pub fn shard_of(key: &crate::model::SeriesKey, shards: usize) -> usize {
    if shards <= 1 {
        0
    } else {
        (key.route_hash() % shards as u64) as usize
    }
}

/// Splits `events` into `shards` batches, keeping each series on one shard and the order of
/// events within a shard.
pub fn route(events: Vec<Event>, shards: usize) -> Vec<Vec<Event>> {
    if shards <= 1 {
        return vec![events];
    }
    split_by(events, shards, |key| shard_of(key, shards))
}

/// Splits `events` into `parts` batches by `part_of` each series key (below `parts`), keeping
/// the order of events within a part: the one splitting loop of shards and cluster partitions.
pub fn split_by(
    events: Vec<Event>,
    parts: usize,
    part_of: impl Fn(&crate::model::SeriesKey) -> usize,
) -> Vec<Vec<Event>> {
    let per = events.len() / parts.max(1) + 1;
    let mut out: Vec<Vec<Event>> = (0..parts.max(1)).map(|_| Vec::with_capacity(per)).collect();
    for e in events {
        out[part_of(&e.key)].push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Op, Scope, SeriesKey};

    #[test]
    fn same_series_same_shard() {
        let ev = |n: &str| Event {
            key: SeriesKey::simple(Scope::Application, n, vec![]),
            kind: Kind::Counter,
            value: 1.0,
            op: Op::Observe,
            timestamp_ms: 0,
            meta: None,
        };
        let batch: Vec<Event> = (0..100).map(|i| ev(&format!("m{}", i % 7))).collect();
        let parts = route(batch, 3);
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 100);
        for p in &parts {
            for e in p {
                assert!(
                    parts
                        .iter()
                        .filter(|q| q.iter().any(|x| x.key == e.key))
                        .count()
                        == 1
                );
            }
        }
    }
}
