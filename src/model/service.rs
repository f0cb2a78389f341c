//! Orion's tenancy: services and service paths, with the naming rules of its `/admin/metrics`.

/// The service an event belongs to when neither the event nor the request names one (Orion's rule).
pub const DEFAULT_SERVICE: &str = "default-service";
/// The subservice key Orion uses for the service path `/`.
pub const ROOT_SUBSERV: &str = "root-subserv";

const MAX_SERVICE_LEN: usize = 50;
const MAX_LEVELS: usize = 10;
const MAX_LEVEL_LEN: usize = 50;

/// A validated Orion service path, normalised (e.g. `/gardens/north`; `/A, /B` → `/A`; `/A/#` → `/A`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ServicePath(String);

impl ServicePath {
    /// The root path `/`.
    pub fn root() -> Self {
        ServicePath("/".to_owned())
    }

    /// Parses a `Fiware-ServicePath` value by Orion's rules: it starts with `/`, has at most 10
    /// levels of 1–50 alphanumeric or `_` characters; of a comma-separated list only the first
    /// counts; a trailing `/#` is dropped. An empty value means `/`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let first = raw.split(',').next().unwrap_or("").trim();
        if first.is_empty() || first == "/" {
            return Ok(Self::root());
        }
        let path = first.strip_suffix("/#").unwrap_or(first);
        if path.is_empty() {
            return Ok(Self::root()); // `/#`: the root, recursively
        }
        let Some(rest) = path.strip_prefix('/') else {
            return Err(format!("service path {raw:?} must start with '/'"));
        };
        let levels: Vec<&str> = rest.split('/').collect();
        if levels.len() > MAX_LEVELS {
            return Err(format!(
                "service path {raw:?} has more than {MAX_LEVELS} levels"
            ));
        }
        for level in &levels {
            if level.is_empty()
                || level.len() > MAX_LEVEL_LEN
                || !level
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                return Err(format!(
                    "service path {raw:?}: each level must be 1-{MAX_LEVEL_LEN} alphanumeric or '_' characters"
                ));
            }
        }
        Ok(ServicePath(path.to_owned()))
    }

    /// The path as a string, e.g. `/gardens/north`.
    pub fn as_str(&self) -> &str {
        &self.0
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

/// Validates a `Fiware-Service` value: alphanumeric and `_`, at most 50 characters. Orion
/// lower-cases service names; so does meterd. An empty value means `default-service`.
pub fn parse_service(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw == DEFAULT_SERVICE {
        return Ok(DEFAULT_SERVICE.to_owned());
    }
    if raw.len() > MAX_SERVICE_LEN || !raw.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return Err(format!(
            "service {raw:?} must be 1-{MAX_SERVICE_LEN} alphanumeric or '_' characters"
        ));
    }
    Ok(raw.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orion_path_rules() {
        assert_eq!(
            ServicePath::parse("/gardens/north").unwrap().subserv_key(),
            "gardens/north"
        );
        assert_eq!(ServicePath::parse("/A, /B").unwrap().subserv_key(), "A");
        assert_eq!(ServicePath::parse("/A/#").unwrap().subserv_key(), "A");
        assert_eq!(ServicePath::parse("/").unwrap().subserv_key(), ROOT_SUBSERV);
        assert_eq!(ServicePath::parse("").unwrap().subserv_key(), ROOT_SUBSERV);
        assert_eq!(
            ServicePath::parse("/#").unwrap().subserv_key(),
            ROOT_SUBSERV
        );
        assert_eq!(
            ServicePath::parse(" /gardens/north/# , /x")
                .unwrap()
                .as_str(),
            "/gardens/north"
        );
        assert!(ServicePath::parse("/A/#/#").is_err());
        assert!(ServicePath::parse("gardens").is_err());
        assert!(ServicePath::parse("/a-b").is_err());
        assert!(ServicePath::parse("/a//b").is_err());
        assert!(ServicePath::parse(&"/x".repeat(11)).is_err());
        assert!(parse_service("bad-name").is_err());
        assert_eq!(parse_service("").unwrap(), DEFAULT_SERVICE);
        assert_eq!(parse_service("Smart_City").unwrap(), "smart_city");
    }
}
