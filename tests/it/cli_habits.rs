//! What a user expects of a command-line tool: no colour codes unless on a terminal (and
//! never with NO_COLOR), `--quiet`, shell completions and a man page.

use crate::support::{bin, output};

fn scan_with_logs(extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = bin();
    cmd.args(extra).args(["--log", "debug", "scan", "fixtures/go-module"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = output(&mut cmd);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    r.stderr
}

#[test]
fn logs_carry_no_colour_codes_off_a_terminal() {
    let plain = scan_with_logs(&[], &[]);
    assert!(plain.contains("DEBUG"), "debug logs are written: {plain}");
    assert!(!plain.contains('\u{1b}'), "no ANSI escapes when stderr is a pipe");
    assert!(!scan_with_logs(&[], &[("NO_COLOR", "1")]).contains('\u{1b}'));
}

#[test]
fn quiet_leaves_errors_only() {
    let mut cmd = bin();
    cmd.args(["--quiet", "scan", "fixtures/go-module"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    let r = output(&mut cmd);
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains("\"schema_version\""));
    assert_eq!(r.stderr, "");
    let mut cmd = bin();
    cmd.args(["-q", "scan", "/nonexistent/repo-scanner-test"]);
    let r = output(&mut cmd);
    assert_eq!(r.code, Some(1), "an error still exits 1");
    assert!(r.stderr.contains("repo-scanner:"), "and is still printed: {}", r.stderr);
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let r = output(bin().args(["completions", shell]));
        assert_eq!(r.code, Some(0), "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("render") && r.stdout.contains("target"), "{shell} completes subcommands and flags");
    }
    let r = output(bin().arg("man"));
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains(".TH repo-scanner 1"), "{}", &r.stdout[..r.stdout.len().min(300)]);
    assert!(r.stdout.contains("render"));
}
