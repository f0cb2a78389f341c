//! The host sampler actor: reads the `SYSTEM` measurements every second and publishes the
//! latest reading for the hub to take when it builds a frame.

use crate::telemetry::SystemSampler;
use actix::{Actor, AsyncContext, Context};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the host is sampled (`cpu.utilization` is the busy share of this interval).
pub const SAMPLE_PERIOD: Duration = Duration::from_secs(1);

/// The latest `SYSTEM` reading: every id of [`crate::telemetry::SYSTEM_IDS`] with its value.
pub type SystemReading = Arc<Vec<(&'static str, f64)>>;

/// Samples the host on a timer; a thin shell over [`SystemSampler`].
pub struct SystemMonitor {
    sampler: SystemSampler,
    latest: watch::Sender<SystemReading>,
}

impl SystemMonitor {
    /// A monitor that has taken its first sample, and the receiver of its readings.
    pub fn new(mut sampler: SystemSampler) -> (Self, watch::Receiver<SystemReading>) {
        let (latest, readings) = watch::channel(Arc::new(sampler.sample()));
        (SystemMonitor { sampler, latest }, readings)
    }
}

impl Actor for SystemMonitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(SAMPLE_PERIOD, |act, _| {
            act.latest.send_replace(Arc::new(act.sampler.sample()));
        });
    }
}
