//! Assembly of shard views and registry metadata into one sorted snapshot.

use super::Registry;
use crate::model::{Family, Scope, SeriesKey, SeriesView, Snapshot, ValueView};

/// Which series a read wants. (Serde: resets and removals are logged with their selector.)
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Selector {
    /// Only this scope.
    pub scope: Option<Scope>,
    /// Only this metric name.
    pub name: Option<String>,
    /// Only this service.
    pub service: Option<String>,
}

impl Selector {
    /// True when the series is selected.
    pub fn matches(&self, key: &SeriesKey) -> bool {
        self.scope.is_none_or(|s| s == key.scope)
            && self.name.as_deref().is_none_or(|n| n == key.name)
            && self.service.as_deref().is_none_or(|s| s == key.service)
    }
}

/// Groups series views into families with their metadata, sorted by (scope, name) and series
/// by (service, servicePath, tags), then merges meterd's own families in.
pub fn assemble(
    mut views: Vec<(SeriesKey, ValueView)>,
    registry: &Registry,
    own: Vec<Family>,
) -> Snapshot {
    views.sort_unstable_by(|a, b| {
        (
            a.0.scope,
            &a.0.name,
            &a.0.service,
            &a.0.service_path,
            &a.0.tags,
        )
            .cmp(&(
                b.0.scope,
                &b.0.name,
                &b.0.service,
                &b.0.service_path,
                &b.0.tags,
            ))
    });
    let mut families: Vec<Family> = Vec::new();
    for (key, value) in views {
        let series = SeriesView {
            service: key.service,
            service_path: key.service_path.as_str().to_owned(),
            tags: key.tags,
            value,
        };
        match families.last_mut() {
            Some(f) if f.scope == key.scope && f.name == key.name => f.series.push(series),
            _ => {
                let info = registry.get(key.scope, &key.name);
                families.push(Family {
                    scope: key.scope,
                    kind: series.value.kind(),
                    meta: info.map(|i| i.meta.clone()).unwrap_or_default(),
                    name: key.name,
                    series: vec![series],
                });
            }
        }
    }
    families.extend(own);
    families.sort_by(|a, b| (a.scope, &a.name).cmp(&(b.scope, &b.name)));
    Snapshot { families }
}
