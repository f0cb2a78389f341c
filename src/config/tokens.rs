//! The tokens file (`--tokens FILE`, `METERD_TOKENS`): bearer tokens that guard the API.
//!
//! ```toml
//! [[token]]
//! secret = "a-long-random-string-only-its-holder-knows"  # 16 to 256 bytes
//! role = "ingest"                                      # "ingest", "read" or "admin"
//! service = "smart_city"                               # optional: one service only
//! ```
//!
//! `read` reads, `ingest` pushes, `admin` does both plus resets and removals. A token with a
//! `service` may only push to and read that service (admin tokens are never bound). Secrets
//! are compared in constant time and never printed.

use super::error::Problem;
use crate::model::parse_service;
use serde::Deserialize;
use std::fmt;
use std::path::Path;
use subtle::ConstantTimeEq;
use toml::Spanned;

/// Shortest secret accepted: short secrets can be guessed.
pub const MIN_SECRET: usize = 16;
/// Longest secret accepted.
pub const MAX_SECRET: usize = 256;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Push events.
    Ingest,
    /// Read metrics and queries.
    Read,
    /// Everything: push, read, reset and remove.
    Admin,
}

/// One bearer token.
#[derive(Clone)]
pub struct Token {
    /// The secret, zero-padded to [`MAX_SECRET`] for a comparison whose time does not depend
    /// on it.
    padded: [u8; MAX_SECRET],
    len: u64,
    /// What it may do.
    pub role: Role,
    /// The one service it is bound to, if any.
    pub service: Option<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("role", &self.role)
            .field("service", &self.service)
            .finish()
    }
}

fn pad(secret: &[u8]) -> Option<[u8; MAX_SECRET]> {
    let mut out = [0; MAX_SECRET];
    out.get_mut(..secret.len())?.copy_from_slice(secret);
    Some(out)
}

/// The tokens of a tokens file.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

/// Why a tokens file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// The file could not be read: check the path and its permissions.
    #[error("cannot read tokens file {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a valid tokens file: fix every problem listed.
    #[error("{}", list(origin, problems))]
    Invalid {
        /// The file.
        origin: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn list(origin: &str, problems: &[Problem]) -> String {
    let mut out = format!("invalid tokens file {origin}:");
    for p in problems {
        match p.line {
            Some(line) => out.push_str(&format!("\n{origin}:{line}: {}", p.message)),
            None => out.push_str(&format!("\n{origin}: {}", p.message)),
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    token: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    secret: Spanned<String>,
    role: Role,
    service: Option<Spanned<String>>,
}

impl Tokens {
    /// Reads and checks the tokens file at `path`.
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
            path: origin.clone(),
            source,
        })?;
        Tokens::parse(&text, &origin)
    }

    /// Checks tokens-file `text`; `origin` names it in errors. Problems never quote a secret.
    pub fn parse(text: &str, origin: &str) -> Result<Tokens, TokensError> {
        let invalid = |problems| TokensError::Invalid {
            origin: origin.to_owned(),
            problems,
        };
        let raw: RawFile = super::error::parse_toml(text).map_err(|p| invalid(vec![p]))?;
        let mut problems = Vec::new();
        let mut tokens: Vec<Token> = Vec::new();
        if raw.token.is_empty() {
            problems.push(Problem {
                line: None,
                message: "no [[token]] entries: a tokens file with none would lock everyone out"
                    .into(),
            });
        }
        for raw in raw.token {
            let secret = raw.secret.get_ref().as_bytes();
            let mut report =
                |span, message: String| problems.push(Problem::at(text, span, message));
            if !(MIN_SECRET..=MAX_SECRET).contains(&secret.len()) {
                report(
                    raw.secret.span(),
                    format!("secret must be {MIN_SECRET} to {MAX_SECRET} bytes long"),
                );
                continue;
            }
            let Some(padded) = pad(secret) else { continue };
            let len = secret.len() as u64;
            if tokens.iter().any(|t| t.padded == padded && t.len == len) {
                report(raw.secret.span(), "the same secret is given twice".into());
                continue;
            }
            let service = match (&raw.service, raw.role) {
                (None, _) => None,
                (Some(s), Role::Admin) => {
                    report(
                        s.span(),
                        "admin tokens cannot be bound to a service; use role = \"ingest\" or \"read\""
                            .into(),
                    );
                    continue;
                }
                // Orion reads an empty `Fiware-Service` as the default service; a binding
                // must name one on purpose, so an empty one is a mistake, not a default.
                (Some(s), _) if s.get_ref().trim().is_empty() => {
                    report(
                        s.span(),
                        "service is empty: name the service this token is bound to \
                         (e.g. \"default-service\"), or leave the key out for every service"
                            .into(),
                    );
                    continue;
                }
                (Some(s), _) => match parse_service(s.get_ref()) {
                    Ok(service) => Some(service),
                    Err(message) => {
                        report(s.span(), message);
                        continue;
                    }
                },
            };
            tokens.push(Token {
                padded,
                len,
                role: raw.role,
                service,
            });
        }
        if problems.is_empty() {
            Ok(Tokens { tokens })
        } else {
            problems.sort_by_key(|p| p.line);
            Err(invalid(problems))
        }
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token whose secret is `presented`. Every token is compared, each in time that does
    /// not depend on the secrets.
    pub fn find(&self, presented: &str) -> Option<&Token> {
        let bytes = presented.as_bytes();
        let padded = pad(bytes).unwrap_or([0; MAX_SECRET]);
        // A presented secret too long to be one compares as length 0, which none has.
        let len = if bytes.len() <= MAX_SECRET {
            bytes.len() as u64
        } else {
            0
        };
        let mut found = None;
        for token in &self.tokens {
            let same = token.padded.ct_eq(&padded) & token.len.ct_eq(&len);
            if bool::from(same) {
                found = Some(token);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[token]]
secret = "ingest-secret-0123456789"
role = "ingest"
service = "Smart_City"

[[token]]
secret = "admin-secret-0123456789"
role = "admin"
"#;

    #[test]
    fn finds_tokens_by_secret_only() {
        let tokens = Tokens::parse(FILE, "tokens.toml").unwrap();
        assert_eq!(tokens.len(), 2);
        let t = tokens.find("ingest-secret-0123456789").unwrap();
        assert_eq!(
            (t.role, t.service.as_deref()),
            (Role::Ingest, Some("smart_city"))
        );
        assert_eq!(
            tokens.find("admin-secret-0123456789").unwrap().role,
            Role::Admin
        );
        assert!(tokens.find("admin-secret-012345678").is_none());
        assert!(tokens.find("admin-secret-01234567890").is_none());
        assert!(tokens.find("").is_none());
        assert!(tokens.find(&"x".repeat(1000)).is_none());
        assert!(
            !format!("{tokens:?}").contains("secret-0123"),
            "never printed"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line_and_no_secret() {
        let text = r#"
[[token]]
secret = "short"
role = "read"

[[token]]
secret = "admin-secret-0123456789"
role = "admin"
service = "x"

[[token]]
secret = "read-secret-0123456789"
role = "read"
service = "bad-name"
"#;
        let err = Tokens::parse(text, "t.toml").unwrap_err().to_string();
        assert!(err.contains("t.toml:3: secret must be 16"), "{err}");
        assert!(err.contains("t.toml:9: admin tokens"), "{err}");
        assert!(err.contains("t.toml:14: service"), "{err}");
        let err = Tokens::parse(
            "[[token]]\nsecret = \"0123456789abcdefg\"\nrole = \"read\"\nservice = \" \"\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("t:4: service is empty"), "{err}");
        assert!(!err.contains("secret-0123"), "{err}");
        let err = Tokens::parse(
            "[[token]]\nsecret = \"0123456789abcdefg\"\nrole = \"root\"\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("t:3"), "{err}");
        assert!(
            Tokens::parse("", "t").is_err(),
            "an empty file locks everyone out"
        );
    }
}
