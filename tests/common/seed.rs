//! Random seeds for tests that wander: taken from `METERD_TEST_SEED` when set (to replay a
//! failure), else fresh; printed when the test fails, so that every failure can be replayed.

/// A test's seed; prints itself if the test panics while it is alive.
pub struct Seed {
    /// The seed's value.
    pub value: u64,
    test: &'static str,
}

impl Seed {
    /// The seed of `test`: `METERD_TEST_SEED` (decimal or `0x` hex) when set, else one drawn
    /// from the clock and the process id.
    pub fn for_test(test: &'static str) -> Seed {
        let value = match std::env::var("METERD_TEST_SEED") {
            Ok(text) => parse(&text).unwrap_or_else(|| panic!("METERD_TEST_SEED={text:?}")),
            Err(_) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64;
                nanos ^ (u64::from(std::process::id()) << 32)
            }
        };
        Seed { value, test }
    }
}

fn parse(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{} failed with seed {}; replay with METERD_TEST_SEED={} cargo test {}",
                self.test, self.value, self.value, self.test
            );
        }
    }
}
