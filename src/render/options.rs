//! MicroProfile `OPTIONS` metadata (seed 001): per metric `unit`, `type`, `description`,
//! `displayName` and `tags`.
//!
//! - `unit` is the metric's unit, `nanoseconds` for a timer without one (the unit its values are
//!   in), otherwise `none` when missing.
//! - `description` and `displayName` appear only when set.
//! - `tags` is MicroProfile's `k=v,k2=v2` string of the family's first series (series are sorted,
//!   so this is deterministic); metadata is per metric name while tags are per series, so a
//!   family with several tag sets shows only the first. Service labels are not tags here.
//!   It is `""` when the first series has no tags.
//! - Types and metadata are per service: the family of a name in `default-service` (and each
//!   of meterd's own) is keyed by its name, the family of a name in another service
//!   `name;service=<service>` (as MicroProfile JSON keys its series). So the same name may be
//!   a counter in one service and a gauge in another, each with its own unit, and both show.
//!   A token bound to a service sees only that service's families.

use super::names::effective_unit;
use crate::model::{Family, Scrape, DEFAULT_SERVICE};
use serde_json::{Map, Value};

/// `{scope: {name: metadata}}` with only the scopes that have families; `OPTIONS /metrics`.
pub fn options_tree(scrape: &Scrape) -> Value {
    let mut tree = Map::new();
    for family in &scrape.families {
        let scope = tree
            .entry(family.scope.as_str())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = scope {
            map.insert(family_key(family), family_metadata(family));
        }
    }
    Value::Object(tree)
}

/// `{name: metadata}` for the given families; `OPTIONS /metrics/{scope}[/{name}]`.
pub fn options_scope(families: &[Family]) -> Value {
    let map = families
        .iter()
        .map(|f| (family_key(f), family_metadata(f)))
        .collect();
    Value::Object(map)
}

/// `name`, or `name;service=<service>` for a family outside `default-service`.
fn family_key(family: &Family) -> String {
    match family.service.as_deref() {
        Some(service) if service != DEFAULT_SERVICE => format!("{};service={service}", family.name),
        _ => family.name.clone(),
    }
}

/// `{"unit", "type", "description"?, "displayName"?, "tags"}` of one family.
pub fn family_metadata(family: &Family) -> Value {
    let mut meta = Map::new();
    let unit = effective_unit(family.kind, &family.meta).unwrap_or("none");
    meta.insert("unit".into(), unit.into());
    meta.insert("type".into(), family.kind.as_str().into());
    if let Some(description) = &family.meta.description {
        meta.insert("description".into(), description.as_str().into());
    }
    if let Some(display_name) = &family.meta.display_name {
        meta.insert("displayName".into(), display_name.as_str().into());
    }
    let tags = family.series.first().map(|s| {
        s.tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    meta.insert("tags".into(), tags.unwrap_or_default().into());
    Value::Object(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Metadata, Scope, SeriesView, ValueView};
    use crate::render::fixture::fixture;
    use serde_json::json;

    #[test]
    fn golden_tree() {
        let json = serde_json::to_string_pretty(&options_tree(&fixture())).unwrap();
        insta::assert_snapshot!("options_tree", json);
    }

    #[test]
    fn seed_example() {
        let family = Family {
            service: None,
            scope: Scope::Application,
            name: "fooVal".into(),
            kind: Kind::Gauge,
            meta: Metadata {
                unit: Some("milliseconds".into()),
                description: Some(
                    "The average duration of foo requests during last 5 minutes".into(),
                ),
                display_name: Some("Duration of foo".into()),
            },
            series: vec![SeriesView {
                service: "default-service".into(),
                service_path: "/".into(),
                tags: vec![("app".into(), "webshop".into())],
                value: ValueView::Gauge(12345.0),
            }],
        };
        let mut bar = family.clone();
        bar.name = "barVal".into();
        bar.meta = Metadata {
            unit: Some("megabytes".into()),
            ..Metadata::default()
        };
        bar.series[0].tags = vec![
            ("app".into(), "webshop".into()),
            ("component".into(), "backend".into()),
        ];
        assert_eq!(
            options_scope(&[bar, family]),
            json!({
                "fooVal": {
                    "unit": "milliseconds",
                    "type": "gauge",
                    "description": "The average duration of foo requests during last 5 minutes",
                    "displayName": "Duration of foo",
                    "tags": "app=webshop"
                },
                "barVal": {"unit": "megabytes", "type": "gauge", "tags": "app=webshop,component=backend"}
            })
        );
    }
}
