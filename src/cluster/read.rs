//! Reads across a cluster: a request every node answers with the views of the partitions it
//! owns, and their exact merge. Each series lives in exactly one partition, so the merge is a
//! union by partition (no sketch, no approximation): a partition answered twice during a
//! handover is taken from the answer at the higher position.

use crate::model::{Selector, SeriesKey, ValueView};
use crate::registry::SavedFamily;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a reading node asks every owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// Which series; `None` asks for positions only (`GET /cluster`, `/-/ready`).
    pub selector: Option<Selector>,
    /// Without quantiles (stream subscriptions read the mean only).
    pub measure: bool,
}

/// One partition's part of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartView {
    /// The partition.
    pub partition: u32,
    /// The stream position the views are at.
    pub position: u64,
    /// The selected series of the partition.
    pub views: Vec<(SeriesKey, ValueView)>,
    /// The families of those series, as the partition registered them.
    pub families: Vec<SavedFamily>,
}

/// One node's answer: the parts of the partitions it owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadAnswer {
    /// Which node answered.
    pub node: String,
    /// Its partitions' parts.
    pub parts: Vec<PartView>,
}

/// Encodes any of these messages for NATS.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_allocvec(message).unwrap_or_default()
}

/// Decodes a message encoded by [`encode`].
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    postcard::from_bytes(bytes).ok()
}

/// Answers gathered for a read of `partitions` partitions.
#[derive(Debug)]
pub struct Gather {
    partitions: u32,
    parts: BTreeMap<u32, PartView>,
}

/// A read merged from every partition.
#[derive(Debug, Default)]
pub struct Merged {
    /// Every selected series of the cluster.
    pub views: Vec<(SeriesKey, ValueView)>,
    /// Their families; a family found in several partitions is given once (the first).
    pub families: Vec<SavedFamily>,
}

impl Gather {
    /// Nothing gathered yet.
    pub fn new(partitions: u32) -> Self {
        Gather {
            partitions,
            parts: BTreeMap::new(),
        }
    }

    /// Adds one partition's part; a second part of the same partition replaces the first
    /// only when it is at a higher position. Parts of unknown partitions are ignored.
    pub fn add(&mut self, part: PartView) {
        if part.partition >= self.partitions {
            return;
        }
        match self.parts.get(&part.partition) {
            Some(have) if have.position >= part.position => {}
            _ => {
                self.parts.insert(part.partition, part);
            }
        }
    }

    /// True once every partition answered.
    pub fn complete(&self) -> bool {
        self.parts.len() == self.partitions as usize
    }

    /// The partitions nobody answered for yet.
    pub fn missing(&self) -> Vec<u32> {
        (0..self.partitions)
            .filter(|p| !self.parts.contains_key(p))
            .collect()
    }

    /// The position each partition answered at.
    pub fn positions(&self) -> std::collections::HashMap<u32, u64> {
        self.parts
            .iter()
            .map(|(p, part)| (*p, part.position))
            .collect()
    }

    /// The union of the parts.
    pub fn merge(self) -> Merged {
        let mut merged = Merged::default();
        let mut seen = std::collections::HashSet::new();
        for (_, part) in self.parts {
            merged.views.extend(part.views);
            for family in part.families {
                if seen.insert((family.0.clone(), family.1, family.2.clone())) {
                    merged.families.push(family);
                }
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Metadata, Scope};
    use crate::registry::FamilyInfo;

    fn part(partition: u32, position: u64, name: &str, value: f64) -> PartView {
        let key = SeriesKey::simple(Scope::Application, name, vec![]);
        let info = FamilyInfo {
            kind: Kind::Counter,
            meta: Metadata::default(),
            own: false,
            seq: 1,
        };
        PartView {
            partition,
            position,
            views: vec![(key.clone(), ValueView::Counter(value))],
            families: vec![(key.service.into(), key.scope, key.name.into(), info)],
        }
    }

    #[test]
    fn the_merge_is_the_union_of_every_partition_once() {
        let mut gather = Gather::new(3);
        gather.add(part(0, 5, "a", 1.0));
        gather.add(part(2, 9, "b", 2.0));
        assert!(!gather.complete());
        assert_eq!(gather.missing(), vec![1]);
        gather.add(part(1, 3, "a", 4.0));
        gather.add(part(7, 3, "ignored", 4.0));
        // A handover answered twice: the higher position wins, whatever the order.
        gather.add(part(2, 8, "b", 1.0));
        gather.add(part(0, 6, "a", 3.0));
        assert!(gather.complete());
        assert_eq!(gather.positions()[&2], 9);
        let merged = gather.merge();
        let values: Vec<f64> = merged
            .views
            .iter()
            .map(|(_, v)| match v {
                ValueView::Counter(c) => *c,
                _ => f64::NAN,
            })
            .collect();
        assert_eq!(values, vec![3.0, 4.0, 2.0]);
        assert_eq!(
            merged.families.len(),
            2,
            "one family per (service, scope, name)"
        );
    }

    #[test]
    fn answers_round_trip() {
        let answer = ReadAnswer {
            node: "n1".into(),
            parts: vec![part(0, 1, "a", 1.5)],
        };
        assert_eq!(decode::<ReadAnswer>(&encode(&answer)), Some(answer));
        let request = ReadRequest {
            selector: Some(Selector::default()),
            measure: true,
        };
        assert_eq!(decode::<ReadRequest>(&encode(&request)), Some(request));
        assert_eq!(decode::<ReadAnswer>(b"\xff"), None);
    }
}
