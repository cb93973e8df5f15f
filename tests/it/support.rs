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
