//! Answers a checked [`OdslRequest`] from the entity store: listings newest first,
//! `listMetrics`, single entities and calendar aggregation. Pure: runs wherever the store is
//! (the keeper's thread), returns JSON.

use super::filter::{Expected, Field, Filter};
use super::observed::Accumulator;
use super::params::{ListQuery, MetricsQuery, OdslRequest, Selection, SeriesQuery};
use super::{Calendar, Observed, TimeRange};
use crate::registry::entities::{Entity, EntityId, EntityStore, SeriesEntry};
use crate::render::odsl::{self as render, EntityJson, SeriesJson};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// Finds the unit of a series (pushed metrics: the registry's metadata).
pub type Units<'a> = &'a dyn Fn(&SeriesEntry) -> Option<String>;

/// The JSON answer to `req`.
pub fn answer(store: &EntityStore, req: &OdslRequest, units: Units) -> Value {
    match req {
        OdslRequest::List(q) => list(store, q, units),
        OdslRequest::ListMetrics(q) => list_metrics(store, q, units),
        OdslRequest::Series(q) => series(store, q, units),
    }
}

/// The entity with id `text`, if it is held.
pub fn entity_by_id(store: &EntityStore, text: &str, units: Units) -> Option<Value> {
    let entity = store.get(EntityId::parse(text)?)?;
    Some(render_entity(entity, units(entity.series()).as_deref()))
}

fn render_entity(e: Entity, unit: Option<&str>) -> Value {
    let series = e.series();
    let tags: Vec<(&str, &str)> = series.tags().collect();
    render::entity(&EntityJson {
        id: &e.id().to_string(),
        provider: series.service(),
        service_path: series.service_path(),
        scope: series.scope(),
        metric: series.name(),
        tags: &tags,
        kind: series.kind(),
        value: e.value(),
        timestamp_ms: e.timestamp_ms(),
        unit,
    })
}

/// Entities matching the query, newest timestamp first (the later captured on a tie).
pub fn list(store: &EntityStore, q: &ListQuery, units: Units) -> Value {
    let mut m = Matcher::new(&q.selection, units);
    let wanted = q.skip.saturating_add(q.limit);
    let newest = newest(store.iter().rev().filter(|e| m.matches(*e)), wanted);
    let mut unit_memo: HashMap<u32, Option<String>> = HashMap::new();
    let out = newest
        .into_iter()
        .skip(q.skip)
        .map(|e| {
            let unit = unit_memo
                .entry(e.series().id())
                .or_insert_with(|| units(e.series()));
            render_entity(e, unit.as_deref())
        })
        .collect();
    Value::Array(out)
}

/// An entity ordered by (timestamp, capture sequence).
struct ByTime<'a>(Entity<'a>);

impl ByTime<'_> {
    fn key(&self) -> (i64, u64) {
        (self.0.timestamp_ms(), self.0.seq())
    }
}

impl PartialEq for ByTime<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ByTime<'_> {}

impl PartialOrd for ByTime<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByTime<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// The `n` newest of `entities`, newest first. A bounded min-heap: given newest-captured
/// first (the usual order of timestamps too), most entities lose one comparison and stop.
fn newest<'a>(entities: impl Iterator<Item = Entity<'a>>, n: usize) -> Vec<Entity<'a>> {
    if n == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Reverse<ByTime>> = BinaryHeap::with_capacity(n.min(1 << 16) + 1);
    for e in entities {
        if heap.len() < n {
            heap.push(Reverse(ByTime(e)));
        } else if heap.peek().is_some_and(|Reverse(min)| ByTime(e) > *min) {
            heap.pop();
            heap.push(Reverse(ByTime(e)));
        }
    }
    // Ascending `Reverse` order is descending time: newest first.
    heap.into_sorted_vec()
        .into_iter()
        .map(|Reverse(ByTime(e))| e)
        .collect()
}

/// `listMetrics`: the sorted metric names of the provider's matching entities.
pub fn list_metrics(store: &EntityStore, q: &MetricsQuery, units: Units) -> Value {
    let mut m = Matcher::new(&q.selection, units);
    let mut names = BTreeSet::new();
    for e in store.iter() {
        if m.matches(e) {
            names.insert(e.series().name());
        }
    }
    Value::Array(names.into_iter().map(Value::from).collect())
}

/// A calendar time series of one provider's metric.
pub fn series(store: &EntityStore, q: &SeriesQuery, units: Units) -> Value {
    let mut selection = q.selection.clone();
    selection
        .filter
        .terms
        .push(("provider".into(), Expected::Str(q.provider.clone())));
    selection
        .filter
        .terms
        .push(("metric".into(), Expected::Str(q.metric.clone())));
    let mut m = Matcher::new(&selection, units);
    let points = aggregate(
        store.iter().filter(|e| m.matches(*e)),
        q.calendar,
        q.observed,
    );
    let range = selection.range.unwrap_or_default();
    render::series(&SeriesJson {
        provider: &q.provider,
        metric: &q.metric,
        calendar: &q.calendar.to_string(),
        observed: q.observed.as_str(),
        from: range.from,
        to: range.to,
        points: &points,
    })
}

/// Aggregates entities into calendar buckets: (bucket start, value) in time order, empty
/// buckets left out.
pub fn aggregate<'a>(
    entities: impl Iterator<Item = Entity<'a>>,
    calendar: Calendar,
    observed: Observed,
) -> Vec<(i64, f64)> {
    let mut buckets: Vec<(i64, Accumulator)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    // The bucket of the previous entity: entities mostly come in time order.
    let mut current: Option<(i64, i64, usize)> = None;
    for e in entities {
        let (ts, seq, value) = (e.timestamp_ms(), e.seq(), e.value());
        if let Some((start, end, i)) = current {
            if start <= ts && ts < end {
                buckets[i].1.add(ts, seq, value);
                continue;
            }
        }
        let Some(start) = calendar.bucket_start(ts) else {
            continue; // outside the years -9999..9999: never produced by ingest
        };
        let end = calendar.next_start(start).unwrap_or(i64::MAX);
        let i = match index.get(&start) {
            Some(&i) => {
                buckets[i].1.add(ts, seq, value);
                i
            }
            None => {
                buckets.push((start, Accumulator::new(ts, seq, value)));
                index.insert(start, buckets.len() - 1);
                buckets.len() - 1
            }
        };
        current = Some((start, end, i));
    }
    buckets.sort_unstable_by_key(|(start, _)| *start);
    buckets
        .into_iter()
        .map(|(start, acc)| (start, acc.value(observed)))
        .collect()
}

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

/// Decides which entities a selection takes: series-level terms once per series (memoised
/// by series id), record-level terms (`_id`, `value`, `timestamp`) and the range per entity.
struct Matcher<'q> {
    series_terms: Filter,
    record_terms: Filter,
    range: Option<TimeRange>,
    memo: Vec<u8>,
    units: Units<'q>,
}

fn per_record(field: &str) -> bool {
    matches!(field, "_id" | "value" | "timestamp")
}

impl<'q> Matcher<'q> {
    fn new(selection: &Selection, units: Units<'q>) -> Self {
        let (series_terms, record_terms) = selection.filter.split(per_record);
        Matcher {
            series_terms,
            record_terms,
            range: selection.range,
            memo: Vec::new(),
            units,
        }
    }

    fn matches(&mut self, e: Entity) -> bool {
        if self.range.is_some_and(|r| !r.contains(e.timestamp_ms())) {
            return false;
        }
        let id = e.series().id() as usize;
        if id >= self.memo.len() {
            self.memo.resize(id + 1, UNKNOWN);
        }
        if self.memo[id] == UNKNOWN {
            self.memo[id] = if self.series_matches(e.series()) {
                YES
            } else {
                NO
            };
        }
        if self.memo[id] == NO {
            return false;
        }
        if self.record_terms.is_empty() {
            return true;
        }
        let id_text = e.id().to_string();
        self.record_terms.matches(|field| match field {
            "_id" => Field::Str(&id_text),
            "value" => Field::Num(e.value()),
            _ => Field::Time(e.timestamp_ms()),
        })
    }

    fn series_matches(&self, s: &SeriesEntry) -> bool {
        if self.series_terms.is_empty() {
            return true;
        }
        let unit = if self.series_terms.terms.iter().any(|(f, _)| f == "unit") {
            (self.units)(s)
        } else {
            None
        };
        self.series_terms.matches(|field| match field {
            "provider" => Field::NoCase(s.service()),
            "metric" => Field::Str(s.name()),
            "type" => Field::Str(s.kind().as_str()),
            "scope" => Field::Str(s.scope().as_str()),
            "servicePath" => Field::Str(s.service_path()),
            "unit" => unit.as_deref().map_or(Field::Absent, Field::Str),
            "tags" => Field::Absent,
            tag => s.tag(tag).map_or(Field::Absent, Field::Str),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Scope, SeriesKey};
    use crate::query::odsl::{parse, Unit};
    use crate::registry::entities::{Interner, Pending};
    use proptest::prelude::*;
    use std::time::Duration;

    fn store_of(points: &[(i64, f64)]) -> EntityStore {
        let mut interner = Interner::default();
        let entry = interner.intern(
            &SeriesKey::simple(Scope::Application, "m", vec![("app".into(), "api".into())]),
            Kind::Gauge,
        );
        let mut store = EntityStore::new(Duration::from_secs(3600), 1_000_000);
        let batch = points
            .iter()
            .map(|&(timestamp_ms, value)| Pending {
                entry: entry.clone(),
                value,
                timestamp_ms,
            })
            .collect();
        store.push(batch, 0);
        store
    }

    fn no_units(_: &SeriesEntry) -> Option<String> {
        None
    }

    fn request(query: &[(&str, &str)]) -> OdslRequest {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(&pairs, 0).unwrap()
    }

    #[test]
    fn listing_is_newest_first_with_paging() {
        let store = store_of(&[(30, 3.0), (10, 1.0), (20, 2.0), (20, 2.5), (40, 4.0)]);
        let values = |q: &[(&str, &str)]| -> Vec<f64> {
            answer(&store, &request(q), &no_units)
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["value"].as_f64().unwrap())
                .collect()
        };
        assert_eq!(values(&[]), [4.0, 3.0, 2.5, 2.0, 1.0]);
        assert_eq!(values(&[("_limit", "2"), ("_skip", "1")]), [3.0, 2.5]);
        assert_eq!(values(&[("_limit", "0")]), Vec::<f64>::new());
        assert_eq!(values(&[("_skip", "9")]), Vec::<f64>::new());
        assert_eq!(values(&[("_filter", r#"{"value":2}"#)]), [2.0]);
        assert_eq!(values(&[("app", "web")]), Vec::<f64>::new());
        assert_eq!(
            values(&[("_filter", r#"{"app":"api","unit":null}"#), ("_limit", "1")]),
            [4.0]
        );
    }

    fn calendar() -> impl Strategy<Value = Calendar> {
        let unit = prop_oneof![
            Just(Unit::Minute),
            Just(Unit::Hour),
            Just(Unit::Day),
            Just(Unit::Week),
            Just(Unit::Month),
            Just(Unit::Year),
        ];
        (1u32..20, unit).prop_map(|(count, unit)| Calendar { count, unit })
    }

    proptest! {
        /// Every timestamp falls in exactly one bucket, buckets come in time order, and the
        /// summed buckets add up to the total (integral values, so sums are exact).
        #[test]
        fn buckets_partition_and_sums_add_up(
            cal in calendar(),
            points in prop::collection::vec((0i64..4_000_000_000_000, -1000i64..1000), 1..200),
        ) {
            let points: Vec<(i64, f64)> = points.into_iter().map(|(t, v)| (t, v as f64)).collect();
            let store = store_of(&points);
            let summed = aggregate(store.iter(), cal, Observed::Summed);
            for w in summed.windows(2) {
                prop_assert!(w[0].0 < w[1].0);
            }
            for &(ts, _) in &points {
                let holding = summed
                    .iter()
                    .filter(|(s, _)| *s <= ts && ts < cal.next_start(*s).unwrap())
                    .count();
                prop_assert_eq!(holding, 1);
            }
            let total: f64 = points.iter().map(|p| p.1).sum();
            prop_assert_eq!(summed.iter().map(|b| b.1).sum::<f64>(), total);
            let high = aggregate(store.iter(), cal, Observed::High);
            let low = aggregate(store.iter(), cal, Observed::Low);
            prop_assert_eq!(high.len(), summed.len());
            for (h, l) in high.iter().zip(&low) {
                prop_assert!(h.1 >= l.1);
            }
        }
    }
}
