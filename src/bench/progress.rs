//! A progress bar fed from shared counters while a run is going.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters every load task updates.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests (datagrams) completed.
    pub requests: AtomicU64,
    /// Events carried by successful requests.
    pub events: AtomicU64,
    /// Failed requests.
    pub errors: AtomicU64,
    /// Set when the run is over.
    pub done: AtomicBool,
}

/// Draws a bar over `duration` until `progress.done`; returns the drawing thread.
pub fn spawn_bar(
    progress: Arc<Progress>,
    duration: Duration,
    quiet: bool,
) -> Option<std::thread::JoinHandle<()>> {
    if quiet {
        return None;
    }
    Some(std::thread::spawn(move || {
        let bar = ProgressBar::new(duration.as_millis() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let start = Instant::now();
        while !progress.done.load(Relaxed) {
            let secs = start.elapsed().as_secs_f64().max(1e-3);
            bar.set_position(start.elapsed().as_millis() as u64);
            bar.set_message(format!(
                "{} req ({:.0}/s), {:.0} events/s, {} errors",
                progress.requests.load(Relaxed),
                progress.requests.load(Relaxed) as f64 / secs,
                progress.events.load(Relaxed) as f64 / secs,
                progress.errors.load(Relaxed)
            ));
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    }))
}
