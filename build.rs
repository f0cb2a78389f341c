//! Stamps the build with the git commit and the time this script ran, for `GET /api/metric`.
//! Without git (a source tarball) both read "unknown" and the build does not fail.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Watches a file that exists (cargo reruns every build for a missing one).
fn watch(path: Option<String>) {
    if let Some(p) = path.filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={p}");
    }
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    println!(
        "cargo:rustc-env=METERD_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    let built = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    println!("cargo:rustc-env=METERD_BUILD_EPOCH={built}");
    // Run again only when the commit moves (not on every source edit, which would rebuild the
    // crate for nothing): HEAD and the branch it points at.
    println!("cargo:rerun-if-changed=build.rs");
    for path in ["HEAD", "packed-refs"] {
        watch(git(&["rev-parse", "--git-path", path]));
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(git(&["rev-parse", "--git-path", &branch]));
    }
}
