//! Assembly of shard views and registry metadata into one sorted scrape.

use super::Registry;
use crate::model::{Family, Scrape, SeriesKey, SeriesView, ValueView};

/// Groups series views into families with their metadata — one per (scope, name) and service
/// for pushed metrics, one per (scope, name) for meterd's own — sorted by (scope, name), the
/// families of one name by registration order, and series by (service, servicePath, tags);
/// then merges meterd's own families in.
pub fn assemble(
    mut views: Vec<(SeriesKey, ValueView)>,
    registry: &Registry,
    own: Vec<Family>,
) -> Scrape {
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
    // (registration order, family)
    let mut families: Vec<(u64, Family)> = Vec::new();
    for (key, value) in views {
        let same = families.last().is_some_and(|(_, f)| {
            f.scope == key.scope
                && f.name == key.name
                && f.service.as_ref().is_none_or(|s| *s == key.service)
        });
        let series = SeriesView {
            service: key.service.into(),
            service_path: key.service_path.as_str().to_owned(),
            tags: key.tags,
            value,
        };
        match families.last_mut() {
            Some((_, f)) if same => f.series.push(series),
            _ => {
                let info = registry.get(&series.service, key.scope, &key.name);
                let own = info.is_some_and(|i| i.own);
                families.push((
                    info.map_or(u64::MAX, |i| i.seq),
                    Family {
                        scope: key.scope,
                        service: (!own).then(|| series.service.clone()),
                        kind: series.value.kind(),
                        meta: info.map(|i| i.meta.clone()).unwrap_or_default(),
                        name: key.name.into(),
                        series: vec![series],
                    },
                ));
            }
        }
    }
    families.extend(own.into_iter().map(|f| (0, f)));
    families.sort_by(|(a_seq, a), (b_seq, b)| {
        (a.scope, &a.name, a_seq).cmp(&(b.scope, &b.name, b_seq))
    });
    Scrape {
        families: families.into_iter().map(|(_, f)| f).collect(),
    }
}
