//! The suggested Procfile handed to the repository: printed, as a patch `git apply` takes,
//! pushed as one commit to a real bare repository (a `git daemon` on loopback with
//! receive-pack, or file://) and read back with the git CLI, and opened as a pull request
//! against a local server that speaks GitHub's routes and checks every request.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::git::{Daemon, GitRepo};
use crate::support::{self, Run};

const FLASK_REQUIREMENTS: &str = "flask==3.0.0\ngunicorn==22.0.0\n";
const FLASK_APP: &str = "from flask import Flask\n\napp = Flask(__name__)\n";
const CELERY: &str = "from celery import Celery\n\napp = Celery('proj')\n";
const AUTHOR: &str = "Hand Off <handoff@example.com>";
const BRANCH: &str = "repo-scanner/procfile";

impl Run {
    /// A non-zero exit whose last stderr line is the `repo-scanner:` error; returns that line.
    fn failure(&self) -> String {
        assert_eq!(self.code, Some(1), "expected exit 1; stdout: {}\nstderr: {}", self.stdout, self.stderr);
        let last = self.stderr.lines().last().unwrap_or_default().to_string();
        assert!(last.starts_with("repo-scanner: "), "error line: {}", self.stderr);
        last
    }
}

fn run(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = support::bin();
    cmd.args(args)
        .env_remove("GITHUB_TOKEN")
        .env_remove("REPO_SCANNER_GITHUB_API_URL")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    support::output(&mut cmd)
}

/// git in a bare repository; trimmed stdout, or None when git fails (a missing branch).
fn git_in(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// A Flask + Celery app without a Procfile, and a bare clone of it to push to, side by side.
fn flask_repo() -> (GitRepo, String, PathBuf) {
    let repo = GitRepo::new("app");
    repo.write("requirements.txt", "flask==3.0.0\ngunicorn==22.0.0\ncelery==5.3.0\n");
    repo.write("app.py", FLASK_APP);
    repo.write("proj/__init__.py", "");
    repo.write("proj/celery.py", CELERY);
    let c1 = repo.commit("flask app");
    let bare = bare_clone(&repo, "target.git");
    (repo, c1, bare)
}

fn bare_clone(repo: &GitRepo, name: &str) -> PathBuf {
    let bare = repo.base().join(name);
    repo.git_os(&[OsStr::new("clone"), OsStr::new("--quiet"), OsStr::new("--bare"), OsStr::new("."), bare.as_os_str()]);
    // Accept pushes over git://.
    git_in(&bare, &["config", "daemon.receivepack", "true"]).expect("configure the bare repository");
    bare
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

// ---- printing and patches ---------------------------------------------------------------------

#[test]
fn prints_each_line_with_its_reason() {
    let (repo, _, _) = flask_repo();
    let out = run(&["procfile", &repo.file_url()], &[]).ok().to_string();
    assert!(out.contains("\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n"), "{out}");
    assert!(out.contains("\nworker: celery -A proj worker -l info\n"), "{out}");
    let web_note = out.lines().find(|l| l.starts_with("# web: ")).expect("an explanation for web");
    assert!(web_note.contains("app.py") && web_note.contains("$PORT"), "{web_note}");
    let worker_note = out.lines().find(|l| l.starts_with("# worker: ")).expect("an explanation for worker");
    assert!(worker_note.contains("proj/celery.py"), "{worker_note}");
}

#[test]
fn patch_applies_to_the_repository() {
    let (repo, _, _) = flask_repo();
    let run = run(&["procfile", repo.path().to_str().expect("UTF-8 path"), "--patch"], &[]);
    let patch = run.ok().to_string();
    assert!(
        patch.starts_with("diff --git a/Procfile b/Procfile\nnew file mode 100644\n--- /dev/null\n+++ b/Procfile\n")
    );
    let file = repo.base().join("procfile.patch");
    std::fs::write(&file, &patch).expect("write the patch");
    repo.git(&["apply", "--check", file.to_str().expect("UTF-8")]);
}

#[test]
fn uncertain_processes_are_not_proposed() {
    let (repo, _, _) = flask_repo();
    // The worker (Celery, 0.67 measured) is below the bar, web (a Flask app object, 0.88) is not.
    let out = run(&["procfile", &repo.file_url(), "--min-confidence", "0.8"], &[]).ok().to_string();
    assert!(out.contains("\nweb: "), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("worker:") || l.starts_with("beat:")), "{out}");
    assert!(
        out.contains("# not proposed: worker: celery -A proj worker -l info (confidence 0.67 is below 0.80)"),
        "{out}"
    );
    // A language tie leaves every process to a person.
    let tie = format!("{}/fixtures/language-tie", env!("CARGO_MANIFEST_DIR"));
    let run = run(&["procfile", &tie], &[]);
    let text = run.ok();
    assert!(!text.lines().any(|l| !l.starts_with('#') && !l.trim().is_empty()), "nothing proposed: {text}");
    assert!(text.contains("# not proposed: ") || text.contains("# nothing to propose"), "{text}");
}

// ---- the push ----------------------------------------------------------------------------------

#[test]
fn push_over_git_daemon_is_one_commit_and_idempotent() {
    let (repo, c1, bare) = flask_repo();
    let daemon = Daemon::start_with(repo.base(), &["--enable=receive-pack"]);
    let source = daemon.url("app");
    let remote = daemon.url("target.git");
    let args = ["procfile", &source, "--push", "--remote", &remote, "--branch", BRANCH, "--author", AUTHOR];

    let first = run(&args, &[]);
    assert!(first.ok().contains(&format!("pushed {BRANCH}")), "{}", first.stdout);
    let tip = git_in(&bare, &["rev-parse", BRANCH]).expect("the branch was pushed");
    assert_eq!(git_in(&bare, &["rev-parse", &format!("{BRANCH}^")]).as_deref(), Some(c1.as_str()), "parent = scanned");
    assert_eq!(git_in(&bare, &["rev-list", "--count", &format!("{c1}..{BRANCH}")]).as_deref(), Some("1"));
    let procfile = git_in(&bare, &["show", &format!("{BRANCH}:Procfile")]).expect("a Procfile on the branch");
    assert_eq!(procfile, "web: gunicorn app:app --bind 0.0.0.0:$PORT\nworker: celery -A proj worker -l info");
    let changed = git_in(&bare, &["diff", "--name-status", &c1, BRANCH]).expect("diff");
    assert_eq!(changed, "A\tProcfile", "only the Procfile is added");
    let who = git_in(&bare, &["log", "-1", "--format=%an <%ae>", BRANCH]).expect("log");
    assert_eq!(who, AUTHOR);
    let message = git_in(&bare, &["log", "-1", "--format=%B", BRANCH]).expect("log");
    assert!(message.contains("Generated-by: repo-scanner") && message.contains(&c1), "{message}");

    // Again: nothing changed, nothing pushed, same commit.
    let second = run(&args, &[]);
    assert!(second.ok().contains("is up to date"), "{}", second.stdout);
    assert_eq!(git_in(&bare, &["rev-parse", BRANCH]).as_deref(), Some(tip.as_str()));

    // The source moves on: the branch is rewritten as one commit on the new tip.
    repo.write("README.md", "# app\n");
    let c2 = repo.commit("readme");
    let third = run(&args, &[]);
    assert!(third.ok().contains(&format!("(replaces {tip})")), "{}", third.stdout);
    assert_eq!(git_in(&bare, &["rev-parse", &format!("{BRANCH}^")]).as_deref(), Some(c2.as_str()));
    assert_eq!(git_in(&bare, &["rev-list", "--count", &format!("{c2}..{BRANCH}")]).as_deref(), Some("1"));
    drop(daemon);
}

#[test]
fn a_branch_the_tool_did_not_write_is_left_alone() {
    let (repo, _, bare) = flask_repo();
    // Someone else's work on the branch name.
    repo.git(&["checkout", "--quiet", "-b", BRANCH]);
    repo.write("notes.txt", "mine\n");
    let theirs = repo.commit("my own work");
    repo.git(&["push", "--quiet", bare.to_str().expect("UTF-8"), BRANCH]);
    repo.git(&["checkout", "--quiet", "main"]);

    let run = run(
        &[
            "procfile",
            &repo.file_url(),
            "--ref",
            "main",
            "--push",
            "--remote",
            &file_url(&bare),
            "--branch",
            BRANCH,
            "--author",
            AUTHOR,
        ],
        &[],
    );
    let line = run.failure();
    assert!(line.contains("not made by repo-scanner") && line.contains(BRANCH), "{line}");
    assert_eq!(git_in(&bare, &["rev-parse", BRANCH]).as_deref(), Some(theirs.as_str()), "the branch is unchanged");
}

#[test]
fn an_existing_procfile_is_never_replaced() {
    let repo = GitRepo::new("app");
    repo.write("requirements.txt", FLASK_REQUIREMENTS);
    repo.write("app.py", FLASK_APP);
    repo.write("Procfile", "web: gunicorn app:app --bind 0.0.0.0:$PORT --workers 3\n");
    repo.commit("a Procfile of my own");
    let bare = bare_clone(&repo, "target.git");
    let run = run(
        &["procfile", &repo.file_url(), "--push", "--remote", &file_url(&bare), "--branch", BRANCH, "--author", AUTHOR],
        &[],
    );
    let out = run.ok();
    assert!(out.contains("nothing pushed"), "{out}");
    assert!(git_in(&bare, &["rev-parse", "--verify", BRANCH]).is_none(), "no branch was created");

    // The library refuses too, when asked to add a Procfile over one it did not write.
    let fetched = repo_scanner::source::git::fetch(&repo.file_url(), None, &Default::default()).expect("fetch");
    let change = repo_scanner::output::procfile_pr::FileChange {
        path: "Procfile".into(),
        kind: repo_scanner::output::procfile_pr::ChangeKind::Add,
        original: None,
        content: "web: something else\n".into(),
        lines: Vec::new(),
    };
    let author = repo_scanner::output::push::Author::parse(AUTHOR).expect("author");
    let target = repo_scanner::output::push::PushTarget { remote_url: &file_url(&bare), branch: BRANCH, token: None };
    let err = repo_scanner::output::push::commit_and_push(
        fetched.repo(),
        fetched.commit(),
        &[change],
        &author,
        "x\n\nGenerated-by: repo-scanner\n",
        &target,
    )
    .expect_err("an existing Procfile is not overwritten");
    assert!(err.to_string().contains("never overwrites a Procfile"), "{err}");
    assert!(git_in(&bare, &["rev-parse", "--verify", BRANCH]).is_none());
}

#[test]
fn the_port_fix_changes_only_the_web_line() {
    let repo = GitRepo::new("app");
    repo.write("requirements.txt", "flask==3.0.0\ngunicorn==22.0.0\ncelery==5.3.0\n");
    repo.write("app.py", FLASK_APP);
    repo.write("tasks.py", CELERY);
    let original = "# processes\r\nworker: celery -A tasks worker\r\n\r\nweb:   gunicorn app:app --bind 0.0.0.0:5000   \r\nclock: python clock.py\r\n";
    repo.write("clock.py", "print('tick')\n");
    repo.write("Procfile", original);
    let base = repo.commit("a Procfile that binds 5000");
    let bare = bare_clone(&repo, "target.git");

    let patch = run(&["procfile", &repo.file_url(), "--patch"], &[]).ok().to_string();
    assert_eq!(patch.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).count(), 1, "{patch}");
    assert_eq!(patch.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).count(), 1, "{patch}");

    run(
        &["procfile", &repo.file_url(), "--push", "--remote", &file_url(&bare), "--branch", BRANCH, "--author", AUTHOR],
        &[],
    )
    .ok();
    let numstat = git_in(&bare, &["diff", "--numstat", &base, BRANCH]).expect("diff");
    assert_eq!(numstat, "1\t1\tProcfile", "one line out, one line in");
    let fixed = git_in(&bare, &["cat-file", "blob", &format!("{BRANCH}:Procfile")]).expect("the fixed Procfile");
    let expected = original.replace("0.0.0.0:5000", "0.0.0.0:$PORT");
    // (git_in trims the final line ending.)
    assert_eq!(format!("{fixed}\r\n"), expected, "every other byte (CRLF, spacing, comments, order) is kept");
}

// ---- the pull request ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Ok,
    Unauthorized,
    RateLimited,
    NotFound,
    Unprocessable,
}

#[derive(Default)]
struct Stub {
    /// (method, path, body) of every request, in order.
    log: Vec<(String, String, Value)>,
    /// Header problems seen; a request with one is answered 400.
    violations: Vec<String>,
    /// Open pull requests: number -> (head, title, body).
    prs: HashMap<u64, (String, String, String)>,
}

type Shared = Arc<(Mutex<Stub>, Mode)>;

const TOKEN: &str = "ghp_test_token";

fn check_headers(headers: &HeaderMap) -> Vec<String> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut bad = Vec::new();
    if h("authorization") != format!("Bearer {TOKEN}") {
        bad.push(format!("authorization: {:?}", h("authorization")));
    }
    if h("accept") != "application/vnd.github+json" {
        bad.push(format!("accept: {:?}", h("accept")));
    }
    if h("x-github-api-version") != "2022-11-28" {
        bad.push(format!("x-github-api-version: {:?}", h("x-github-api-version")));
    }
    if !h("user-agent").starts_with("repo-scanner/") {
        bad.push(format!("user-agent: {:?}", h("user-agent")));
    }
    bad
}

/// Records the request and answers the error of the mode, if any.
fn gate(state: &Shared, headers: &HeaderMap, method: &str, path: String, body: Value) -> Option<Response> {
    let (stub, mode) = &**state;
    let mut stub = stub.lock().expect("stub lock");
    stub.log.push((method.to_string(), path, body));
    let bad = check_headers(headers);
    if !bad.is_empty() {
        stub.violations.extend(bad.clone());
        return Some((StatusCode::BAD_REQUEST, Json(json!({"message": bad.join(", ")}))).into_response());
    }
    let answer = match mode {
        Mode::Ok => return None,
        Mode::Unauthorized => (StatusCode::UNAUTHORIZED, HeaderMap::new(), json!({"message": "Bad credentials"})),
        Mode::RateLimited => {
            let mut h = HeaderMap::new();
            h.insert("x-ratelimit-remaining", "0".parse().expect("header"));
            h.insert("x-ratelimit-reset", "1704067200".parse().expect("header"));
            (StatusCode::FORBIDDEN, h, json!({"message": "API rate limit exceeded for user ID 1."}))
        }
        Mode::NotFound => (StatusCode::NOT_FOUND, HeaderMap::new(), json!({"message": "Not Found"})),
        Mode::Unprocessable => (
            StatusCode::UNPROCESSABLE_ENTITY,
            HeaderMap::new(),
            json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "No commits between main and repo-scanner/procfile"}]}),
        ),
    };
    Some((answer.0, answer.1, Json(answer.2)).into_response())
}

async fn list_pulls(
    State(state): State<Shared>,
    UrlPath((o, r)): UrlPath<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let path = format!(
        "/api/v3/repos/{o}/{r}/pulls?head={}&state={}",
        q.get("head").cloned().unwrap_or_default(),
        q.get("state").cloned().unwrap_or_default()
    );
    if let Some(r) = gate(&state, &headers, "GET", path, Value::Null) {
        return r;
    }
    let stub = state.0.lock().expect("stub lock");
    let head = q.get("head").cloned().unwrap_or_default();
    let found: Vec<Value> = stub
        .prs
        .iter()
        .filter(|(_, (h, _, _))| format!("{o}:{h}") == head)
        .map(|(n, _)| json!({"number": n, "html_url": format!("https://github.example/{o}/{r}/pull/{n}")}))
        .collect();
    Json(Value::Array(found)).into_response()
}

async fn create_pull(
    State(state): State<Shared>,
    UrlPath((o, r)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(resp) = gate(&state, &headers, "POST", format!("/api/v3/repos/{o}/{r}/pulls"), body.clone()) {
        return resp;
    }
    let mut stub = state.0.lock().expect("stub lock");
    let n = 41 + stub.prs.len() as u64 + 1;
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    stub.prs.insert(n, (field("head"), field("title"), field("body")));
    (StatusCode::CREATED, Json(json!({"number": n, "html_url": format!("https://github.example/{o}/{r}/pull/{n}")})))
        .into_response()
}

async fn update_pull(
    State(state): State<Shared>,
    UrlPath((o, r, n)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(resp) = gate(&state, &headers, "PATCH", format!("/api/v3/repos/{o}/{r}/pulls/{n}"), body.clone()) {
        return resp;
    }
    let mut stub = state.0.lock().expect("stub lock");
    let Some(pr) = stub.prs.get_mut(&n) else { return StatusCode::NOT_FOUND.into_response() };
    pr.1 = body["title"].as_str().unwrap_or_default().to_string();
    pr.2 = body["body"].as_str().unwrap_or_default().to_string();
    Json(json!({"number": n, "html_url": format!("https://github.example/{o}/{r}/pull/{n}")})).into_response()
}

async fn get_repo(
    State(state): State<Shared>,
    UrlPath((o, r)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(resp) = gate(&state, &headers, "GET", format!("/api/v3/repos/{o}/{r}"), Value::Null) {
        return resp;
    }
    Json(json!({"full_name": format!("{o}/{r}"), "default_branch": "main"})).into_response()
}

/// The GitHub stand-in on 127.0.0.1:0, on its own runtime; stopped on drop.
struct GitHubStub {
    state: Shared,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GitHubStub {
    fn start(mode: Mode) -> GitHubStub {
        let state: Shared = Arc::new((Mutex::new(Stub::default()), mode));
        let app = Router::new()
            .route("/api/v3/repos/{o}/{r}", get(get_repo))
            .route("/api/v3/repos/{o}/{r}/pulls", get(list_pulls).post(create_pull))
            .route("/api/v3/repos/{o}/{r}/pulls/{n}", patch(update_pull))
            .with_state(Arc::clone(&state));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the stub");
                ready_tx.send(listener.local_addr().expect("address")).expect("report the address");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve the stub");
            });
        });
        let addr = ready_rx.recv().expect("the stub started");
        GitHubStub { state, url: format!("http://{addr}/api/v3"), stop: Some(stop), thread: Some(thread) }
    }

    fn log(&self) -> Vec<(String, String, Value)> {
        self.state.0.lock().expect("stub lock").log.clone()
    }

    fn violations(&self) -> Vec<String> {
        self.state.0.lock().expect("stub lock").violations.clone()
    }

    fn prs(&self) -> HashMap<u64, (String, String, String)> {
        self.state.0.lock().expect("stub lock").prs.clone()
    }
}

impl Drop for GitHubStub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn pr_args<'a>(source: &'a str, remote: &'a str, api: &'a str, base: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![
        "procfile",
        source,
        "--push",
        "--remote",
        remote,
        "--branch",
        BRANCH,
        "--author",
        AUTHOR,
        "--open-pr",
        "--github-repo",
        "acme/app",
        "--github-api-url",
        api,
    ];
    if let Some(b) = base {
        args.extend(["--base", b]);
    }
    args
}

#[test]
fn opens_then_updates_the_same_pull_request() {
    let (repo, c1, bare) = flask_repo();
    let stub = GitHubStub::start(Mode::Ok);
    let source = repo.file_url();
    let remote = file_url(&bare);

    let first = run(&pr_args(&source, &remote, &stub.url, None), &[("GITHUB_TOKEN", TOKEN)]);
    assert!(
        first.ok().contains("opened pull request #42: https://github.example/acme/app/pull/42"),
        "{}",
        first.stdout
    );
    let log = stub.log();
    let calls: Vec<(String, String)> = log.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    assert_eq!(
        calls,
        vec![
            ("GET".to_string(), format!("/api/v3/repos/acme/app/pulls?head=acme:{BRANCH}&state=open")),
            ("GET".to_string(), "/api/v3/repos/acme/app".to_string()),
            ("POST".to_string(), "/api/v3/repos/acme/app/pulls".to_string()),
        ]
    );
    let created = &log[2].2;
    assert_eq!(created["head"], BRANCH);
    assert_eq!(created["base"], "main", "the default branch, asked from the repository");
    assert!(created["title"].as_str().unwrap_or_default().contains("Procfile"), "{created:#}");
    let body = created["body"].as_str().unwrap_or_default();
    assert!(body.contains("web: gunicorn app:app --bind 0.0.0.0:$PORT"), "{body}");
    let web_base = stub.url.trim_end_matches("/api/v3");
    assert!(body.contains(&format!("]({web_base}/acme/app/blob/{c1}/app.py)")), "evidence links: {body}");
    assert!(body.contains(&format!("]({web_base}/acme/app/blob/{c1}/proj/celery.py)")), "{body}");
    assert!(body.contains("`$PORT`"), "the $PORT rule: {body}");

    // Again, after the source moved: the branch is rewritten and the same PR updated.
    repo.write("README.md", "# app\n");
    repo.commit("readme");
    let second = run(&pr_args(&source, &remote, &stub.url, Some("main")), &[("GITHUB_TOKEN", TOKEN)]);
    assert!(second.ok().contains("updated pull request #42"), "{}", second.stdout);
    let log = stub.log();
    assert_eq!(log.len(), 5, "{log:#?}");
    assert_eq!(log[3].0, "GET");
    assert_eq!((log[4].0.as_str(), log[4].1.as_str()), ("PATCH", "/api/v3/repos/acme/app/pulls/42"));
    assert_eq!(log[4].2["base"], "main");
    assert!(log[4].2["body"].as_str().unwrap_or_default().contains("repo-scanner"), "{:#}", log[4].2);
    assert_eq!(stub.prs().len(), 1, "no second pull request");
    assert!(stub.violations().is_empty(), "{:?}", stub.violations());
}

#[test]
fn a_missing_token_fails_before_anything_is_pushed() {
    let (repo, _, bare) = flask_repo();
    let stub = GitHubStub::start(Mode::Ok);
    let line = run(&pr_args(&repo.file_url(), &file_url(&bare), &stub.url, Some("main")), &[]).failure();
    assert!(line.contains("GITHUB_TOKEN"), "{line}");
    assert!(git_in(&bare, &["rev-parse", "--verify", BRANCH]).is_none(), "nothing pushed");
    assert!(stub.log().is_empty());
}

fn api_error(mode: Mode) -> String {
    let (repo, _, bare) = flask_repo();
    let stub = GitHubStub::start(mode);
    let line = run(&pr_args(&repo.file_url(), &file_url(&bare), &stub.url, Some("main")), &[("GITHUB_TOKEN", TOKEN)])
        .failure();
    assert!(stub.violations().is_empty(), "{:?}", stub.violations());
    assert!(!line.contains(TOKEN), "the token never shows: {line}");
    line
}

#[test]
fn api_errors_are_clear() {
    let line = api_error(Mode::Unauthorized);
    assert!(line.contains("401") && line.contains("GITHUB_TOKEN") && line.contains("Bad credentials"), "{line}");
    let line = api_error(Mode::RateLimited);
    assert!(line.contains("rate limit") && line.contains("2024-01-01 00:00:00 UTC"), "{line}");
    let line = api_error(Mode::NotFound);
    assert!(line.contains("404") && line.contains("acme/app") && line.contains("not found"), "{line}");
    let line = api_error(Mode::Unprocessable);
    assert!(line.contains("422") && line.contains("No commits between main and repo-scanner/procfile"), "{line}");
}
