//! Git sources through real transports: a `git daemon` on loopback and `file://` URLs, serving
//! repositories these tests build with the `git` CLI. The scanner runs as a user runs it (the
//! built binary), and every scan checks that no temporary repository or work tree is left over.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub(crate) const FLASK_REQUIREMENTS: &str = "flask==3.0.0\ngunicorn==22.0.0\n";
pub(crate) const FLASK_APP: &str =
    "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route(\"/\")\ndef index():\n    return \"hi\"\n";
pub(crate) const PROCFILE: &str = "web: gunicorn app:app\n";
pub(crate) const PACKAGE_JSON: &str =
    "{\"name\": \"assets\", \"scripts\": {\"start\": \"node server.js\"}, \"dependencies\": {\"express\": \"^4.19.0\"}}\n";

// ---- a repository built with the git CLI -----------------------------------------------------

/// A non-bare repository at `<base>/<name>`, isolated from the user's and system's git config.
pub(crate) struct GitRepo {
    base: TempDir,
    name: String,
}

impl GitRepo {
    pub(crate) fn new(name: &str) -> GitRepo {
        let base = tempfile::tempdir().expect("tempdir for the repository");
        let repo = GitRepo { base, name: name.to_string() };
        std::fs::create_dir(repo.path()).expect("create the repository directory");
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    pub(crate) fn base(&self) -> &Path {
        self.base.path()
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.base.path().join(&self.name)
    }

    /// Runs git in the repository and returns its trimmed stdout; panics on failure.
    pub(crate) fn git(&self, args: &[&str]) -> String {
        self.git_os(&args.iter().map(OsStr::new).collect::<Vec<_>>())
    }

    pub(crate) fn git_os(&self, args: &[&OsStr]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"])
            .args(["-c", "tag.gpgsign=false", "-c", "core.symlinks=true"])
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("git output is UTF-8").trim().to_string()
    }

    pub(crate) fn write(&self, rel: &str, content: &str) {
        let path = self.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(path, content).expect("write a file");
    }

    /// Stages everything and commits; returns the new commit's full id.
    pub(crate) fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "-m", message]);
        self.rev_parse("HEAD")
    }

    pub(crate) fn rev_parse(&self, rev: &str) -> String {
        self.git(&["rev-parse", "--verify", rev])
    }

    pub(crate) fn file_url(&self) -> String {
        format!("file://{}", self.path().display())
    }
}

/// The commits of [`standard_repo`].
pub(crate) struct Standard {
    pub(crate) repo: GitRepo,
    /// Flask app, requirements.txt, no Procfile; tagged `v1` (annotated).
    pub(crate) c1: String,
    /// `main`: c1 plus a Procfile.
    pub(crate) c2: String,
    /// `feature`: c2 plus a package.json.
    pub(crate) feature: String,
}

/// commit 1: a Flask app (no Procfile), tagged `v1` (annotated); commit 2 on `main` adds a
/// Procfile; branch `feature` adds a package.json on top. HEAD is `main`.
pub(crate) fn standard_repo() -> Standard {
    let repo = GitRepo::new("repo");
    repo.write("requirements.txt", FLASK_REQUIREMENTS);
    repo.write("app.py", FLASK_APP);
    let c1 = repo.commit("flask app");
    repo.git(&["tag", "--annotate", "v1", "-m", "release 1"]);
    repo.write("Procfile", PROCFILE);
    let c2 = repo.commit("add a Procfile");
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    repo.write("package.json", PACKAGE_JSON);
    let feature = repo.commit("add assets");
    repo.git(&["checkout", "--quiet", "main"]);
    Standard { repo, c1, c2, feature }
}

// ---- git daemon on loopback ----------------------------------------------------------------

/// `git daemon` serving every repository under a base directory; killed on drop.
pub(crate) struct Daemon {
    child: Child,
    pub(crate) port: u16,
}

impl Daemon {
    /// Starts a daemon on a free loopback port. A port taken between choosing and binding it
    /// (another test's daemon) makes the daemon exit; that is retried with another port.
    pub(crate) fn start(base: &Path) -> Daemon {
        Daemon::start_with(base, &[])
    }

    /// [`Daemon::start`] with extra daemon arguments (`--enable=receive-pack` to accept pushes).
    pub(crate) fn start_with(base: &Path, extra: &[&str]) -> Daemon {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Daemon::try_start(base, port, extra) {
                Ok(d) => return d,
                Err(e) => last_error = e,
            }
        }
        panic!("git daemon did not start: {last_error}");
    }

    fn try_start(base: &Path, port: u16, extra: &[&str]) -> Result<Daemon, String> {
        // `git daemon` would run `git-daemon` as a child of its own, which killing `git` leaves
        // running: start the daemon binary itself so that Drop stops the process that listens.
        let mut child = Command::new(git_exec_path().join("git-daemon"))
            .arg("--verbose")
            .arg("--reuseaddr")
            .arg(format!("--base-path={}", base.display()))
            .arg("--export-all")
            .args(extra)
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(base)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run git daemon: {e}"))?;
        // With --verbose the daemon logs "Ready to rumble" once it listens. The reader keeps
        // draining its log afterwards so the daemon never blocks on a full pipe.
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut daemon = Daemon { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("Ready to rumble") => break,
                Ok(line) => log.push(line),
                // The log closed: the daemon exited (typically: port already in use).
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("git daemon on port {port} exited: {}", log.join(" | ")));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("git daemon on port {port} not ready within 10 s: {}", log.join(" | ")));
                }
            }
        }
        // Ready means listening; confirm that the port is ours and accepts connections.
        if let Ok(Some(status)) = daemon.child.try_wait() {
            return Err(format!("git daemon on port {port} exited with {status}"));
        }
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("port {port} does not accept connections: {e}"))?;
        Ok(daemon)
    }

    pub(crate) fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where git keeps its helper programs (`git --exec-path`).
fn git_exec_path() -> PathBuf {
    let out = Command::new("git").arg("--exec-path").output().expect("run git --exec-path");
    assert!(out.status.success(), "git --exec-path failed");
    PathBuf::from(String::from_utf8(out.stdout).expect("UTF-8 path").trim())
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

// ---- running the scanner --------------------------------------------------------------------

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn plan(&self) -> Value {
        assert_eq!(self.code, Some(0), "scan failed: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Exit 1 with exactly one line on stderr, starting with `repo-scanner:`; returns it.
    fn error_line(&self) -> &str {
        assert_eq!(self.code, Some(1), "expected exit 1; stdout: {}; stderr: {}", self.stdout, self.stderr);
        assert!(self.stdout.is_empty(), "nothing on stdout on failure: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line expected: {:?}", self.stderr);
        assert!(lines[0].starts_with("repo-scanner: "), "error line: {}", lines[0]);
        lines[0]
    }
}

/// Runs `repo-scanner scan <args>` with a fresh TMPDIR, and checks the temporary repository
/// was removed: nothing is left in that TMPDIR whatever the outcome.
fn scan(args: &[&str]) -> Run {
    let tmp = tempfile::tempdir().expect("TMPDIR for the scanner");
    let out = Command::new(env!("CARGO_BIN_EXE_repo-scanner"))
        .arg("scan")
        .args(args)
        .env("TMPDIR", tmp.path())
        .env_remove("RUST_LOG")
        .env_remove("REPO_SCANNER_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run repo-scanner");
    let left: Vec<PathBuf> =
        std::fs::read_dir(tmp.path()).expect("read TMPDIR").map(|e| e.expect("dir entry").path()).collect();
    assert!(left.is_empty(), "the scan left files in TMPDIR: {left:?}");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn processes(plan: &Value) -> &Vec<Value> {
    plan["processes"].as_array().expect("processes is an array")
}

fn web(plan: &Value) -> &Value {
    processes(plan).iter().find(|p| p["type"] == "web").unwrap_or_else(|| panic!("no web process: {plan:#}"))
}

fn warning_codes(plan: &Value) -> Vec<&str> {
    plan["warnings"].as_array().expect("warnings is an array").iter().filter_map(|w| w["code"].as_str()).collect()
}

fn languages(plan: &Value) -> Vec<&str> {
    let mut names = vec![plan["language"]["name"].as_str().unwrap_or_default()];
    if let Some(sec) = plan["secondary_languages"].as_array() {
        names.extend(sec.iter().filter_map(|s| s["name"].as_str()));
    }
    names
}

/// The source block of a git scan.
fn assert_source(plan: &Value, url: &str, git_ref: Option<&str>, commit: &str) {
    assert_eq!(plan["schema_version"], "1");
    assert_eq!(plan["source"]["kind"], "git", "{:#}", plan["source"]);
    assert_eq!(plan["source"]["location"], url);
    assert_eq!(plan["source"]["ref"].as_str(), git_ref);
    assert_eq!(plan["source"]["commit"].as_str(), Some(commit), "resolved commit");
}

/// Commit 2 (and `feature`): the Procfile's web command.
fn assert_procfile_plan(plan: &Value) {
    assert_eq!(plan["procfile"]["path"], "Procfile", "{plan:#}");
    let web = web(plan);
    assert_eq!(web["source"], "procfile");
    assert_eq!(web["command"], "gunicorn app:app");
    assert_eq!(plan["language"]["name"], "python");
}

/// Commit 1: no Procfile, so the web command comes from the Python rules.
fn assert_rules_plan(plan: &Value) {
    assert!(plan["procfile"]["path"].is_null(), "commit 1 has no Procfile: {plan:#}");
    let web = web(plan);
    assert_eq!(web["source"], "rule", "{web:#}");
    let command = web["command"].as_str().expect("command");
    assert!(command.contains("app:app"), "a command serving the Flask app object: {command}");
    assert!(!processes(plan).iter().any(|p| p["source"] == "procfile"));
    assert_eq!(plan["language"]["name"], "python");
    assert!(!languages(plan).contains(&"nodejs"), "no package.json at commit 1: {plan:#}");
}

// ---- over git:// --------------------------------------------------------------------------

#[test]
fn no_ref_scans_the_remote_head() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let plan = scan(&[&url]).plan();
    assert_source(&plan, &url, None, &s.c2);
    assert_eq!(s.repo.rev_parse("HEAD"), s.c2);
    assert_procfile_plan(&plan);
    assert!(!languages(&plan).contains(&"nodejs"), "package.json is only on feature: {plan:#}");
}

#[test]
fn ref_main_is_the_branch_tip() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let plan = scan(&[&url, "--ref", "main"]).plan();
    assert_source(&plan, &url, Some("main"), &s.repo.rev_parse("main"));
    assert_eq!(s.repo.rev_parse("main"), s.c2);
    assert_procfile_plan(&plan);
}

#[test]
fn ref_feature_sees_the_branch_content() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let plan = scan(&[&url, "--ref", "feature"]).plan();
    assert_source(&plan, &url, Some("feature"), &s.feature);
    assert_procfile_plan(&plan);
    assert!(languages(&plan).contains(&"nodejs"), "the feature branch's package.json is seen: {plan:#}");
}

#[test]
fn annotated_tag_peels_to_its_commit() {
    let s = standard_repo();
    let tag_object = s.repo.rev_parse("refs/tags/v1");
    let peeled = s.repo.rev_parse("v1^{commit}");
    assert_ne!(tag_object, peeled, "v1 is an annotated tag");
    assert_eq!(peeled, s.c1);
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let plan = scan(&[&url, "--ref", "v1"]).plan();
    assert_source(&plan, &url, Some("v1"), &s.c1);
    assert_rules_plan(&plan);
}

#[test]
fn full_sha_of_an_older_commit() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let plan = scan(&[&url, "--ref", &s.c1]).plan();
    assert_source(&plan, &url, Some(&s.c1), &s.c1);
    assert_rules_plan(&plan);
}

#[test]
fn full_sha_of_an_advertised_tip() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let plan = scan(&[&url, "--ref", &s.feature]).plan();
    assert_source(&plan, &url, Some(&s.feature), &s.feature);
    assert_procfile_plan(&plan);
    assert!(languages(&plan).contains(&"nodejs"));
    // The remote's HEAD has the same id as main: either name fetches the same commit.
    let plan = scan(&[&url, "--ref", &s.c2]).plan();
    assert_source(&plan, &url, Some(&s.c2), &s.c2);
    assert_procfile_plan(&plan);
}

#[test]
fn short_sha_resolves_to_the_full_commit() {
    let s = standard_repo();
    let short = s.repo.git(&["rev-parse", "--short=8", &s.c1]);
    assert_eq!(short.len(), 8);
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let plan = scan(&[&url, "--ref", &short]).plan();
    assert_source(&plan, &url, Some(&short), &s.c1);
    assert_rules_plan(&plan);
}

#[test]
fn missing_ref_is_one_clear_error() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let url = daemon.url("repo");
    let run = scan(&[&url, "--ref", "no-such-branch"]);
    let line = run.error_line();
    assert!(line.contains("no-such-branch") && line.contains("not found"), "{line}");
    // A sha-like ref that no object has goes through the full fetch and fails the same way.
    let run = scan(&[&url, "--ref", "0123456789abcdef0123456789abcdef01234567"]);
    let line = run.error_line();
    assert!(line.contains("0123456789abcdef") && line.contains("not found"), "{line}");
}

#[test]
fn missing_repository_is_one_clear_error() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let run = scan(&[&daemon.url("no-such-repo")]);
    let line = run.error_line();
    assert!(line.contains("git"), "{line}");
}

#[test]
fn unreachable_port_is_one_clear_error() {
    // Bound then released: nothing listens there.
    let port = free_port();
    let run = scan(&[&format!("git://127.0.0.1:{port}/unserved")]);
    let line = run.error_line();
    assert!(line.contains("127.0.0.1"), "the error names the host: {line}");
}

#[test]
fn subdir_of_a_git_url() {
    let repo = GitRepo::new("mono");
    repo.write("README.md", "# two services\n");
    repo.write("services/api/requirements.txt", FLASK_REQUIREMENTS);
    repo.write("services/api/app.py", FLASK_APP);
    repo.write("services/api/Procfile", PROCFILE);
    repo.write("services/web/package.json", PACKAGE_JSON);
    repo.write("services/web/server.js", "require('express')().listen(process.env.PORT)\n");
    let commit = repo.commit("two services");
    let daemon = Daemon::start(repo.base());
    let url = daemon.url("mono");

    let plan = scan(&[&url, "--subdir", "services/api"]).plan();
    assert_source(&plan, &url, None, &commit);
    assert_eq!(plan["subdir"], "services/api");
    assert_eq!(plan["language"]["name"], "python");
    assert_eq!(plan["procfile"]["path"], "services/api/Procfile");
    assert_eq!(web(&plan)["command"], "gunicorn app:app");
    assert!(!languages(&plan).contains(&"nodejs"), "the sibling service is out of view: {plan:#}");

    let plan = scan(&[&url, "--ref", "main", "--subdir", "services/web/"]).plan();
    assert_eq!(plan["subdir"], "services/web");
    assert_eq!(plan["language"]["name"], "nodejs");

    let line = scan(&[&url, "--subdir", "services/nope"]).error_line().to_string();
    assert!(line.contains("services/nope") && line.contains("not found"), "{line}");
    let line = scan(&[&url, "--subdir", "../services"]).error_line().to_string();
    assert!(line.contains("../services"), "{line}");
}

#[test]
fn escaping_symlink_is_a_warning_and_never_read() {
    let repo = GitRepo::new("linked");
    repo.write("requirements.txt", FLASK_REQUIREMENTS);
    repo.write("app.py", FLASK_APP);
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("Procfile")).expect("create the symlink");
    std::os::unix::fs::symlink("../../../etc/hostname", repo.path().join("runtime.txt")).expect("create the symlink");
    let commit = repo.commit("a Procfile that escapes");
    // Committed as links (mode 120000), not as the files they point to.
    let listing = repo.git(&["ls-tree", "HEAD", "Procfile", "runtime.txt"]);
    assert_eq!(listing.lines().filter(|l| l.starts_with("120000 ")).count(), 2, "{listing}");

    let daemon = Daemon::start(repo.base());
    let url = daemon.url("linked");
    let run = scan(&[&url]);
    let plan = run.plan();
    assert_source(&plan, &url, None, &commit);
    let escapes: Vec<&Value> =
        plan["warnings"].as_array().expect("warnings").iter().filter(|w| w["code"] == "symlink_escape").collect();
    assert!(escapes.iter().any(|w| w["file"] == "Procfile"), "a symlink_escape warning for Procfile: {plan:#}");
    assert!(escapes.iter().any(|w| w["file"] == "runtime.txt"), "and for runtime.txt: {plan:#}");
    assert!(
        !processes(&plan).iter().any(|p| p["source"] == "procfile"),
        "no process from an escaping Procfile: {plan:#}"
    );
    assert!(!run.stdout.contains("root:"), "the link target's content never reaches the plan");
}

#[test]
fn non_utf8_file_name_is_a_warning() {
    let repo = GitRepo::new("latin1");
    repo.write("requirements.txt", FLASK_REQUIREMENTS);
    repo.write("app.py", FLASK_APP);
    repo.write("Procfile", PROCFILE);
    // "café.txt" in Latin-1: not valid UTF-8. Created on disk from bytes, then committed.
    let name = OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(repo.path().join(name), "menu\n").expect("write a non-UTF-8 name");
    std::fs::create_dir(repo.path().join(OsStr::from_bytes(b"d\xff"))).expect("a non-UTF-8 directory");
    std::fs::write(repo.path().join(OsStr::from_bytes(b"d\xff")).join("x.py"), "x = 1\n").expect("write");
    let commit = repo.commit("odd names");
    let daemon = Daemon::start(repo.base());
    let url = daemon.url("latin1");
    let plan = scan(&[&url]).plan();
    assert_source(&plan, &url, None, &commit);
    let codes = warning_codes(&plan);
    assert!(codes.iter().filter(|c| **c == "non_utf8_path").count() >= 2, "one per odd name: {plan:#}");
    // The rest of the repository still scans.
    assert_procfile_plan(&plan);
}

// ---- over file:// -------------------------------------------------------------------------

#[test]
fn file_url_head_tag_and_sha() {
    let s = standard_repo();
    let url = s.repo.file_url();

    let plan = scan(&[&url]).plan();
    assert_source(&plan, &url, None, &s.c2);
    assert_procfile_plan(&plan);

    let plan = scan(&[&url, "--ref", "v1"]).plan();
    assert_source(&plan, &url, Some("v1"), &s.c1);
    assert_rules_plan(&plan);

    let plan = scan(&[&url, "--ref", "feature"]).plan();
    assert_source(&plan, &url, Some("feature"), &s.feature);
    assert!(languages(&plan).contains(&"nodejs"));

    let short = s.repo.git(&["rev-parse", "--short=10", &s.c1]);
    let plan = scan(&[&url, "--ref", &short]).plan();
    assert_source(&plan, &url, Some(&short), &s.c1);

    let line = scan(&[&url, "--ref", "nope"]).error_line().to_string();
    assert!(line.contains("\"nope\""), "{line}");
}

#[test]
fn file_url_of_a_bare_repository() {
    let s = standard_repo();
    let bare = s.repo.base().join("bare.git");
    s.repo.git_os(&[
        OsStr::new("clone"),
        OsStr::new("--quiet"),
        OsStr::new("--bare"),
        OsStr::new("."),
        bare.as_os_str(),
    ]);
    let url = format!("file://{}", bare.display());
    let plan = scan(&[&url, "--ref", "main"]).plan();
    assert_source(&plan, &url, Some("main"), &s.c2);
    assert_procfile_plan(&plan);
}

#[test]
fn file_url_to_nothing_is_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().join("absent").display());
    scan(&[&url]).error_line();
}
