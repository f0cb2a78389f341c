//! Fuzzing the configuration files: any text as a pipeline or tokens file, and mutations of
//! real ones, load or fail with problems that have a message (never a panic).

use super::{Pipeline, Tokens, TokensError};
use proptest::prelude::*;

const DEFAULT: &str = include_str!("../../pipelines/default.toml");
const TOKENS: &str = "[[token]]\nsecret = \"0123456789abcdef\"\nrole = \"read\"\nservice = \"a\"\n";

/// `text` with `edits` applied: each replaces a byte range (by relative position) with a
/// snippet that is likely to matter to TOML or to a value check.
fn mutate(text: &str, edits: &[(prop::sample::Index, usize, usize)]) -> String {
    const SNIPPETS: [&str; 14] = [
        "",
        "=",
        "\"",
        "[",
        "]]",
        "\n[[rules]]\n",
        "0",
        "-1",
        "1e400",
        "\"5x\"",
        "\"0s\"",
        "99999999999999999999",
        "\u{0}",
        "\n[limits]\nmax_series = 0\n",
    ];
    let mut bytes = text.as_bytes().to_vec();
    for (at, len, snippet) in edits {
        let start = at.index(bytes.len() + 1);
        let end = (start + len).min(bytes.len());
        let snippet = SNIPPETS[snippet % SNIPPETS.len()].as_bytes();
        bytes.splice(start..end, snippet.iter().copied());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, usize, usize)>> {
    proptest::collection::vec(
        (any::<prop::sample::Index>(), 0usize..12, any::<usize>()),
        1..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_pipeline_text_loads_or_reports(text in "\\PC{0,200}") {
        if let Err(e) = Pipeline::parse(&text, "fuzz.toml") {
            prop_assert!(!e.problems().is_empty());
            prop_assert!(e.problems().iter().all(|p| !p.message.is_empty()));
        }
    }

    #[test]
    fn mutated_default_pipelines_load_or_report(edits in edits()) {
        let text = mutate(DEFAULT, &edits);
        if let Err(e) = Pipeline::parse(&text, "fuzz.toml") {
            prop_assert!(!e.problems().is_empty());
            let lines = text.lines().count() + 1;
            prop_assert!(e.problems().iter().all(|p| p.line.is_none_or(|l| (1..=lines).contains(&l))));
        }
    }

    #[test]
    fn tokens_files_load_or_report_without_secrets(text in "\\PC{0,120}", edits in edits()) {
        for text in [text, mutate(TOKENS, &edits)] {
            match Tokens::parse(&text, "fuzz.toml") {
                Ok(tokens) => prop_assert!(!tokens.is_empty()),
                Err(TokensError::Invalid { problems, .. }) => {
                    prop_assert!(!problems.is_empty());
                    for p in &problems {
                        prop_assert!(!p.message.contains("0123456789abcdef"), "{}", p.message);
                    }
                }
                Err(TokensError::Read { .. }) => prop_assert!(false, "parse never reads"),
            }
        }
    }
}
