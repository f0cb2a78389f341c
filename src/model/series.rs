use super::{Scope, ServicePath, Tags};

/// The identity of one series: (service, servicePath, scope, name, sorted tags).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// Orion service (tenant); `default-service` when none was given.
    pub service: String,
    /// Orion service path; `/` when none was given.
    pub service_path: ServicePath,
    /// MicroProfile scope.
    pub scope: Scope,
    /// Metric name, `[A-Za-z_:][A-Za-z0-9_:.\-]*`.
    pub name: String,
    /// Tags sorted by key, keys unique.
    pub tags: Tags,
}

impl SeriesKey {
    /// A key in the default service and root path, for meterd's own metrics and tests.
    pub fn simple(scope: Scope, name: &str, tags: Tags) -> Self {
        SeriesKey {
            service: super::DEFAULT_SERVICE.to_owned(),
            service_path: ServicePath::root(),
            scope,
            name: name.to_owned(),
            tags,
        }
    }

    /// A stable 64-bit hash used to route the series to its shard.
    pub fn route_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
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
