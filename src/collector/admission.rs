//! Admission as a plain struct: the series limits, the type checks in the registry and the
//! series book, all or nothing. The collector runs it on every live batch; recovery runs the
//! same code on every logged batch (without the limits: those batches were accepted).

use super::book::{LimitBreach, SeriesBook};
use crate::config::Pipeline;
use crate::model::Event;
use crate::model::ItemError;
use crate::registry::Registry;
use parking_lot::RwLock;
use std::sync::Arc;
use thiserror::Error;

/// Why the collector refused a batch; nothing of it was applied.
#[derive(Debug, Error)]
pub enum CollectorError {
    /// Events whose type conflicts with their existing metric: use the metric's type or a new name.
    #[error("type conflict with existing metrics; nothing was applied")]
    Conflict(Vec<ItemError>),
    /// The batch would create series beyond a limit: raise it in the pipeline, remove series
    /// (`DELETE /api/v1/series`) or let idle ones expire (`series_ttl`).
    #[error("{}", describe(.0))]
    Limit(LimitBreach),
    /// Events whose series key has the stable hash of another series' key (keys crafted to
    /// collide): change the name or a tag.
    #[error("series keys collide with other series (by their stable hash); nothing was applied")]
    Collision(Vec<ItemError>),
    /// A queue on the way is full: retry after a moment.
    #[error("meterd is busy: the {0} queue is full; retry shortly")]
    Busy(&'static str),
    /// The write-ahead log could not take the batch; it was not acknowledged.
    #[error("{0}")]
    Wal(#[from] crate::persist::WalError),
}

impl CollectorError {
    /// Whether a queue was full (the write-ahead log's included): the batch may be retried
    /// shortly as it is.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            CollectorError::Busy(_) | CollectorError::Wal(crate::persist::WalError::Full)
        )
    }
}

/// Why an event whose key collides with another series' stable hash is refused.
const COLLISION: &str = "this series' key has the same 64-bit stable hash as another series' \
     key (keys crafted to collide): meterd counts series by that hash, so it cannot keep both; \
     change the name or a tag";

fn describe(b: &LimitBreach) -> String {
    match &b.service {
        Some(service) => format!(
            "the batch would create {} new series in service {service:?}, beyond limits.{} = {}; nothing was applied",
            b.new_series, b.limit, b.max
        ),
        None => format!(
            "the batch would create {} new series, beyond limits.{} = {}; nothing was applied",
            b.new_series, b.limit, b.max
        ),
    }
}

/// Limits, types and the series book, checked and updated together.
pub struct Admission {
    registry: Arc<RwLock<Registry>>,
    book: SeriesBook,
    pipeline: Arc<Pipeline>,
}

impl Admission {
    /// Admission over `registry` and `book`.
    pub fn new(registry: Arc<RwLock<Registry>>, book: SeriesBook, pipeline: Arc<Pipeline>) -> Self {
        Admission {
            registry,
            book,
            pipeline,
        }
    }

    /// Admits a live batch at `now_ms`: the series limits, then the types; on success the
    /// registry and the book are updated, on failure nothing changes.
    pub fn admit(&mut self, events: &[Event], now_ms: i64) -> Result<(), CollectorError> {
        self.check_and_commit(events, now_ms, true)
    }

    /// Admits a logged batch again on recovery (limits are not checked: it was accepted).
    pub fn replay(&mut self, events: &[Event], admitted_ms: i64) -> Result<(), CollectorError> {
        self.check_and_commit(events, admitted_ms, false)
    }

    fn check_and_commit(
        &mut self,
        events: &[Event],
        now_ms: i64,
        limits: bool,
    ) -> Result<(), CollectorError> {
        let plan = self
            .book
            .plan(events, limits.then_some(&*self.pipeline))
            .map_err(CollectorError::Limit)?;
        // Logged batches were admitted: only live ones are refused for a collision.
        if limits && !plan.collisions.is_empty() {
            return Err(CollectorError::Collision(
                plan.collisions
                    .iter()
                    .map(|&index| ItemError {
                        index,
                        message: COLLISION.to_owned(),
                    })
                    .collect(),
            ));
        }
        self.registry
            .write()
            .admit(events)
            .map_err(CollectorError::Conflict)?;
        self.book.commit(events, &plan, now_ms, &self.pipeline);
        Ok(())
    }

    /// The series book (limits and idle times).
    pub fn book(&self) -> &SeriesBook {
        &self.book
    }

    /// The series book, to remove series from it.
    pub fn book_mut(&mut self) -> &mut SeriesBook {
        &mut self.book
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<RwLock<Registry>> {
        &self.registry
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Scope, SeriesKey};

    fn counter(name: &str) -> Event {
        Event::observe(
            SeriesKey::simple(Scope::Application, name, vec![]),
            Kind::Counter,
            1.0,
            0,
        )
    }

    #[test]
    fn a_live_batch_with_a_colliding_key_is_refused_whole_and_a_logged_one_replays() {
        let registry = Arc::new(RwLock::new(Registry::default()));
        let mut book = SeriesBook::default();
        // Every key collides, as keys crafted against the unkeyed stable hash would.
        book.hash_with(|_| 42);
        let mut admission = Admission::new(registry, book, Arc::new(Pipeline::default()));
        admission.admit(&[counter("a")], 0).unwrap();
        let Err(CollectorError::Collision(items)) =
            admission.admit(&[counter("b"), counter("a"), counter("c")], 0)
        else {
            panic!("a colliding key was admitted");
        };
        let indexes: Vec<usize> = items.iter().map(|i| i.index).collect();
        assert_eq!(indexes, [0, 2]);
        assert!(
            items[0].message.contains("stable hash"),
            "{}",
            items[0].message
        );
        // Nothing of the refused batch is registered.
        assert!(admission
            .registry()
            .read()
            .get("default-service", Scope::Application, "b")
            .is_none());
        assert_eq!(admission.book().len(), 1);
        // Recovery admits what the log holds, as it was accepted then.
        admission.replay(&[counter("b")], 0).unwrap();
    }
}
