//! Errors of pipeline files: every problem found, each with its file, line and reason.

use std::fmt;
use std::ops::Range;

/// One thing wrong in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the offending key or value, when known.
    pub line: Option<usize>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl Problem {
    /// A problem at the byte range `span` of `text`.
    pub(super) fn at(text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Problem {
            line: Some(line_of(text, span.start)),
            message: message.into(),
        }
    }
}

/// Why a pipeline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read: check the path and its permissions.
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file was read but is not a valid pipeline: fix every problem listed.
    #[error("{}", Listing { origin, problems })]
    Invalid {
        /// The file (or other origin) of the text.
        origin: String,
        /// Every problem found, in the order of the file where possible.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems of an invalid file; empty for a file that could not be read.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

/// Writes problems compiler-style, `file:line: reason`, one per line.
struct Listing<'a> {
    origin: &'a str,
    problems: &'a [Problem],
}

impl fmt::Display for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let many = self.problems.len() > 1;
        if many {
            write!(f, "{}: {} problems:", self.origin, self.problems.len())?;
        }
        for problem in self.problems {
            if many {
                f.write_str("\n  ")?;
            }
            match problem.line {
                Some(line) => write!(f, "{}:{line}: {}", self.origin, problem.message)?,
                None => write!(f, "{}: {}", self.origin, problem.message)?,
            }
        }
        Ok(())
    }
}

/// The 1-based line holding byte `offset` of `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses TOML `text` into `T`; a syntax error, unknown key or wrongly typed value becomes one
/// [`Problem`] with its line (serde cannot go on past the first).
pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Problem> {
    toml::from_str(text).map_err(|err| Problem {
        line: err.span().map(|span| line_of(text, span.start)),
        // toml's messages may span lines ("invalid table header\nexpected ...").
        message: err.message().trim_end().replace('\n', "; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let text = "a = 1\nb = 2\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2);
        assert_eq!(line_of(text, 100), 3);
    }

    #[test]
    fn one_problem_reads_as_one_line_and_several_as_a_list() {
        let one = ConfigError::Invalid {
            origin: "p.toml".into(),
            problems: vec![Problem::at("x\ny", 2..3, "bad")],
        };
        assert_eq!(one.to_string(), "p.toml:2: bad");
        let two = ConfigError::Invalid {
            origin: "p.toml".into(),
            problems: vec![
                Problem::at("x", 0..1, "bad"),
                Problem {
                    line: None,
                    message: "worse".into(),
                },
            ],
        };
        assert_eq!(
            two.to_string(),
            "p.toml: 2 problems:\n  p.toml:1: bad\n  p.toml: worse"
        );
    }
}
