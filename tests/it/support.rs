//! What several test modules share: the built binary, run as a user runs it.

use std::process::{Command, Stdio};

/// A finished run of the binary.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Exit 0; returns stdout.
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success; stdout: {}\nstderr: {}", self.stdout, self.stderr);
        &self.stdout
    }
}

/// `repo-scanner` with no inherited log settings and no stdin; callers add args and env.
pub(crate) fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_repo-scanner"));
    cmd.env_remove("RUST_LOG").env_remove("REPO_SCANNER_LOG").stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to the end. The binary only ever prints UTF-8.
pub(crate) fn output(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run repo-scanner");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---- What a test needs and may not find ------------------------------------------------------

/// Whether this is CI (`CI` set to anything but empty, `0` or `false`). CI provides every
/// corpus and service, so there a missing one is a failure, never a skip.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The calling test did not run: fails under CI; elsewhere says so by name on the terminal
/// (past libtest's capture, which would hide it behind an `ok`) and appends a line to
/// `$REPO_SCANNER_SKIP_LOG`, which scripts/test.sh counts apart from passes. The caller then
/// returns.
pub(crate) fn not_run(reason: &str) {
    let thread = std::thread::current();
    // libtest runs each test on a thread named after it.
    let name = thread.name().unwrap_or("<unnamed test>");
    assert!(!in_ci(), "{name}: {reason} (CI=true: CI must provide it)");
    let line = format!("SKIPPED {name}: {reason}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    if let Some(path) = std::env::var_os("REPO_SCANNER_SKIP_LOG") {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        let written = file.and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        written.unwrap_or_else(|e| panic!("REPO_SCANNER_SKIP_LOG {}: {e}", path.to_string_lossy()));
    }
}

/// A labelled data set read in place: `$var` when set (then it must hold `marker`), else
/// `default` (relative to the checkout) when present, else None after [`not_run`].
pub(crate) fn data_dir(var: &str, default: &str, marker: &str) -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os(var).map(std::path::PathBuf::from) {
        assert!(dir.join(marker).exists(), "{var}={} has no {marker}", dir.display());
        return Some(dir);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(default);
    if dir.join(marker).exists() {
        return Some(dir);
    }
    not_run(&format!("no data set: set {var} or put it at {default} beside the checkout"));
    None
}

/// The 36 hand-labelled repositories (`labels.json` + `repos/<id>/`).
pub(crate) fn corpus_dir() -> Option<std::path::PathBuf> {
    data_dir("REPO_SCANNER_CORPUS", "../shared/corpus", "labels.json")
}

/// The wild repositories whose root Procfile is the label (`labels.json` + `repos/<id>/`).
pub(crate) fn wild_dir() -> Option<std::path::PathBuf> {
    data_dir("REPO_SCANNER_WILD", "../shared/wild", "labels.json")
}
