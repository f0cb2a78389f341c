//! Orion's tenancy: services and service paths, with the naming rules of its `/admin/metrics`.

/// The service an event belongs to when neither the event nor the request names one (Orion's rule).
pub const DEFAULT_SERVICE: &str = "default-service";
/// The subservice key Orion uses for the service path `/`.
pub const ROOT_SUBSERV: &str = "root-subserv";

const MAX_SERVICE_LEN: usize = 50;
/// Orion's `SERVICE_PATH_MAX_COMPONENTS`: paths in one `Fiware-ServicePath` list.
const MAX_PATHS: usize = 10;
/// Orion's `SERVICE_PATH_MAX_LEVELS`.
const MAX_LEVELS: usize = 10;
/// Orion's `SERVICE_PATH_MAX_COMPONENT_LEN`.
const MAX_LEVEL_LEN: usize = 50;

/// One path of a `Fiware-ServicePath` list (stripped), checked as Orion's `servicePathCheck`
/// does; the error is Orion's message.
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Ok(()); // the default service path
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err("Only /absolute/ Service Paths allowed [a service path must begin with /]");
    };
    if rest.starts_with('/') {
        return Err("empty component in ServicePath");
    }
    if rest.is_empty() {
        return Ok(()); // `/`
    }
    let components: Vec<&str> = rest.split('/').collect();
    if components.len() > MAX_LEVELS {
        return Err("too many components in ServicePath");
    }
    for (i, component) in components.iter().enumerate() {
        if component.len() > MAX_LEVEL_LEN {
            return Err("component-name too long in ServicePath");
        }
        if component.is_empty() {
            return Err("empty component in ServicePath");
        }
        if i == components.len() - 1 && *component == "#" {
            continue;
        }
        if !component
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return Err("a component of ServicePath contains an illegal character");
        }
    }
    Ok(())
}

/// A validated Orion service path, normalised (e.g. `/gardens/north`; `/A, /B` → `/A`; `/A/#` → `/A`).
/// The root path, which most series have, is held without an allocation of its own.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(from = "String")]
pub struct ServicePath(std::borrow::Cow<'static, str>);

impl From<String> for ServicePath {
    /// A path read back from a snapshot or the log (it was validated when it came in).
    fn from(path: String) -> Self {
        if path == "/" {
            Self::root()
        } else {
            ServicePath(path.into())
        }
    }
}

impl ServicePath {
    /// The root path `/`.
    pub fn root() -> Self {
        ServicePath(std::borrow::Cow::Borrowed("/"))
    }

    /// Parses a `Fiware-ServicePath` value by Orion's rules, as its `servicePathSplit` and
    /// `servicePathCheck` apply them to every request: the value is a comma-separated list of
    /// at most 10 paths (leading commas skipped), each stripped of white space and of one
    /// trailing `/`; every path in the list must be empty (the root) or start with `/` and have
    /// at most 10 components of 1–50 alphanumeric or `_` characters, the last of which may be
    /// exactly `#`. The first path is the one that counts, its trailing `/#` dropped
    /// (`/A, /B` → `/A`, `/A/#` → `/A`, `/#` → `/`). The errors are Orion's own messages.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let paths: Vec<&str> = raw.trim_start_matches(',').split(',').collect();
        if paths.len() > MAX_PATHS {
            return Err(format!(
                "too many service paths - a maximum of ten service paths is allowed ({raw:?})"
            ));
        }
        let paths: Vec<&str> = paths
            .into_iter()
            .map(|p| {
                let p = p.trim();
                match p.strip_suffix('/') {
                    Some(rest) if !rest.is_empty() => rest,
                    _ => p,
                }
            })
            .collect();
        for path in &paths {
            check_path(path).map_err(|m| format!("{m} ({raw:?})"))?;
        }
        let first = paths[0];
        let path = first.strip_suffix("/#").unwrap_or(first);
        if path.is_empty() || path == "/" {
            return Ok(Self::root());
        }
        Ok(ServicePath(path.to_owned().into()))
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

/// Validates a service name as meterd writes it (an event's `service` field, `?service=`, a
/// token's binding): alphanumeric and `_`, at most 50 characters, lower-cased as Orion does;
/// an empty value and meterd's own `default-service` mean the default service. The
/// `Fiware-Service` header follows Orion's rule instead: [`parse_service_header`].
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

/// Validates a `Fiware-Service` header value by Orion's `tenantCheck`, literally: lower-cased,
/// at most 50 characters, each alphanumeric or `_`, so `default-service` (the name meterd gives
/// requests without the header) is refused like any other name with a `-`. An empty value
/// means the default service. The errors are Orion's own messages.
pub fn parse_service_header(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(DEFAULT_SERVICE.to_owned());
    }
    if raw.len() > MAX_SERVICE_LEN {
        return Err(format!(
            "bad length - a tenant name can be max {MAX_SERVICE_LEN} characters long ({raw:?})"
        ));
    }
    if !raw.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return Err(format!(
            "bad character in tenant name - only underscore and alphanumeric characters are allowed ({raw:?})"
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

    #[test]
    fn orion_service_path_checks_every_path_of_the_list() {
        let ok = |raw: &str| ServicePath::parse(raw).map(|p| p.as_str().to_owned());
        assert_eq!(ok("/A/").unwrap(), "/A", "one trailing '/' is dropped");
        assert_eq!(ok(",/A").unwrap(), "/A", "leading commas are skipped");
        assert_eq!(ok("/A,,/B").unwrap(), "/A", "an empty path is the default");
        assert_eq!(ok("   ").unwrap(), "/");
        assert!(ok("/A,/b-c").unwrap_err().contains("illegal character"));
        assert!(ok("/A,B").unwrap_err().contains("must begin with /"));
        assert!(ok("//A").unwrap_err().contains("empty component"));
        assert!(ok("/A//").unwrap_err().contains("empty component"));
        assert!(ok("/A#").unwrap_err().contains("illegal character"));
        assert!(ok(&format!("/{}", "x".repeat(51)))
            .unwrap_err()
            .contains("too long"));
        assert_eq!(ok(&format!("/{}", "x".repeat(50))).unwrap().len(), 51);
        assert!(ok(&format!("{}/#", "/x".repeat(10)))
            .unwrap_err()
            .contains("too many components"));
        assert_eq!(ok(&format!("{}/#", "/x".repeat(9))).unwrap().len(), 18);
        assert!(ok(&["/a"; 11].join(","))
            .unwrap_err()
            .contains("too many service paths"));
        assert_eq!(ok(&["/a"; 10].join(",")).unwrap(), "/a");
        assert!(ok("/root-subserv").is_err(), "meterd's key is no path name");
    }

    #[test]
    fn orion_service_header_rules() {
        assert_eq!(parse_service_header("").unwrap(), DEFAULT_SERVICE);
        assert_eq!(parse_service_header("Smart_City").unwrap(), "smart_city");
        let bad_char = parse_service_header("default-service").unwrap_err();
        assert!(
            bad_char.starts_with("bad character in tenant name"),
            "{bad_char}"
        );
        assert!(parse_service_header("a.b").is_err());
        assert_eq!(parse_service_header(&"s".repeat(50)).unwrap().len(), 50);
        let long = parse_service_header(&"s".repeat(51)).unwrap_err();
        assert!(long.starts_with("bad length"), "{long}");
    }
}
