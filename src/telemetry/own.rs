//! meterd's own families: process readings in the base scope, pipeline counters in vendor.

use super::Counters;
use super::{base_gauges, read_process};
use crate::model::Selector;
use crate::model::{Family, Kind, Metadata, Scope, SeriesView, ValueView, DEFAULT_SERVICE};
use crate::registry::Registry;
use std::time::Instant;

fn family(scope: Scope, name: &str, kind: Kind, value: f64, unit: &str, help: &str) -> Family {
    Family {
        service: None,
        scope,
        name: name.to_owned(),
        kind,
        meta: meta(unit, help),
        series: vec![SeriesView {
            service: DEFAULT_SERVICE.to_owned(),
            service_path: "/".to_owned(),
            tags: vec![],
            value: if kind == Kind::Counter {
                ValueView::Counter(value)
            } else {
                ValueView::Gauge(value)
            },
        }],
    }
}

fn meta(unit: &str, help: &str) -> Metadata {
    Metadata {
        unit: (!unit.is_empty() && unit != "none").then(|| unit.to_owned()),
        description: Some(help.to_owned()),
        display_name: None,
    }
}

/// Registers every own family so that pushed events cannot take their names.
pub fn register_own(registry: &mut Registry, counters: &Counters) {
    for f in own_families(counters, Instant::now(), &Selector::default()) {
        registry.register_own(f.scope, &f.name, f.kind, f.meta.clone());
    }
}

/// Reads the process and the counters now and builds the selected own families.
pub fn own_families(counters: &Counters, started: Instant, sel: &Selector) -> Vec<Family> {
    let wants = |scope: Scope, name: &str| {
        sel.scope.is_none_or(|s| s == scope)
            && sel.name.as_deref().is_none_or(|n| n == name)
            && sel.service.as_deref().is_none_or(|s| s == DEFAULT_SERVICE)
    };
    let mut out = Vec::new();
    if sel.scope.is_none_or(|s| s == Scope::Base) {
        let readings = read_process(started);
        for (name, value, unit, help) in base_gauges(&readings) {
            if wants(Scope::Base, name) {
                out.push(family(Scope::Base, name, Kind::Gauge, value, unit, help));
            }
        }
    }
    for (name, is_counter, value, help) in counters.readings() {
        if wants(Scope::Vendor, name) {
            let kind = if is_counter {
                Kind::Counter
            } else {
                Kind::Gauge
            };
            out.push(family(Scope::Vendor, name, kind, value, "", help));
        }
    }
    out
}
