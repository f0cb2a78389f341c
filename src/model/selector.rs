//! Which series a read, a reset or a removal wants.

use super::{Scope, SeriesKey};

/// Which series a read wants. (Serde: resets and removals are logged with their selector.)
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Selector {
    /// Only this scope.
    pub scope: Option<Scope>,
    /// Only this metric name.
    pub name: Option<String>,
    /// Only this service.
    pub service: Option<String>,
}

impl Selector {
    /// True when the series is selected.
    pub fn matches(&self, key: &SeriesKey) -> bool {
        self.scope.is_none_or(|s| s == key.scope)
            && self.name.as_deref().is_none_or(|n| n == key.name)
            && self.service.as_deref().is_none_or(|s| s == key.service)
    }
}
