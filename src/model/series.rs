use super::{KeyString, Scope, ServicePath, Tags};
use serde::{Deserialize, Serialize};

/// The identity of one series: (service, servicePath, scope, name, sorted tags).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// Orion service (tenant); `default-service` when none was given.
    pub service: KeyString,
    /// Orion service path; `/` when none was given.
    pub service_path: ServicePath,
    /// MicroProfile scope.
    pub scope: Scope,
    /// Metric name, `[A-Za-z_:][A-Za-z0-9_:.\-]*`.
    pub name: KeyString,
    /// Tags sorted by key, keys unique.
    pub tags: Tags,
}

impl SeriesKey {
    /// A key in the default service and root path, for meterd's own metrics and tests.
    pub fn simple(scope: Scope, name: &str, tags: Tags) -> Self {
        SeriesKey {
            service: super::DEFAULT_SERVICE.into(),
            service_path: ServicePath::root(),
            scope,
            name: name.into(),
            tags,
        }
    }

    /// A stable 64-bit hash used to route the series to its shard.
    pub fn route_hash(&self) -> u64 {
        use std::hash::BuildHasher;
        // foldhash with a fixed seed: fast, and the same for every thread of the process.
        foldhash::fast::FixedState::with_seed(0x6d65_7465_7264).hash_one(self)
    }

    /// A 64-bit FNV-1a hash of the key that never changes between builds or runs (unlike
    /// [`route_hash`](SeriesKey::route_hash)): the collector's series book keys series by it,
    /// and the book is saved in snapshots and the write-ahead log.
    pub fn stable_hash(&self) -> u64 {
        use std::hash::Hasher;
        let mut h = fnv::FnvHasher::default();
        // Each part is ended by 0xff, which no UTF-8 string contains: no two keys feed the
        // same bytes.
        for part in [
            self.service.as_str(),
            self.service_path.as_str(),
            self.scope.as_str(),
        ] {
            h.write(part.as_bytes());
            h.write_u8(0xff);
        }
        h.write(self.name.as_bytes());
        h.write_u8(0xff);
        for (k, v) in &self.tags {
            h.write(k.as_bytes());
            h.write_u8(0xff);
            h.write(v.as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }

    /// The tags as MicroProfile writes them: `k=v,k2=v2`.
    pub fn tags_string(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;

    #[test]
    fn stable_hash_is_fixed_and_separates_parts() {
        let key = SeriesKey::simple(Scope::Application, "requests", vec![]);
        // FNV-1a is fixed by its spec (value computed independently): it must never change,
        // snapshots rely on it.
        assert_eq!(key.stable_hash(), 0xa8ed_089f_3043_ccaf);
        let a = SeriesKey::simple(Scope::Application, "ab", vec![("c".into(), "d".into())]);
        let b = SeriesKey::simple(Scope::Application, "a", vec![("bc".into(), "d".into())]);
        assert_ne!(a.stable_hash(), b.stable_hash());
    }

    /// The key as it was laid out before its strings were `KeyString`s: plain `String`s.
    #[derive(Debug, PartialEq, Hash, Serialize, Deserialize)]
    struct StringKey {
        service: String,
        service_path: ServicePath,
        scope: Scope,
        name: String,
        tags: Vec<(String, String)>,
    }

    #[test]
    fn key_strings_keep_the_forms_and_hashes_of_plain_strings() {
        let long = "a-tag-value-longer-than-twenty-four-bytes";
        let old = StringKey {
            service: "gardens".into(),
            service_path: ServicePath::parse("/north").unwrap(),
            scope: Scope::Vendor,
            name: "requests_with_a_name_past_24_bytes".into(),
            tags: vec![("host".into(), "a".into()), ("zone".into(), long.into())],
        };
        let new = SeriesKey {
            service: "gardens".into(),
            service_path: ServicePath::parse("/north").unwrap(),
            scope: Scope::Vendor,
            name: "requests_with_a_name_past_24_bytes".into(),
            tags: vec![("host".into(), "a".into()), ("zone".into(), long.into())],
        };
        // Postcard (the log's records, snapshots, the cluster's wire): the same bytes, and an
        // old record reads back as the new key and the other way round.
        let old_bytes = postcard::to_allocvec(&old).unwrap();
        assert_eq!(postcard::to_allocvec(&new).unwrap(), old_bytes);
        // Written out, as every build before this one wrote it: each string its length (a
        // varint) then its bytes, the scope its variant's index, the tags their count.
        let mut fixed = Vec::new();
        for (prefix, text) in [
            (&[7u8][..], "gardens"),
            (&[6], "/north"),
            (&[1, 34], "requests_with_a_name_past_24_bytes"),
            (&[2, 4], "host"),
            (&[1], "a"),
            (&[4], "zone"),
            (&[41], long),
        ] {
            fixed.extend_from_slice(prefix);
            fixed.extend_from_slice(text.as_bytes());
        }
        assert_eq!(old_bytes, fixed);
        assert_eq!(postcard::from_bytes::<SeriesKey>(&old_bytes).unwrap(), new);
        assert_eq!(postcard::from_bytes::<StringKey>(&old_bytes).unwrap(), old);
        // JSON too.
        let json = serde_json::to_string(&old).unwrap();
        assert_eq!(serde_json::to_string(&new).unwrap(), json);
        assert_eq!(serde_json::from_str::<SeriesKey>(&json).unwrap(), new);
        // The route hash hashes each string as the `str` it holds, as `String` did.
        use std::hash::BuildHasher;
        let state = foldhash::fast::FixedState::with_seed(0x6d65_7465_7264);
        assert_eq!(new.route_hash(), state.hash_one(&old));
    }
}
