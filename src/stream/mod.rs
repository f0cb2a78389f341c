//! Kanto-style subscriptions (seed 004): a client asks for measurements every `frequency`,
//! filtered by `id` and `originator`, and gets data messages over a WebSocket (the Kanto
//! metrics API's Ditto messages) or Server-Sent Events.
//!
//! The protocol is plain code: [`request`] parses and checks requests ([`frequency`],
//! [`filter`]), [`message`] builds responses and data messages from a [`frame`]. The
//! [`hub::Hub`] actor serves subscribers grouped by period ([`groups`]), sharing frames among
//! groups ([`share`]), and pushes into each subscriber's bounded [`outbox`]; the
//! [`system::SystemMonitor`] actor samples the host every second for the `SYSTEM` originator.
//! [`gate`] bounds the number of subscribers. The HTTP edge holds a [`Streams`] handle and
//! runs one [`Conversation`] per WebSocket.

mod conversation;
mod error;
pub mod filter;
pub mod frame;
pub mod frequency;
pub mod gate;
pub mod groups;
mod handle;
pub mod hub;
pub mod message;
pub mod outbox;
pub mod request;
pub mod share;
pub mod system;

pub use conversation::Conversation;
pub use error::StreamError;
pub use handle::{Streams, Subscription};
