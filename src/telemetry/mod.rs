//! meterd's own readings, as plain structs with no actix: the process readings for the
//! MicroProfile `base` scope ([`read_process`], [`base_gauges`]) and the host readings of the
//! Kanto `SYSTEM` originator ([`SystemSampler`], [`SYSTEM_IDS`]), both read from Linux
//! `/proc`. Where `/proc` cannot be read (non-Linux hosts) the readings are zeros, never an
//! error. Actors elsewhere sample them on a timer.

mod process;
mod procfs;
mod system;

pub use process::{base_gauges, read_process, ProcessReadings};
pub use system::{SystemSampler, ORIGINATOR, SYSTEM_IDS};

mod counters;
mod outcome;
mod own;
mod udp;

pub use counters::Counters;
pub use outcome::{Outcome, Reason, Refusals};
pub use own::{own_families, register_own};

mod traffic;

pub use traffic::{
    register_traffic, IncomingTraffic, TrafficTotals, Transaction, INCOMING_ERRORS,
    INCOMING_REQUEST_SIZE, INCOMING_RESPONSE_SIZE, INCOMING_TRANSACTIONS, SERVICE_TIME,
    TRAFFIC_FAMILIES,
};
pub use udp::UdpCounters;
