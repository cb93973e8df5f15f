//! The command line as a user drives it: the built binary, its exit codes, stdout and stderr.
//!
//! Exit codes: 0 a plan was produced (whatever its status), 1 the source could not be read,
//! 2 a usage error. Errors are one line on stderr starting with `repo-scanner:`.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::{self, Run};

impl Run {
    fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out}"))
    }

    /// Exit 1, nothing on stdout, exactly one stderr line starting with `repo-scanner:`.
    fn error_line(&self) -> &str {
        assert_eq!(self.code, Some(1), "expected exit 1; stdout: {}; stderr: {}", self.stdout, self.stderr);
        assert!(self.stdout.is_empty(), "nothing on stdout on failure: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one error line: {:?}", self.stderr);
        assert!(lines[0].starts_with("repo-scanner: "), "error line: {}", lines[0]);
        lines[0]
    }

    /// Exit 2 (clap's usage error) with the message on stderr and nothing on stdout.
    fn usage_error(&self) -> &str {
        assert_eq!(self.code, Some(2), "expected a usage error; stdout: {}; stderr: {}", self.stdout, self.stderr);
        assert!(self.stdout.is_empty(), "nothing on stdout on a usage error: {}", self.stdout);
        assert!(self.stderr.contains("error:"), "{}", self.stderr);
        &self.stderr
    }
}

fn run(args: &[&str]) -> Run {
    support::output(support::bin().args(args))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// A tree of files in a fresh tempdir.
fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, content) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create directories");
        std::fs::write(&path, content).expect("write a file");
    }
    dir
}

const FLASK: &[(&str, &str)] = &[
    ("requirements.txt", "flask==3.0.0\ngunicorn==22.0.0\n"),
    ("app.py", "from flask import Flask\n\napp = Flask(__name__)\n"),
    ("Procfile", "web: gunicorn app:app --bind 0.0.0.0:$PORT\nworker: python worker.py\n"),
    ("worker.py", "print('working')\n"),
];

#[test]
fn scan_dir_prints_a_json_plan() {
    let dir = tree(FLASK);
    let plan = run(&["scan", path_str(dir.path())]).json();
    assert_eq!(plan["schema_version"], "1");
    assert_eq!(plan["source"]["kind"], "dir");
    assert_eq!(plan["source"]["location"], path_str(dir.path()));
    assert!(plan["source"]["commit"].is_null(), "a directory has no commit");
    assert_eq!(plan["strategy"], "buildpacks");
    assert_eq!(plan["language"]["name"], "python");
    assert_eq!(plan["buildpack"]["group"], "paketo-buildpacks/python");
    assert_eq!(plan["procfile"]["path"], "Procfile");
    let processes = plan["processes"].as_array().expect("processes");
    let kinds: Vec<&str> = processes.iter().filter_map(|p| p["type"].as_str()).collect();
    assert_eq!(kinds, ["web", "worker"]);
    assert_eq!(processes[0]["command"], "gunicorn app:app --bind 0.0.0.0:$PORT");
    assert_eq!(processes[0]["source"], "procfile");
    assert_eq!(plan["status"], "ready");
}

#[test]
fn format_json_is_the_default() {
    let dir = tree(FLASK);
    let default = run(&["scan", path_str(dir.path())]).json();
    let explicit = run(&["scan", "--format", "json", path_str(dir.path())]).json();
    assert_eq!(default, explicit);
}

#[test]
fn an_empty_directory_still_gets_a_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = run(&["scan", path_str(dir.path())]).json();
    assert_eq!(plan["schema_version"], "1");
    assert_ne!(plan["status"], "ready", "nothing to build is not ready: {plan:#}");
    let codes: Vec<&str> =
        plan["open_questions"].as_array().expect("questions").iter().filter_map(|q| q["code"].as_str()).collect();
    assert!(codes.contains(&"no_indicator"), "{plan:#}");
}

#[test]
fn format_text_explains_strategy_and_processes() {
    let dir = tree(FLASK);
    let out = run(&["scan", "--format", "text", path_str(dir.path())]).ok().to_string();
    assert!(serde_json::from_str::<Value>(&out).is_err(), "text, not JSON: {out}");
    assert!(out.contains("buildpacks"), "names the strategy: {out}");
    assert!(out.contains("paketo-buildpacks/python"), "names the buildpack: {out}");
    assert!(out.contains("python"), "names the language: {out}");
    assert!(out.contains("web: gunicorn app:app --bind 0.0.0.0:$PORT"), "names the web process: {out}");
    assert!(out.contains("worker: python worker.py"), "names the worker: {out}");
    assert!(out.contains("procfile"), "says where the command came from: {out}");
}

#[test]
fn format_text_for_a_dockerfile() {
    let dir = tree(&[("Dockerfile", "FROM python:3.12-slim\nCMD [\"python\", \"-m\", \"http.server\"]\n")]);
    let out = run(&["scan", path_str(dir.path()), "--format", "text"]).ok().to_string();
    assert!(out.contains("docker build"), "names the dockerfile strategy: {out}");
}

#[test]
fn schema_prints_a_json_schema() {
    let out = run(&["schema"]);
    let schema: Value = serde_json::from_str(out.ok()).expect("the schema is JSON");
    assert!(schema["$schema"].as_str().is_some_and(|s| s.contains("json-schema.org")), "{schema:#}");
    let props = schema["properties"].as_object().expect("properties");
    for key in ["schema_version", "source", "strategy", "processes", "status", "warnings", "resolution"] {
        assert!(props.contains_key(key), "schema has properties.{key}");
    }
    // Every field a real plan carries is one the schema describes, and every required one is there.
    let dir = tree(FLASK);
    let plan = run(&["scan", path_str(dir.path())]).json();
    for key in plan.as_object().expect("plan is an object").keys() {
        assert!(props.contains_key(key), "plan field {key} is not in the schema");
    }
    for key in schema["required"].as_array().expect("required").iter().filter_map(Value::as_str) {
        assert!(plan.get(key).is_some(), "required field {key} missing from the plan");
    }
}

#[test]
fn version_and_help() {
    let out = run(&["--version"]);
    assert!(out.ok().starts_with("repo-scanner "), "{}", out.stdout);
    let out = run(&["scan", "--help"]);
    for flag in ["--ref", "--subdir", "--format"] {
        assert!(out.ok().contains(flag), "help lists {flag}: {}", out.stdout);
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tree(FLASK);
    let d = path_str(dir.path());
    let err = run(&["scan", d, "--no-such-flag"]).usage_error().to_string();
    assert!(err.contains("--no-such-flag"), "{err}");
    let err = run(&["scan"]).usage_error().to_string();
    assert!(err.contains("<SOURCE>"), "names the missing argument: {err}");
    let err = run(&["scan", d, "--format", "yaml"]).usage_error().to_string();
    assert!(err.contains("yaml") && err.contains("json") && err.contains("text"), "lists the values: {err}");
    let err = run(&["scan", d, "--ref"]).usage_error().to_string();
    assert!(err.contains("--ref"), "{err}");
    let err = run(&["scan", d, "--max-files", "many"]).usage_error().to_string();
    assert!(err.contains("many"), "{err}");
    run(&["no-such-command"]).usage_error();
    assert_eq!(run(&[]).code, Some(2), "no subcommand is a usage error");
}

#[test]
fn nonexistent_path_is_one_error_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("not-here");
    let line = run(&["scan", path_str(&missing)]).error_line().to_string();
    assert!(line.contains("not-here"), "names the path: {line}");
}

#[test]
fn a_file_is_not_a_directory() {
    let dir = tree(FLASK);
    let file = dir.path().join("app.py");
    let line = run(&["scan", path_str(&file)]).error_line().to_string();
    assert!(line.contains("app.py") && line.contains("not a directory"), "{line}");
}

#[test]
fn subdir_scans_one_app() {
    let dir = tree(&[
        ("README.md", "# services\n"),
        ("api/requirements.txt", "flask\ngunicorn\n"),
        ("api/app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ("api/Procfile", "web: gunicorn app:app --bind 0.0.0.0:$PORT\n"),
        (
            "web/package.json",
            "{\"scripts\": {\"start\": \"node server.js\"}, \"dependencies\": {\"express\": \"4\"}}\n",
        ),
        ("web/server.js", "require('express')().listen(process.env.PORT)\n"),
    ]);
    let d = path_str(dir.path());
    let plan = run(&["scan", d, "--subdir", "api"]).json();
    assert_eq!(plan["subdir"], "api");
    assert_eq!(plan["language"]["name"], "python");
    assert_eq!(plan["procfile"]["path"], "api/Procfile");
    assert_eq!(plan["monorepo"], false);
    let plan = run(&["scan", d, "--subdir", "web/"]).json();
    assert_eq!(plan["subdir"], "web");
    assert_eq!(plan["language"]["name"], "nodejs");
    // "." and "" are the root.
    let root = run(&["scan", d]).json();
    assert_eq!(run(&["scan", d, "--subdir", "."]).json(), root);
}

#[test]
fn subdir_outside_or_missing_is_an_error() {
    let dir = tree(&[("app/requirements.txt", "flask\n"), ("app/app.py", "x = 1\n")]);
    let d = path_str(dir.path());
    for bad in ["../x", "app/../../x", "..", "app/./x"] {
        let line = run(&["scan", d, "--subdir", bad]).error_line().to_string();
        assert!(line.contains(bad) && line.contains("invalid subdirectory"), "{line}");
    }
    // A leading '/' means the repository root, never the host's file system.
    let line = run(&["scan", d, "--subdir", "/etc"]).error_line().to_string();
    assert!(line.contains("/etc") && line.contains("not found"), "{line}");
    assert_eq!(run(&["scan", d, "--subdir", "/app"]).json()["subdir"], "app");
    let line = run(&["scan", d, "--subdir", "nope"]).error_line().to_string();
    assert!(line.contains("\"nope\"") && line.contains("not found"), "{line}");
    // A file is not a subdirectory.
    let line = run(&["scan", d, "--subdir", "app/app.py"]).error_line().to_string();
    assert!(line.contains("app/app.py"), "{line}");
}

#[test]
fn ref_on_a_local_directory_is_an_error() {
    let dir = tree(FLASK);
    let line = run(&["scan", path_str(dir.path()), "--ref", "main"]).error_line().to_string();
    assert!(line.contains("--ref"), "{line}");
}

#[test]
fn stdout_closed_early_is_not_an_error() {
    // `repo-scanner schema | head -1`: a closed pipe is the reader's choice, not a failure.
    let mut child = Command::new(env!("CARGO_BIN_EXE_repo-scanner"))
        .arg("schema")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run repo-scanner");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

// ---- Two binaries: `repo-scanner` runs the local rules-only scan, `repo-scanner-full` the rest ----

/// `repo-scanner` copied into a directory of its own, without `repo-scanner-full` beside it.
fn lone_small_binary() -> (TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("repo-scanner");
    std::fs::copy(env!("CARGO_BIN_EXE_repo-scanner"), &bin).expect("copy the binary");
    (dir, bin)
}

#[test]
fn the_small_binary_scans_alone_and_names_the_full_one_for_the_rest() {
    let (_dir, bin) = lone_small_binary();
    let app = tree(FLASK);
    let lone =
        |args: &[&str]| support::output(Command::new(&bin).args(args).env_remove("RUST_LOG").stdin(Stdio::null()));
    // What it links: a directory scanned by the rules, the schema, and clap's help and usage.
    let plan = lone(&["scan", path_str(app.path()), "--no-llm"]).json();
    assert_eq!(plan, run(&["scan", path_str(app.path()), "--no-llm"]).json(), "the same plan as the pair gives");
    assert_eq!(plan["processes"][0]["command"], "gunicorn app:app --bind 0.0.0.0:$PORT");
    assert!(lone(&["schema"]).json()["properties"]["processes"].is_object());
    assert!(lone(&["serve", "--help"]).ok().contains("Usage: repo-scanner serve"));
    assert_eq!(lone(&["scan"]).code, Some(2));
    // Everything else is the full binary's: a clear error naming it, never a crash.
    for args in [
        vec!["render", path_str(app.path()), "--target", "pack"],
        vec!["scan", "git://127.0.0.1:9/nothing.git"],
        vec!["scan", path_str(app.path()), "--llm-base-url", "http://127.0.0.1:9/v1"],
    ] {
        let out = lone(&args);
        let line = out.error_line();
        assert!(line.contains("repo-scanner-full") && line.contains("side by side"), "{args:?}: {line}");
    }
}

#[test]
fn commands_handed_to_the_full_binary_fail_as_one_binary_would() {
    // `scan` of a git URL becomes repo-scanner-full (exec, same pid: the serve tests' SIGTERM
    // goes through it too): its one error line and exit code reach the user unchanged.
    let out = run(&["scan", "git://127.0.0.1:9/nothing.git"]);
    let line = out.error_line();
    assert!(line.contains("git: ") && !line.contains("repo-scanner-full"), "the full binary ran: {line}");
    // Usage errors are clap's in the small binary, before any hand-over.
    assert_eq!(run(&["render", "--target", "nope", "."]).code, Some(2));
}

#[test]
fn the_small_binary_links_no_git_tls_runtime_or_http_server() {
    // Start-up cost is what the loader relocates: the small binary must not link what only
    // the full one uses. A reference to git, TLS, tokio or axum from the local path fails here.
    let symbols = |bin: &str| -> Option<String> {
        match Command::new("nm").args(["--defined-only", "--demangle", bin]).output() {
            Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
            _ => None,
        }
    };
    let (Some(small), Some(full)) =
        (symbols(env!("CARGO_BIN_EXE_repo-scanner")), symbols(env!("CARGO_BIN_EXE_repo-scanner-full")))
    else {
        return support::not_run("nm (binutils) is not installed");
    };
    for marker in
        [" git_libgit2_init", " OPENSSL_init_ssl", "tokio::runtime::builder::Builder::build", "hyper::server::conn"]
    {
        assert!(full.contains(marker), "the full binary has {marker}: the marker still names what it should");
        assert!(!small.contains(marker), "repo-scanner links {marker}");
    }
}
