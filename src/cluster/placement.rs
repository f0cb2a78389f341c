//! Which member owns which partition: rendezvous (highest-random-weight) hashing over the live
//! members, stored with an epoch that grows by one at every change.
//!
//! Rendezvous hashing moves as little as possible: when a member leaves, only its partitions
//! move (each to the member with the next-highest weight); when one joins, only the partitions
//! it now wins move to it.

use serde::{Deserialize, Serialize};

/// The owners of every partition at one epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Grows by one at every stored change; 0 before the first placement.
    pub epoch: u64,
    /// The members this placement was computed over, sorted.
    pub members: Vec<String>,
    /// `owners[p]` is partition p's owner; an empty string when there are no members.
    pub owners: Vec<String>,
}

/// The owner of partition `p` among `members` by rendezvous hashing with a fixed hash (FNV-1a
/// then a 64-bit mixer, so every node and every release agrees); `None` without members.
pub fn rendezvous(members: &[String], p: u32) -> Option<&str> {
    members
        .iter()
        .map(|m| (weight(m, p), m.as_str()))
        .max()
        .map(|(_, m)| m)
}

/// The weight of member `m` for partition `p`.
fn weight(m: &str, p: u32) -> u64 {
    let mut h = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut h, m.as_bytes());
    std::hash::Hasher::write(&mut h, &[0xff]);
    std::hash::Hasher::write(&mut h, &p.to_le_bytes());
    mix(std::hash::Hasher::finish(&h))
}

/// SplitMix64's finalizer: FNV alone leaves the high bits of short, similar keys correlated.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Placement {
    /// The placement of `partitions` partitions over `members` (sorted and de-duplicated here)
    /// at `epoch`.
    pub fn compute(epoch: u64, mut members: Vec<String>, partitions: u32) -> Placement {
        members.sort();
        members.dedup();
        let owners = (0..partitions)
            .map(|p| rendezvous(&members, p).unwrap_or_default().to_owned())
            .collect();
        Placement {
            epoch,
            members,
            owners,
        }
    }

    /// The partitions `node` owns, ascending.
    pub fn owned_by(&self, node: &str) -> Vec<u32> {
        self.owners
            .iter()
            .enumerate()
            .filter(|(_, o)| *o == node)
            .map(|(p, _)| p as u32)
            .collect()
    }

    /// Partition `p`'s owner, if `p` exists and has one.
    pub fn owner(&self, p: u32) -> Option<&str> {
        self.owners
            .get(p as usize)
            .map(String::as_str)
            .filter(|o| !o.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_same_inputs_give_the_same_owners() {
        let a = Placement::compute(3, names(&["n2", "n1", "n3"]), 16);
        let b = Placement::compute(3, names(&["n3", "n2", "n1", "n1"]), 16);
        assert_eq!(a, b);
        assert_eq!(a.members, names(&["n1", "n2", "n3"]));
        assert_eq!(a.owners.len(), 16);
        // Pinned: a change of hash would move every partition of a running cluster on upgrade.
        assert_eq!(
            a.owners.join(","),
            "n2,n3,n1,n1,n1,n1,n1,n2,n3,n3,n2,n3,n3,n1,n2,n2"
        );
    }

    #[test]
    fn sixteen_partitions_spread_over_three_nodes() {
        let p = Placement::compute(1, names(&["n1", "n2", "n3"]), 16);
        for n in ["n1", "n2", "n3"] {
            let owned = p.owned_by(n).len();
            assert!((3..=8).contains(&owned), "{n} owns {owned} of 16");
        }
    }

    #[test]
    fn many_partitions_spread_evenly() {
        let members = names(&["a", "b", "c", "d", "e"]);
        let p = Placement::compute(1, members.clone(), 5000);
        for m in &members {
            let owned = p.owned_by(m).len();
            assert!((850..=1150).contains(&owned), "{m} owns {owned} of 5000");
        }
    }

    #[test]
    fn no_members_no_owners() {
        let p = Placement::compute(1, vec![], 4);
        assert_eq!(p.owners, vec![""; 4]);
        assert_eq!(p.owner(0), None);
        assert!(p.owned_by("").len() == 4 && rendezvous(&[], 0).is_none());
    }

    proptest! {
        /// A member leaving moves only its own partitions; the others keep theirs.
        #[test]
        fn leaving_moves_only_the_leavers_partitions(
            set in proptest::collection::btree_set("[a-z0-9]{1,8}", 2..7),
            pick in any::<prop::sample::Index>(),
        ) {
            let members: Vec<String> = set.into_iter().collect();
            let gone = members[pick.index(members.len())].clone();
            let before = Placement::compute(1, members.clone(), 64);
            let rest: Vec<String> = members.iter().filter(|m| **m != gone).cloned().collect();
            let after = Placement::compute(2, rest, 64);
            for p in 0..64 {
                let (b, a) = (&before.owners[p], &after.owners[p]);
                prop_assert!(*a != gone);
                if *b != gone {
                    prop_assert_eq!(a, b);
                }
            }
        }

        /// A member joining takes partitions only for itself; no other partition moves.
        #[test]
        fn joining_moves_only_to_the_joiner(
            set in proptest::collection::btree_set("[a-z0-9]{1,8}", 1..6),
            joiner in "[A-Z]{1,8}",
        ) {
            let members: Vec<String> = set.into_iter().collect();
            let before = Placement::compute(1, members.clone(), 64);
            let mut more = members.clone();
            more.push(joiner.clone());
            let after = Placement::compute(2, more, 64);
            for p in 0..64 {
                let (b, a) = (&before.owners[p], &after.owners[p]);
                prop_assert!(a == b || *a == joiner);
            }
        }

        /// Every partition has exactly one owner, and it is a member.
        #[test]
        fn every_partition_has_one_member_owner(
            set in proptest::collection::btree_set("[a-z0-9_-]{1,12}", 1..8),
            partitions in 1u32..100,
        ) {
            let members: Vec<String> = set.into_iter().collect();
            let p = Placement::compute(7, members.clone(), partitions);
            prop_assert_eq!(p.owners.len(), partitions as usize);
            let total: usize = members.iter().map(|m| p.owned_by(m).len()).sum();
            prop_assert_eq!(total, partitions as usize);
        }
    }
}
