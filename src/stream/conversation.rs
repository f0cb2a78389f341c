//! One WebSocket client's side of the protocol: each request message gets its response, and
//! a valid one replaces the client's subscription (or stops it).

use super::frequency::Frequency;
use super::groups::Wire;
use super::handle::{Streams, Subscription};
use super::message::{data_topic, response};
use super::outbox::Outbox;
use super::request::parse_request;
use std::sync::Arc;

/// The state of one WebSocket client: at most one subscription.
pub struct Conversation {
    streams: Streams,
    current: Option<Subscription>,
}

impl Conversation {
    /// A client with no subscription yet.
    pub fn new(streams: Streams) -> Self {
        Conversation {
            streams,
            current: None,
        }
    }

    /// Handles one request message; answers the response to send, if any (a 400 always, a
    /// 204 unless the request said `response-required: false`).
    ///
    /// A valid request replaces the subscription: messages of the old one still queued are
    /// discarded, so none follows the response. A refused request changes nothing.
    pub fn on_request(&mut self, text: &str) -> Option<String> {
        let request = match parse_request(text) {
            Ok(request) => request,
            Err((envelope, error)) => return Some(response(&envelope, Some(&error))),
        };
        self.current = match request.frequency {
            Frequency::Stop => None,
            Frequency::Every(period) => {
                // Drop the old subscription first, so that it never counts twice.
                self.current = None;
                let topic = data_topic(&request.envelope.topic);
                Some(
                    self.streams
                        .subscribe(period, request.filters, Wire::Ditto { topic }),
                )
            }
        };
        request
            .response_required
            .then(|| response(&request.envelope, None))
    }

    /// The outbox of the current subscription.
    pub fn outbox(&self) -> Option<Arc<Outbox>> {
        self.current.as_ref().map(|s| s.outbox().clone())
    }
}
