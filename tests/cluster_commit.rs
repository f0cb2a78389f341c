//! A batch over several partitions is applied in all of them or in none (issue 13): against
//! real nats-servers and a real cluster node (`meterd::cluster::Node`).
//!
//! - An ingesting node that dies after storing a batch's parts but before its commit: the
//!   owner aborts the batch after `commit_timeout`, and a late commit cannot revive it.
//! - One that dies after storing the commit but before the markers: the owner applies it.
//! - A batch one of whose parts JetStream refuses (larger than the server's max_payload) while
//!   it stores the others: nothing of the batch is applied.
//! - Two of three nats-servers killed while batches are being published (some parts acked,
//!   others not): every batch ends up wholly applied or not at all, and every acknowledged
//!   one wholly applied.
//!
//! Skipped without nats-server (fails under `METERD_REQUIRE_PEERS=1`). Every wait is bounded.

mod common;

use bytes::Bytes;
use common::nats::NatsCluster;
use meterd::aggregate::AggregateSettings;
use meterd::clock::SystemClock;
use meterd::cluster::nats::decision::Decision;
use meterd::cluster::owned::part_payload;
use meterd::cluster::partition::split;
use meterd::cluster::wire::Entry;
use meterd::cluster::{ClusterSettings, Jet, Node, Outgoing};
use meterd::model::{Event, Kind, Scope, Selector, SeriesKey, ValueView};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bound on any single wait in these tests.
const WAIT: Duration = Duration::from_secs(60);
/// Partitions of the test clusters.
const PARTITIONS: u32 = 4;

fn settings(nats: &NatsCluster, node: &str, replicas: usize) -> ClusterSettings {
    let mut s = ClusterSettings::new(nats.urls(), node);
    s.partitions = PARTITIONS;
    s.replicas = replicas;
    s.heartbeat = Duration::from_millis(250);
    s.member_ttl = Duration::from_millis(2500);
    s.commit_timeout = Duration::from_secs(1);
    s
}

/// Starts a node (blocking: it joins before it answers).
async fn start(s: ClusterSettings) -> Node {
    tokio::task::spawn_blocking(move || {
        Node::start(
            s,
            AggregateSettings::default(),
            Duration::from_secs(60),
            Arc::new(SystemClock::new()),
        )
    })
    .await
    .unwrap()
    .expect("the node joins")
}

/// `n` counter events of series `name`, one per tag value, spread over the partitions.
fn batch(name: &str, n: u32) -> Vec<Event> {
    (0..n)
        .map(|j| {
            let key = SeriesKey::simple(
                Scope::Application,
                name,
                vec![("j".into(), j.to_string().into())],
            );
            Event::observe(key, Kind::Counter, 1.0, 0)
        })
        .collect()
}

/// Reads the counts until all 16 series of batch `name` show, checking `each` on every read;
/// fails past [`WAIT`].
async fn counts_once_applied(
    node: &Node,
    name: &str,
    each: impl Fn(&BTreeMap<String, usize>),
) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = counts(node).await;
        each(&now);
        if now.get(name) == Some(&16) {
            return now;
        }
        assert!(Instant::now() < deadline, "{now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many series of each name the cluster shows, once every partition answers. Every event
/// counts 1 into a series of its own, so any other value is a batch applied twice.
async fn counts(node: &Node) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        match node.read(Selector::default(), false).await {
            Ok(merged) => {
                let mut out = BTreeMap::new();
                for (key, value) in merged.views {
                    assert_eq!(
                        value,
                        ValueView::Counter(1.0),
                        "{key:?} applied more than once"
                    );
                    *out.entry(key.name.into()).or_insert(0) += 1;
                }
                return out;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "no full read: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Publishes batch `name`'s parts as pending parts of batch `tx`, as an ingesting node does
/// before deciding (and then dies).
async fn publish_parts(jet: &Jet, tx: &str, name: &str) {
    let parts: Vec<Outgoing> = split(batch(name, 16), PARTITIONS)
        .into_iter()
        .map(|(partition, events)| Outgoing {
            partition,
            msg_id: format!("{tx}-{partition}"),
            payload: Bytes::from(part_payload(tx, 0, &events)),
        })
        .collect();
    assert_eq!(
        parts.len(),
        PARTITIONS as usize,
        "the batch spans every partition"
    );
    jet.publish_all(parts).await.expect("parts stored");
}

#[tokio::test]
async fn a_batch_left_without_its_commit_is_aborted_and_one_left_without_markers_applied() {
    let Some(nats) = NatsCluster::start(1) else {
        return;
    };
    let node = start(settings(&nats, "owner", 1)).await;
    let jet = Jet::connect(&settings(&nats, "ingester", 1)).await.unwrap();
    counts(&node).await;

    // Died before its commit.
    publish_parts(&jet, "dead-before-commit", "lost").await;
    // Died after its commit was stored, before any commit marker.
    publish_parts(&jet, "dead-after-commit", "kept").await;
    jet.propose("dead-after-commit", Decision::Commit)
        .await
        .unwrap();
    let held = counts(&node).await;
    assert!(
        !held.contains_key("lost") && !held.contains_key("kept"),
        "a pending part is applied before its marker: {held:?}"
    );

    let deadline = Instant::now() + WAIT;
    loop {
        let now = counts(&node).await;
        assert!(
            !now.contains_key("lost"),
            "an uncommitted batch applied: {now:?}"
        );
        let aborted = jet.outcome("dead-before-commit").await.unwrap();
        if now.get("kept") == Some(&16) && aborted == Some(Decision::Abort) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {now:?} {aborted:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Its ingesting node comes back too late: the abort stands, and commit markers of a batch
    // whose parts were dropped apply nothing.
    assert_eq!(
        jet.decide("dead-before-commit", Decision::Commit)
            .await
            .unwrap(),
        Decision::Abort
    );
    let marker = Bytes::from(
        Entry::Commit {
            tx: "dead-before-commit".into(),
        }
        .encode(),
    );
    let marks = (0..PARTITIONS)
        .map(|partition| Outgoing {
            partition,
            msg_id: format!("late-{partition}"),
            payload: marker.clone(),
        })
        .collect();
    jet.publish_all(marks).await.unwrap();
    // A batch published afterwards is applied: once it shows, the late markers were read too.
    node.publish(batch("after", 16)).await.unwrap();
    let now = counts_once_applied(&node, "after", |_| {}).await;
    assert!(!now.contains_key("lost"), "{now:?}");
    assert_eq!(now.get("kept"), Some(&16));
    node.close().await;
}

#[tokio::test]
async fn a_batch_with_a_part_jetstream_refuses_is_applied_nowhere() {
    let Some(nats) = NatsCluster::start(1) else {
        return;
    };
    let node = start(settings(&nats, "owner", 1)).await;
    counts(&node).await;
    // One event above the server's 1 MB max_payload: its part cannot be stored (a single
    // event is never split), while the parts of the other partitions are.
    let mut torn = batch("torn", 16);
    torn[0].key.tags = vec![("j".into(), "x".repeat(1_200_000).into())];
    let refused = node.publish(torn).await;
    assert!(refused.is_err(), "a part above max_payload was stored");
    // Every other part was stored; the owner aborts them after commit_timeout. A batch
    // published after that shows once applied; the refused one must not show by then.
    tokio::time::sleep(Duration::from_secs(3)).await;
    node.publish(batch("after", 16)).await.unwrap();
    counts_once_applied(&node, "after", |now| {
        assert!(
            !now.contains_key("torn"),
            "a refused batch applied in part: {now:?}"
        );
    })
    .await;
    node.close().await;
}

#[tokio::test]
async fn batches_cut_by_losing_the_quorum_mid_publish_are_applied_wholly_or_not_at_all() {
    let Some(mut nats) = NatsCluster::start(3) else {
        return;
    };
    let node = start(settings(&nats, "a", 3)).await;
    counts(&node).await;

    const PUSHERS: usize = 4;
    const PER_PUSHER: usize = 60;
    let mut pushers = Vec::new();
    for n in 0..PUSHERS {
        let node = node.clone();
        pushers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in 0..PER_PUSHER {
                let name = format!("b{n}x{i}");
                let answer = node.publish(batch(&name, 16)).await;
                answers.push((name, answer.map_err(|e| e.to_string())));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answers
        }));
    }
    // Two servers of three die while batches are in flight: parts acked before keep their
    // place, the rest cannot be stored until the quorum is back, which is after a publish
    // gives up (REQUEST_TIMEOUT).
    tokio::time::sleep(Duration::from_millis(400)).await;
    nats.kill(1);
    nats.kill(2);
    tokio::time::sleep(meterd::cluster::jet::REQUEST_TIMEOUT + Duration::from_secs(2)).await;
    let nats = tokio::task::spawn_blocking(move || {
        nats.restart(1);
        nats.restart(2);
        nats
    })
    .await
    .unwrap();

    let mut answers = Vec::new();
    for p in pushers {
        answers.extend(p.await.unwrap());
    }
    let refused = answers.iter().filter(|(_, a)| a.is_err()).count();
    let unknown = answers
        .iter()
        .filter(|(_, a)| a.as_ref().is_err_and(|e| e.contains("outcome unknown")))
        .count();
    eprintln!(
        "{} batches acknowledged, {refused} refused while the quorum was lost ({unknown} with their outcome unknown)",
        answers.len() - refused
    );
    assert!(
        refused > 0,
        "the quorum was lost while batches were published"
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let now = counts(&node).await;
        let torn: Vec<(&str, usize)> = answers
            .iter()
            .filter_map(|(name, _)| {
                let n = now.get(name).copied().unwrap_or(0);
                (n != 0 && n != 16).then_some((name.as_str(), n))
            })
            .collect();
        let missing: Vec<&str> = answers
            .iter()
            .filter(|(name, a)| a.is_ok() && now.get(name) != Some(&16))
            .map(|(name, _)| name.as_str())
            .collect();
        // A refusal whose outcome is known means nothing of the batch is applied.
        let refused_but_applied: Vec<&str> = answers
            .iter()
            .filter(|(name, a)| {
                a.as_ref().is_err_and(|e| !e.contains("outcome unknown")) && now.contains_key(name)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        assert!(
            refused_but_applied.is_empty(),
            "refused, yet applied: {refused_but_applied:?}"
        );
        if torn.is_empty() && missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "batches applied in part: {torn:?}; acknowledged but not applied: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    node.close().await;
    drop(nats);
}
