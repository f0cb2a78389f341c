//! The answer to one submitted batch, sent by whichever of its two conditions comes last: the
//! log confirmed the batch, and the collector handed its events to the shards (at the end of
//! the collector's turn). Whoever completes the second sends it, so the waiting HTTP worker
//! is woken once, with no hop back through the collector: the log's thread under
//! `durability.mode = "fsync"`, the collector itself otherwise (it writes its turn's records,
//! see `Log::flush`). The hand-off condition keeps read-your-writes: a query sent after the
//! answer reaches every shard after the batch does.

use super::CollectorError;
use crate::persist::{Confirm, WalError};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Where the answer to a submitted batch goes: the number of events accepted, or why not.
pub type Reply = oneshot::Sender<Result<usize, CollectorError>>;

/// One batch's answer, waiting for the log and the hand-off (see the module doc).
#[derive(Clone)]
pub struct Answer(Arc<Mutex<Waiting>>);

struct Waiting {
    reply: Option<Reply>,
    events: usize,
    /// What the log said, once it has.
    logged: Option<Result<(), WalError>>,
    /// The events are on their way to the shards.
    handed_off: bool,
}

impl Answer {
    /// The answer of a batch of `events`, to be sent on `reply`.
    pub fn new(reply: Reply, events: usize) -> Self {
        Answer(Arc::new(Mutex::new(Waiting {
            reply: Some(reply),
            events,
            logged: None,
            handed_off: false,
        })))
    }

    /// What the log calls with its outcome.
    pub fn on_logged(&self) -> Confirm {
        let answer = self.clone();
        Box::new(move |result| {
            let mut waiting = answer.0.lock();
            waiting.logged = Some(result);
            waiting.send_if_ready();
        })
    }

    /// The batch was refused before reaching the log: answered at once.
    pub fn refuse(&self, e: CollectorError) {
        if let Some(reply) = self.0.lock().reply.take() {
            let _ = reply.send(Err(e));
        }
    }

    /// The collector has handed the batch to the shards.
    pub fn handed_off(&self) {
        let mut waiting = self.0.lock();
        waiting.handed_off = true;
        waiting.send_if_ready();
    }
}

impl Waiting {
    fn send_if_ready(&mut self) {
        if !self.handed_off {
            return;
        }
        if let Some(logged) = self.logged.take() {
            if let Some(reply) = self.reply.take() {
                let _ = reply.send(logged.map(|()| self.events).map_err(Into::into));
            }
        }
    }
}

impl Drop for Waiting {
    /// Neither side can answer any more (the log writer or the collector stopped first).
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(WalError::Closed.into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> (Answer, oneshot::Receiver<Result<usize, CollectorError>>) {
        let (reply, rx) = oneshot::channel();
        (Answer::new(reply, 3), rx)
    }

    #[test]
    fn the_answer_waits_for_both_the_log_and_the_hand_off_in_either_order() {
        let (a, mut rx) = answer();
        a.on_logged()(Ok(()));
        assert!(rx.try_recv().is_err(), "not handed off yet");
        a.handed_off();
        assert_eq!(rx.try_recv().unwrap().unwrap(), 3);

        let (a, mut rx) = answer();
        a.handed_off();
        assert!(rx.try_recv().is_err(), "not logged yet");
        a.on_logged()(Err(WalError::Io("disk full".into())));
        assert!(matches!(
            rx.try_recv().unwrap(),
            Err(CollectorError::Wal(_))
        ));
    }

    #[test]
    fn an_answer_nobody_can_give_any_more_reads_as_a_closed_log() {
        let (a, mut rx) = answer();
        let confirm = a.on_logged();
        a.handed_off();
        drop(a);
        assert!(rx.try_recv().is_err(), "the log still holds it");
        drop(confirm);
        assert!(matches!(
            rx.try_recv().unwrap(),
            Err(CollectorError::Wal(WalError::Closed))
        ));
    }
}
