//! Records the commit gstarve is built from (`GSTARVE_GIT`, read by `gstarve --version` and
//! written into every output's provenance). Built outside a git checkout of gstarve itself (a
//! source archive, a crate unpacked inside another repository, no `git` on the PATH), it
//! records nothing and the build goes on.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    // Only a checkout whose top level is this package: not a repository that merely contains it.
    let top = git(&["rev-parse", "--show-toplevel"]).map(PathBuf::from);
    let ours = match (
        top.as_deref().map(Path::canonicalize),
        manifest.canonicalize(),
    ) {
        (Some(Ok(top)), Ok(manifest)) => top == manifest,
        _ => false,
    };
    if !ours {
        return;
    }
    // Rebuild when HEAD moves: HEAD itself (a checkout, a detached commit), the branch it names
    // (a commit) and packed-refs (where `git gc` moves branches). In a worktree HEAD lives in
    // the worktree's git folder and the branches in the common one.
    let absolute = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            manifest.join(p)
        }
    };
    // (A missing path would make cargo rerun this script on every build: only existing ones.)
    let watch = |p: PathBuf| {
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    };
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]).map(absolute) {
        watch(git_dir.join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]).map(absolute) {
        watch(common.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(common.join(branch));
        }
    }
    // The code the binary is built from: a commit, marked `-dirty` when tracked sources differ
    // from it (uncommitted edits or staged changes), so that a provenance never names a commit
    // whose code did not make the figure. Watching the source folders reruns this check on edits.
    const SOURCES: [&str; 5] = ["src", "crates", "Cargo.toml", "Cargo.lock", "build.rs"];
    for source in SOURCES {
        watch(manifest.join(source));
    }
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]).map(absolute) {
        watch(git_dir.join("index"));
    }
    if let Some(hash) = git(&["rev-parse", "HEAD"]) {
        let mut args = vec!["diff", "--quiet", "HEAD", "--"];
        args.extend(SOURCES);
        // `git diff --quiet` exits 1 when they differ (0: clean; other failures: unknown, clean).
        let dirty = Command::new("git")
            .args(&args)
            .current_dir(&manifest)
            .status()
            .is_ok_and(|status| status.code() == Some(1));
        let suffix = if dirty { "-dirty" } else { "" };
        println!("cargo:rustc-env=GSTARVE_GIT={hash}{suffix}");
    }
}
