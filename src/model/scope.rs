use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The three MicroProfile registries. `base` and `vendor` hold meterd's own metrics;
/// pushed events default to `application`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Process readings every server exposes (threads, memory, CPU time, uptime).
    Base,
    /// meterd's own pipeline counters.
    Vendor,
    /// Everything applications push.
    Application,
}

impl Scope {
    /// All scopes in the order MicroProfile renders them.
    pub const ALL: [Scope; 3] = [Scope::Base, Scope::Vendor, Scope::Application];

    /// The lowercase name used in URLs, JSON and Prometheus name prefixes.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Base => "base",
            Scope::Vendor => "vendor",
            Scope::Application => "application",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}: expected base, vendor or application"))
    }
}
