/// The service an event belongs to when neither the event nor the request names one (Orion's rule).
pub const DEFAULT_SERVICE: &str = "default-service";
/// The subservice key Orion uses for the service path `/`.
pub const ROOT_SUBSERV: &str = "root-subserv";

/// A validated Orion service path, stored as given (e.g. `/gardens/north`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePath(pub String);

impl ServicePath {
    /// The root path `/`.
    pub fn root() -> Self {
        ServicePath("/".to_owned())
    }

    /// The subservice key of Orion's `/admin/metrics` tree: the leading `/` dropped,
    /// `root-subserv` for `/`.
    pub fn subserv_key(&self) -> &str {
        match self.0.strip_prefix('/') {
            Some("") | None => ROOT_SUBSERV,
            Some(rest) => rest,
        }
    }
}

impl Default for ServicePath {
    fn default() -> Self {
        Self::root()
    }
}
