//! Tests of loading whole pipeline files.

use super::*;
use crate::aggregate::AggregateSettings;
use crate::model::Kind;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn pipelines_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")
}

/// The problems of `text`, which must be invalid, as `(line, message)`.
fn problems(text: &str) -> Vec<(Option<usize>, String)> {
    let err = Pipeline::parse(text, "test.toml").expect_err("should be invalid");
    err.problems()
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect()
}

#[test]
fn default_toml_says_what_default_is() {
    let loaded = Pipeline::load(&pipelines_dir().join("default.toml")).unwrap();
    assert_eq!(loaded, Pipeline::default());
    assert_eq!(
        Pipeline::parse("", "empty.toml").unwrap(),
        Pipeline::default()
    );
}

#[test]
fn every_pipeline_file_loads() {
    let mut loaded = 0;
    for entry in std::fs::read_dir(pipelines_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            if let Err(err) = Pipeline::load(&path) {
                panic!("{err}");
            }
            loaded += 1;
        }
    }
    assert!(loaded >= 2, "default.toml and at least one example");
}

#[test]
fn a_minimal_file_takes_defaults_for_the_rest() {
    let pipeline = Pipeline::parse("[limits]\nmax_series = 50\n", "min.toml").unwrap();
    assert_eq!(pipeline.limits.max_series, 50);
    // The per-service default would exceed the total, so it is lowered to it.
    assert_eq!(pipeline.limits.max_series_per_service, 50);
    let expected = Pipeline {
        limits: Limits {
            max_series: 50,
            max_series_per_service: 50,
            ..Limits::default()
        },
        ..Pipeline::default()
    };
    assert_eq!(pipeline, expected);
}

#[test]
fn web_service_example_sets_rules() {
    let pipeline = Pipeline::load(&pipelines_dir().join("web-service.toml")).unwrap();
    let latency = pipeline.rule_for("http.server.requests").unwrap();
    assert_eq!(latency.kind, Some(Kind::Timer));
    assert_eq!(latency.unit.as_deref(), Some("milliseconds"));
    assert_eq!(
        pipeline.rule_for("http.server.errors").unwrap().kind,
        Some(Kind::Meter)
    );
    assert_eq!(
        pipeline.rule_for("cache.items.size").unwrap().kind,
        Some(Kind::Histogram)
    );
    let debug = pipeline.rule_for("debug.queue").unwrap();
    assert_eq!((debug.entities, debug.tier), (false, Some(1)));
    assert_eq!(debug.series_ttl, Some(Duration::from_secs(3600)));
    assert!(pipeline.rule_for("jvm.memory").is_none());
    assert_eq!(pipeline.durability.mode, DurabilityMode::Fsync);
}

#[test]
fn unknown_key_is_reported_with_its_line() {
    let found = problems("[meter]\ntick = \"5s\"\ntock = \"1s\"\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, Some(3));
    assert!(
        found[0].1.contains("unknown field `tock`"),
        "{}",
        found[0].1
    );
    let top = problems("shards = 2\nshard = 3\n");
    assert_eq!(top[0].0, Some(2));
    let syntax = problems("[limits\n");
    assert_eq!(syntax[0].0, Some(1));
    assert!(
        !syntax[0].1.contains('\n'),
        "one line per problem: {:?}",
        syntax[0].1
    );
}

#[test]
fn wrong_types_are_reported_with_their_line() {
    let found = problems("[durability]\nmode = \"sometimes\"\n");
    assert_eq!(found[0].0, Some(2));
    assert!(found[0].1.contains("fsync"), "{}", found[0].1);
    let found = problems("[[rules]]\nmatch = \"a.*\"\ntype = \"summary\"\n");
    assert_eq!(found[0].0, Some(3));
}

#[test]
fn bad_quantile_is_reported_with_its_line() {
    let text = "[histogram]\nsignificant_digits = 3\nquantiles = [\n  0.5,\n  1.5,\n]\n";
    let found = problems(text);
    assert_eq!(
        found,
        vec![(
            Some(5),
            "histogram.quantiles: 1.5 is not between 0 and 1".to_owned()
        )]
    );
    let found = problems("[histogram]\nquantiles = [0.9, 0.5]\n");
    assert_eq!(found[0].0, Some(2));
    assert!(found[0].1.contains("ascend"));
}

#[test]
fn several_problems_are_reported_at_once() {
    let text = r#"
[meter]
tick = "0s"

[histogram]
significant_digits = 9

[limits]
max_series = 10
max_series_per_service = 20
series_ttl = "5 days"

[[tiers]]
resolution = "1m"
retention = "30s"

[[tiers]]
resolution = "10s"
retention = "1h"

[[rules]]
match = "http.{a,b"
unit = "ms per request"

[[rules]]
match = "x.*"
tier = "5m"
"#;
    let err = Pipeline::parse(text, "pipelines/bad.toml").unwrap_err();
    let lines: Vec<Option<usize>> = err.problems().iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        [3, 6, 10, 11, 15, 18, 22, 23, 27].map(Some).to_vec(),
        "{err}"
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with("pipelines/bad.toml: 9 problems:\n"),
        "{shown}"
    );
    assert!(shown.contains("pipelines/bad.toml:3: meter.tick must be more than 0"));
    assert!(shown.contains(":10: limits.max_series_per_service 20 exceeds limits.max_series 10"));
    assert!(shown.contains("pipelines/bad.toml:15: tiers[0].retention 30s is shorter"));
    assert!(shown.contains("pipelines/bad.toml:27: rules[1].tier: no tier has resolution 5m"));
}

#[test]
fn tiers_and_durations_are_checked() {
    assert!(problems("tiers = []\n")[0].1.contains("at least one tier"));
    let found = problems("[[tiers]]\nresolution = \"10s\"\n");
    assert!(
        found[0].1.contains("missing field `retention`"),
        "{:?}",
        found
    );
    let found = problems("[entities]\nretention = \"-1h\"\n");
    assert!(found[0].1.contains("cannot be negative"));
    // Open buckets name their tier in a byte: a bounded count, each tier coarser.
    let tiers = |n: u32| -> String {
        (1..=n)
            .map(|i| format!("[[tiers]]\nresolution = \"{i}s\"\nretention = \"1000h\"\n"))
            .collect()
    };
    let found = problems(&tiers(33));
    assert!(found[0].1.contains("at most 32 tiers, not 33"), "{found:?}");
    assert!(Pipeline::parse(&tiers(32), "t.toml").is_ok());
}

#[test]
fn aggregate_settings_follow_the_pipeline() {
    assert_eq!(
        Pipeline::default().aggregate_settings(),
        AggregateSettings::default()
    );
    let pipeline = Pipeline::parse(
        "[meter]\ntick = \"1s\"\n[histogram]\nsignificant_digits = 3\nquantiles = [0.9]\n",
        "t.toml",
    )
    .unwrap();
    let settings = pipeline.aggregate_settings();
    assert_eq!(settings.tick, Duration::from_secs(1));
    assert_eq!(settings.histogram.significant_digits, 3);
    assert_eq!(settings.quantiles, vec![0.9]);
}

#[test]
fn shard_count_resolves_zero_to_the_cores() {
    assert!(Pipeline::default().shard_count() >= 1);
    let four = Pipeline::parse("shards = 4\n", "t.toml").unwrap();
    assert_eq!(four.shard_count(), 4);
}

#[test]
fn unreadable_file_names_its_path() {
    let err = Pipeline::load(Path::new("/nonexistent/pipeline.toml")).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("cannot read pipeline file /nonexistent/pipeline.toml"));
}

#[test]
fn cluster_partitions_and_replicas_are_checked() {
    let d = Pipeline::default().cluster;
    assert_eq!((d.partitions, d.replicas), (16, 3));
    let set = Pipeline::parse("[cluster]\npartitions = 4\nreplicas = 1\n", "t.toml").unwrap();
    assert_eq!((set.cluster.partitions, set.cluster.replicas), (4, 1));
    let found = problems("[cluster]\npartitions = 0\nreplicas = 9\n");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0]
        .1
        .contains("cluster.partitions must be 1 to 1024, not 0"));
    assert!(found[1]
        .1
        .contains("cluster.replicas must be 1 to 5, not 9"));
    assert_eq!(d.commit_timeout, std::time::Duration::from_secs(10));
    let set = Pipeline::parse("[cluster]\ncommit_timeout = \"3s\"\n", "t.toml").unwrap();
    assert_eq!(
        set.cluster.commit_timeout,
        std::time::Duration::from_secs(3)
    );
    assert!(problems("[cluster]\ncommit_timeout = \"0s\"\n")[0]
        .1
        .contains("cluster.commit_timeout must be more than 0"));
    // What the node would refuse at start is refused here, with its line.
    let found = problems("[cluster]\ncommit_timeout = \"500ms\"\n");
    assert!(
        found[0]
            .1
            .contains("cluster.commit_timeout must be at least 1s"),
        "{found:?}"
    );
    assert!(problems("[cluster]\nowners = 3\n")[0]
        .1
        .contains("unknown field"));
}
