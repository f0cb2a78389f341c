//! The six streams meterd keeps in JetStream, their subjects, and how an existing one is
//! checked against the settings.

use super::{cas, errors};
use crate::cluster::{ClusterError, ClusterSettings};
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, stream::Stream};
use std::time::Duration;

/// The event log: one subject per partition.
pub const EVENTS: &str = "METERD_EV";
/// Membership heartbeats, one message kept per subject (a dead member's expires).
pub const CONTROL: &str = "METERD_CTL";
/// The placement, alone on its stream so that its compare-and-set can name the stream's
/// sequence (see [`super::cas`]).
pub const PLACEMENT: &str = "METERD_PLACE";
/// Checkpoint heads, one kept per partition.
pub const CHECKPOINTS: &str = "METERD_CKPT";
/// Checkpoint data chunks, addressed by sequence from their head.
pub const CHECKPOINT_DATA: &str = "METERD_CKPT_DATA";
/// The outcomes of batches over several partitions, one subject per batch; the first message
/// of a subject is the outcome (see [`super::decision`]).
pub const DECISIONS: &str = "METERD_TX";

/// How long JetStream remembers a `Nats-Msg-Id` to drop a retried publish.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The subject of partition `p`'s events.
pub fn event_subject(p: u32) -> String {
    format!("meterd.ev.{p}")
}

/// How long a batch's outcome is kept: far beyond any `commit_timeout`, so that an owner
/// settling a held part finds it; bounded, because the server keeps state per subject and
/// every batch over several partitions has one.
pub const OUTCOME_MAX_AGE: Duration = Duration::from_secs(3600);

/// The subject of batch `tx`'s outcome.
pub fn decision_subject(tx: &str) -> String {
    format!("meterd.tx.{tx}")
}

/// The subject of `node`'s heartbeats.
pub fn member_subject(node: &str) -> String {
    format!("meterd.ctl.member.{node}")
}

/// Every member's heartbeat subject.
pub const MEMBER_SUBJECTS: &str = "meterd.ctl.member.*";

/// The placement's subject.
pub const PLACEMENT_SUBJECT: &str = "meterd.place.current";

/// The subject of the placement stream's seed message.
pub const PLACEMENT_SEED: &str = "meterd.place.seed";

/// The subject of the checkpoint head stream's seed message.
pub const CHECKPOINT_SEED: &str = "meterd.ckpt.seed";

/// How long a member's last heartbeat stays stored: long after any member TTL, so the
/// subjects of members gone for good do not pile up.
pub const MEMBER_MAX_AGE: Duration = Duration::from_secs(600);

/// The subject of partition `p`'s checkpoint head.
pub fn checkpoint_subject(p: u32) -> String {
    format!("meterd.ckpt.{p}")
}

/// The subject of partition `p`'s checkpoint data chunks.
pub fn checkpoint_data_subject(p: u32) -> String {
    format!("meterd.ckd.{p}")
}

/// The event stream's description, which records the partition count for later connects.
fn events_description(partitions: u32) -> String {
    format!("meterd event log; partitions={partitions}")
}

/// The partition count recorded in an event stream's description.
fn recorded_partitions(description: Option<&str>) -> Option<u32> {
    description?
        .strip_prefix("meterd event log; partitions=")?
        .parse()
        .ok()
}

/// The configurations of the six streams for these settings.
fn configs(s: &ClusterSettings) -> [Config; 6] {
    let base = Config {
        storage: StorageType::File,
        num_replicas: s.replicas,
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::Old,
        ..Default::default()
    };
    [
        Config {
            name: EVENTS.into(),
            subjects: vec!["meterd.ev.*".into()],
            duplicate_window: DUPLICATE_WINDOW,
            description: Some(events_description(s.partitions)),
            ..base.clone()
        },
        Config {
            name: CONTROL.into(),
            subjects: vec!["meterd.ctl.>".into()],
            max_messages_per_subject: 1,
            max_age: MEMBER_MAX_AGE,
            description: Some("meterd membership".into()),
            ..base.clone()
        },
        Config {
            name: PLACEMENT.into(),
            subjects: vec!["meterd.place.>".into()],
            max_messages_per_subject: 1,
            description: Some("meterd placement".into()),
            ..base.clone()
        },
        Config {
            name: CHECKPOINTS.into(),
            subjects: vec!["meterd.ckpt.*".into()],
            max_messages_per_subject: 1,
            description: Some("meterd partition checkpoint heads".into()),
            ..base.clone()
        },
        Config {
            name: CHECKPOINT_DATA.into(),
            subjects: vec!["meterd.ckd.*".into()],
            description: Some("meterd partition checkpoint data".into()),
            ..base.clone()
        },
        Config {
            name: DECISIONS.into(),
            subjects: vec!["meterd.tx.*".into()],
            duplicate_window: DUPLICATE_WINDOW,
            max_age: OUTCOME_MAX_AGE,
            description: Some("meterd outcomes of batches over several partitions".into()),
            ..base
        },
    ]
}

/// The six streams, found or created.
#[derive(Clone)]
pub struct Streams {
    /// [`EVENTS`].
    pub events: Stream,
    /// [`CONTROL`].
    pub control: Stream,
    /// [`PLACEMENT`].
    pub placement: Stream,
    /// [`CHECKPOINTS`].
    pub checkpoints: Stream,
    /// [`CHECKPOINT_DATA`].
    pub checkpoint_data: Stream,
    /// [`DECISIONS`].
    pub decisions: Stream,
}

impl Streams {
    /// Finds each stream, creating the missing ones; an event stream recorded with another
    /// partition count (or not meterd's) is a [`ClusterError::Config`].
    pub async fn ensure(
        js: &jetstream::Context,
        s: &ClusterSettings,
    ) -> Result<Streams, ClusterError> {
        let [ev, ctl, place, ckpt, data, tx] = configs(s);
        let events = ensure_one(js, ev).await?;
        let found = recorded_partitions(events.cached_info().config.description.as_deref());
        match found {
            Some(n) if n == s.partitions => {}
            Some(n) => {
                return Err(ClusterError::Config(format!(
                    "stream {EVENTS} has {n} partitions but the settings say {}; the partition \
                     count is fixed for the life of the stream",
                    s.partitions
                )))
            }
            None => {
                return Err(ClusterError::Config(format!(
                    "stream {EVENTS} exists but was not made by meterd (no partition count in \
                     its description)"
                )))
            }
        }
        let streams = Streams {
            events,
            control: ensure_one(js, ctl).await?,
            placement: ensure_one(js, place).await?,
            checkpoints: ensure_one(js, ckpt).await?,
            checkpoint_data: ensure_one(js, data).await?,
            decisions: ensure_one(js, tx).await?,
        };
        cas::seed(js, &streams.placement, PLACEMENT_SEED).await?;
        cas::seed(js, &streams.checkpoints, CHECKPOINT_SEED).await?;
        Ok(streams)
    }
}

/// Gets the stream named in `config`, or creates it; checks its subjects.
async fn ensure_one(js: &jetstream::Context, config: Config) -> Result<Stream, ClusterError> {
    let name = config.name.clone();
    let what = format!("stream {name}");
    let stream = match js.get_stream(&name).await {
        Ok(stream) => stream,
        Err(e) => {
            let missing = matches!(
                e.kind(),
                async_nats::jetstream::context::GetStreamErrorKind::JetStream(ref err)
                    if err.error_code().0 == errors::STREAM_NOT_FOUND
            );
            if !missing {
                return Err(errors::get_stream(&what, e));
            }
            match js.create_stream(config.clone()).await {
                Ok(stream) => stream,
                // Another node created it first: use theirs.
                Err(e) => match js.get_stream(&name).await {
                    Ok(stream) => stream,
                    Err(_) => return Err(errors::create_stream(&format!("creating {what}"), e)),
                },
            }
        }
    };
    let have = &stream.cached_info().config.subjects;
    if *have != config.subjects {
        return Err(ClusterError::Config(format!(
            "{what} has subjects {have:?}, meterd needs {:?}",
            config.subjects
        )));
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_count_round_trips_through_the_description() {
        let d = events_description(16);
        assert_eq!(recorded_partitions(Some(&d)), Some(16));
        assert_eq!(recorded_partitions(Some("someone else's")), None);
        assert_eq!(recorded_partitions(None), None);
    }
}
