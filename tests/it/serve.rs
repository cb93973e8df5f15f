//! `repo-scanner serve` over real HTTP: the app runs in-process on 127.0.0.1:0 (zero2prod's
//! spawn_app), repositories come from a real `git daemon` on loopback (allow-listed), the
//! shared cache is a real `redis-server`, and the last test runs the built binary.
//! Every connection these tests make or cause goes to 127.0.0.1.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use repo_scanner::serve::config::{Secret, ServeConfig, Token};
use repo_scanner::serve::{self, AppState};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::git::{free_port, standard_repo, Daemon, GitRepo, FLASK_APP, FLASK_REQUIREMENTS, PROCFILE};

// ---- the app ---------------------------------------------------------------------------------

pub(crate) struct TestApp {
    base: String,
    pub(crate) addr: SocketAddr,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Loopback allowed, so scans can reach the test's git daemon.
pub(crate) fn loopback_config() -> ServeConfig {
    let mut c = ServeConfig::default();
    c.ssrf.allow = vec!["127.0.0.0/8".into()];
    c
}

pub(crate) async fn spawn_app(config: ServeConfig) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = AppState::new(config).await.expect("state");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve::run(listener, state, async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        addr,
        client: reqwest::Client::builder().no_proxy().build().expect("client"),
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    pub(crate) async fn post_json(&self, body: Value) -> reqwest::Response {
        self.client.post(format!("{}/v1/scans", self.base)).json(&body).send().await.expect("POST /v1/scans")
    }

    async fn scan(&self, body: Value) -> Value {
        let resp = self.post_json(body.clone()).await;
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(status, 200, "scan {body}: {text}");
        serde_json::from_str(&text).expect("a JSON plan")
    }

    pub(crate) async fn upload(&self, query: &str, bytes: Vec<u8>) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/v1/scans{query}", self.base))
            .header("content-type", "application/gzip")
            .body(bytes)
            .send()
            .await
            .expect("upload");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// An upload's status and raw body.
    pub(crate) async fn client_upload(&self, bytes: Vec<u8>) -> (u16, Vec<u8>) {
        let resp = self
            .client
            .post(format!("{}/v1/scans", self.base))
            .header("content-type", "application/gzip")
            .body(bytes)
            .send()
            .await
            .expect("upload");
        (resp.status().as_u16(), resp.bytes().await.expect("body").to_vec())
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("GET")
    }

    async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.expect("metrics text")
    }

    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("join").expect("serve::run");
        }
    }
}

/// A sample's value in a Prometheus text page (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

pub(crate) fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("an error body: {v}"))
}

// ---- a counting, optionally slow, TCP forwarder in front of the git daemon --------------------

/// Forwards loopback connections to `to` after `delay`; counts them. Lets a test see how many
/// connections a scan made (a cache hit makes only the ls-remote one) and hold a scan open.
struct Forwarder {
    port: u16,
    connections: Arc<AtomicUsize>,
}

async fn forwarder(to: u16, delay: Duration) -> Forwarder {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind forwarder");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    Forwarder { port, connections }
}

impl Forwarder {
    fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
    fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    async fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.count() < n {
            assert!(Instant::now() < deadline, "no connection reached the forwarder");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

// ---- archives ---------------------------------------------------------------------------------

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// A tar header whose name is written raw (the tar crate refuses `..` and absolute paths).
fn raw_header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

fn tgz(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let h = raw_header(name, *kind, data.len() as u64, *link);
        b.append(&h, *data).expect("append");
    }
    gzip(&b.into_inner().expect("tar"))
}

fn flask_tgz() -> Vec<u8> {
    use tar::EntryType::Regular;
    tgz(&[
        ("svc/requirements.txt", Regular, FLASK_REQUIREMENTS.as_bytes(), None),
        ("svc/app.py", Regular, FLASK_APP.as_bytes(), None),
        ("svc/Procfile", Regular, PROCFILE.as_bytes(), None),
    ])
}

// ---- tests ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_scan_by_url_then_cache_hits_fetch_nothing() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let fwd = forwarder(daemon.port, Duration::ZERO).await;
    let app = spawn_app(loopback_config()).await;
    let url = fwd.url("repo");

    let plan = app.scan(json!({"source": url, "ref": "main"})).await;
    assert_eq!(plan["source"]["commit"], s.c2.as_str());
    assert_eq!(plan["source"]["location"], url.as_str(), "the URL as given, not the checked IP form");
    assert_eq!(plan["processes"][0]["command"], "gunicorn app:app");
    assert_eq!(fwd.count(), 2, "ls-remote, then the fetch");

    // The same commit again: ls-remote only, no fetch.
    let again = app.scan(json!({"source": url, "ref": "main"})).await;
    assert_eq!(again, plan);
    assert_eq!(fwd.count(), 3, "the repeat made the ls-remote connection only");
    // Named by its full commit id: no network at all.
    let by_sha = app.scan(json!({"source": url, "ref": s.c2})).await;
    assert_eq!(by_sha["source"]["commit"], s.c2.as_str());
    assert_eq!(fwd.count(), 3, "a cached full sha needs no ls-remote");

    let m = app.metrics().await;
    assert_eq!(metric(&m, "repo_scanner_git_fetches_total"), 1.0, "{m}");
    assert_eq!(metric(&m, "repo_scanner_cache_hits_total"), 2.0, "{m}");
    assert_eq!(
        metric(&m, "repo_scanner_scans_total{status=\"ready\",strategy=\"buildpacks\",language=\"python\"}"),
        3.0,
        "{m}"
    );

    // llm: accepted; no resolver is connected, so the rules decide. A separate cache entry.
    let llm = app.scan(json!({"source": url, "ref": "v1", "llm": true})).await;
    assert_eq!(llm["source"]["commit"], s.c1.as_str());
    assert_eq!(llm["resolution"]["decided_by"], "rules");

    // Errors from the source: 422 with codes.
    let resp = app.post_json(json!({"source": url, "ref": "no-such-branch"})).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(&resp.json().await.expect("json")), "ref_not_found");
    let resp = app.post_json(json!({"source": url, "subdir": "nope"})).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(&resp.json().await.expect("json")), "subdir_not_found");
    let resp = app.post_json(json!({"source": fwd.url("no-such-repo")})).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(&resp.json().await.expect("json")), "source_unreadable");
    let resp = app.post_json(json!({"sauce": url})).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(&resp.json().await.expect("json")), "invalid_json");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_slow_scan_answers_202_then_polls_to_the_plan() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let fwd = forwarder(daemon.port, Duration::from_millis(300)).await;
    let mut config = loopback_config();
    config.limits.wait_ms = 50;
    let app = spawn_app(config).await;
    let resp = app.post_json(json!({"source": fwd.url("repo"), "ref": "feature"})).await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().expect("location").to_string();
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "running");
    assert_eq!(location, format!("/v1/scans/{}", body["id"].as_str().expect("id")));
    let deadline = Instant::now() + Duration::from_secs(30);
    let plan = loop {
        let r = app.get(&location).await;
        match r.status().as_u16() {
            202 => {}
            200 => break r.json::<Value>().await.expect("plan"),
            other => panic!("poll answered {other}: {}", r.text().await.unwrap_or_default()),
        }
        assert!(Instant::now() < deadline, "the scan never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(plan["source"]["commit"], s.feature.as_str());
    let r = app.get("/v1/scans/0123456789abcdef").await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.json().await.expect("json")), "not_found");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ssrf_forms_are_refused_before_any_connection() {
    // Something to connect to: if the guard let a URL through, this listener would see it.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").expect("bind trap");
    trap.set_nonblocking(true).expect("nonblocking");
    let p = trap.local_addr().expect("addr").port();
    let trap6 = std::net::TcpListener::bind(("::1", p)).ok();
    if let Some(t) = &trap6 {
        t.set_nonblocking(true).expect("nonblocking");
    }
    let app = spawn_app(ServeConfig::default()).await;
    let cases: Vec<(String, &str)> = vec![
        (format!("git://127.0.0.1:{p}/repo"), "address_not_allowed"),
        (format!("https://127.0.0.1:{p}/repo"), "address_not_allowed"),
        (format!("https://localhost:{p}/repo"), "address_not_allowed"),
        (format!("git://localhost:{p}/repo"), "address_not_allowed"),
        (format!("https://2130706433:{p}/repo"), "address_not_allowed"),
        (format!("git://2130706433:{p}/repo"), "address_not_allowed"),
        (format!("https://0x7f.1:{p}/repo"), "address_not_allowed"),
        (format!("git://0x7f.0.0.1:{p}/repo"), "address_not_allowed"),
        (format!("git://0177.0.0.1:{p}/repo"), "address_not_allowed"),
        (format!("git://127.1:{p}/repo"), "address_not_allowed"),
        (format!("https://[::1]:{p}/repo"), "address_not_allowed"),
        (format!("git://[::ffff:127.0.0.1]:{p}/repo"), "address_not_allowed"),
        (format!("https://[::ffff:7f00:1]:{p}/repo"), "address_not_allowed"),
        (format!("git://[::127.0.0.1]:{p}/repo"), "address_not_allowed"),
        (format!("https://[64:ff9b::7f00:1]:{p}/repo"), "address_not_allowed"),
        (format!("git://0.0.0.0:{p}/repo"), "address_not_allowed"),
        (format!("git://0:{p}/repo"), "address_not_allowed"),
        ("https://169.254.169.254/latest/meta-data".into(), "address_not_allowed"),
        ("git://10.0.0.1/repo".into(), "address_not_allowed"),
        ("https://172.16.0.1/repo".into(), "address_not_allowed"),
        ("https://192.168.1.1/repo".into(), "address_not_allowed"),
        ("git://100.64.0.1/repo".into(), "address_not_allowed"),
        ("git://224.0.0.1/repo".into(), "address_not_allowed"),
        ("git://255.255.255.255/repo".into(), "address_not_allowed"),
        ("https://192.0.2.10/repo".into(), "address_not_allowed"),
        ("https://[fd00::1]/repo".into(), "address_not_allowed"),
        ("https://[fe80::1]/repo".into(), "address_not_allowed"),
        ("https://[ff02::1]/repo".into(), "address_not_allowed"),
        ("https://[2001:db8::1]/repo".into(), "address_not_allowed"),
        (format!("http://127.0.0.1:{p}/repo"), "scheme_not_allowed"),
        (format!("http://2130706433:{p}/repo"), "scheme_not_allowed"),
        (format!("ssh://git@127.0.0.1:{p}/repo"), "scheme_not_allowed"),
        ("git@127.0.0.1:repo.git".into(), "scheme_not_allowed"),
        ("file:///etc".into(), "scheme_not_allowed"),
        ("file://localhost/etc/passwd".into(), "scheme_not_allowed"),
        ("/srv/git/repo".into(), "local_path_not_allowed"),
        ("./repo".into(), "local_path_not_allowed"),
        ("https://".into(), "invalid_url"),
    ];
    for (url, code) in &cases {
        let resp = app.post_json(json!({"source": url})).await;
        let status = resp.status();
        let body: Value = resp.json().await.expect("an error body");
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(error_code(&body), *code, "{url}: {body}");
    }
    // Let any stray connection arrive before looking.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(trap.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "a connection reached 127.0.0.1");
    if let Some(t) = &trap6 {
        assert!(t.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "a connection reached ::1");
    }
    let m = app.metrics().await;
    assert_eq!(metric(&m, "repo_scanner_rejections_total{reason=\"ssrf\"}"), cases.len() as f64, "{m}");
    assert_eq!(metric(&m, "repo_scanner_git_fetches_total"), 0.0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_https_goes_through_the_checking_proxy() {
    // An allow-listed https URL: libgit2 must reach the target through the CONNECT proxy,
    // which connects to the checked address (the TLS handshake then fails: no TLS server).
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = target.local_addr().expect("addr").port();
    let app = spawn_app(loopback_config()).await;
    let accept = tokio::spawn(async move {
        let (mut s, _) = target.accept().await.expect("accept");
        let mut first = [0u8; 1];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut first).await;
        first[0]
    });
    let resp = app.post_json(json!({"source": format!("https://localhost:{port}/repo")})).await;
    assert_eq!(resp.status(), 422, "TLS to a plain socket fails");
    let first = tokio::time::timeout(Duration::from_secs(10), accept).await.expect("connected").expect("join");
    assert_eq!(first, 0x16, "a TLS ClientHello arrived through the tunnel");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_auth_requires_the_right_bearer_token() {
    let config = ServeConfig {
        tokens: vec![Token { name: "deployer".into(), token: Secret::new("s3cret-token") }],
        ..ServeConfig::default()
    };
    let app = spawn_app(config).await;
    let url = format!("{}/v1/schema", app.base);
    let r = app.client.get(&url).send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(&r.json().await.expect("json")), "unauthorized");
    let r = app.client.get(&url).bearer_auth("s3cret-tokem").send().await.expect("get");
    assert_eq!(r.status(), 401);
    let r = app.client.get(&url).bearer_auth("s3cret").send().await.expect("get");
    assert_eq!(r.status(), 401);
    let r = app.client.get(&url).bearer_auth("s3cret-token").send().await.expect("get");
    assert_eq!(r.status(), 200);
    let r = app.client.post(format!("{}/v1/scans", app.base)).json(&json!({"source": "x"})).send().await.expect("post");
    assert_eq!(r.status(), 401, "scans too");
    assert_eq!(app.get("/healthz").await.status(), 200, "health is open");
    let m = app.metrics().await;
    assert_eq!(metric(&m, "repo_scanner_rejections_total{reason=\"unauthorized\"}"), 4.0, "{m}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_body_and_archive_limits() {
    use tar::EntryType::{Regular, Symlink};
    let mut config = ServeConfig::default();
    config.limits.max_json_bytes = 1024;
    config.limits.max_upload_bytes = 256 << 10;
    config.limits.archive_max_entries = 20;
    config.limits.archive_max_unpacked_bytes = 64 << 20;
    config.limits.archive_max_ratio = 50;
    let app = spawn_app(config).await;

    let big = json!({"source": "x".repeat(2000)});
    let r = app.post_json(big).await;
    assert_eq!(r.status(), 413);
    // Refused unread: the server closes the connection and says so, so the client's pool
    // does not reuse it for the next request (which then failed as a broken pipe).
    assert_eq!(r.headers().get("connection").and_then(|v| v.to_str().ok()), Some("close"));
    assert_eq!(error_code(&r.json().await.expect("json")), "body_too_large");

    let (status, body) = app.upload("", vec![7u8; 300 << 10]).await;
    assert_eq!((status, error_code(&body)), (413, "body_too_large"));

    // A good upload, scanned in a subdirectory.
    let (status, plan) = app.upload("?subdir=svc", flask_tgz()).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["source"]["kind"], "archive");
    assert_eq!(plan["language"]["name"], "python");
    assert_eq!(plan["processes"][0]["command"], "gunicorn app:app");

    // A gzip bomb: 32 MiB of zeros in one file, a few dozen KiB compressed.
    let mut bomb_tar = tar::Builder::new(Vec::new());
    let zeros = vec![0u8; 32 << 20];
    bomb_tar.append(&raw_header("zeros.bin", Regular, zeros.len() as u64, None), zeros.as_slice()).expect("append");
    let bomb = gzip(&bomb_tar.into_inner().expect("tar"));
    assert!(bomb.len() < 256 << 10, "the bomb fits the upload limit: {}", bomb.len());
    let (status, body) = app.upload("", bomb).await;
    assert_eq!((status, error_code(&body)), (413, "archive_ratio_exceeded"), "{body}");

    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (tgz(&[("../evil.py", Regular, b"x", None)]), 422, "archive_unsafe_path"),
        (tgz(&[("ok/../../evil.py", Regular, b"x", None)]), 422, "archive_unsafe_path"),
        (tgz(&[("/etc/cron.d/evil", Regular, b"x", None)]), 422, "archive_unsafe_path"),
        (tgz(&[("Procfile", tar::EntryType::Link, b"", Some("/etc/passwd"))]), 422, "archive_link_escape"),
        (b"definitely not gzip".to_vec(), 422, "archive_unreadable"),
    ];
    for (bytes, want_status, want_code) in cases {
        let (status, body) = app.upload("", bytes).await;
        assert_eq!((status, error_code(&body)), (want_status, want_code), "{body}");
    }
    let many: Vec<(String, Vec<u8>)> = (0..25).map(|i| (format!("f{i}.txt"), b"x".to_vec())).collect();
    let entries: Vec<(&str, tar::EntryType, &[u8], Option<&str>)> =
        many.iter().map(|(n, d)| (n.as_str(), Regular, d.as_slice(), None)).collect();
    let (status, body) = app.upload("", tgz(&entries)).await;
    assert_eq!((status, error_code(&body)), (413, "archive_too_many_entries"));

    // A symlink out: listed as escaping, never read, and the plan says so.
    let (status, plan) = app
        .upload(
            "",
            tgz(&[
                ("requirements.txt", Regular, FLASK_REQUIREMENTS.as_bytes(), None),
                ("app.py", Regular, FLASK_APP.as_bytes(), None),
                ("Procfile", Symlink, b"", Some("/etc/passwd")),
            ]),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    assert!(plan["warnings"].as_array().expect("warnings").iter().any(|w| w["code"] == "symlink_escape"), "{plan}");
    assert!(!plan.to_string().contains("root:"));

    let r = app
        .client
        .post(format!("{}/v1/scans", app.base))
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.json().await.expect("json")), "unsupported_content_type");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_overload_gives_503_with_retry_after() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let fwd = forwarder(daemon.port, Duration::from_millis(1500)).await;
    let mut config = loopback_config();
    config.limits.max_concurrent_scans = 1;
    config.limits.max_queued_scans = 0;
    config.limits.retry_after_s = 7;
    let app = Arc::new(spawn_app(config).await);
    let url = fwd.url("repo");
    let first = {
        let app = app.clone();
        let url = url.clone();
        tokio::spawn(async move { app.scan(json!({"source": url})).await })
    };
    fwd.wait_for(1).await;
    let r = app.post_json(json!({"source": url, "ref": "feature"})).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(error_code(&r.json().await.expect("json")), "overloaded");
    let plan = first.await.expect("join");
    assert_eq!(plan["source"]["commit"], s.c2.as_str(), "the admitted scan still finished");
    let m = app.metrics().await;
    assert_eq!(metric(&m, "repo_scanner_rejections_total{reason=\"overload\"}"), 1.0, "{m}");
    // Capacity is back once the scan is done.
    app.scan(json!({"source": url, "ref": "v1"})).await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_rate_limit_gives_429_per_token() {
    let mut config = ServeConfig {
        tokens: vec![
            Token { name: "a".into(), token: Secret::new("token-a") },
            Token { name: "b".into(), token: Secret::new("token-b") },
        ],
        ..ServeConfig::default()
    };
    config.limits.rate_per_minute = 1;
    config.limits.rate_burst = 2;
    let app = spawn_app(config).await;
    let url = format!("{}/v1/schema", app.base);
    for _ in 0..2 {
        assert_eq!(app.client.get(&url).bearer_auth("token-a").send().await.expect("get").status(), 200);
    }
    let r = app.client.get(&url).bearer_auth("token-a").send().await.expect("get");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(error_code(&r.json().await.expect("json")), "rate_limited");
    assert_eq!(app.client.get(&url).bearer_auth("token-b").send().await.expect("get").status(), 200, "per token");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shutdown_drains_an_in_flight_scan() {
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let fwd = forwarder(daemon.port, Duration::from_millis(800)).await;
    let mut app = spawn_app(loopback_config()).await;
    let (client, base, url) = (app.client.clone(), app.base.clone(), fwd.url("repo"));
    let in_flight = tokio::spawn(async move {
        let r = client.post(format!("{base}/v1/scans")).json(&json!({"source": url})).send().await.expect("post");
        (r.status().as_u16(), r.json::<Value>().await.expect("json"))
    });
    fwd.wait_for(1).await;
    let _ = app.shutdown.take().expect("sender").send(());
    let (status, plan) = in_flight.await.expect("join");
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["source"]["commit"], s.c2.as_str());
    let handle = app.handle.take().expect("handle");
    tokio::time::timeout(Duration::from_secs(10), handle).await.expect("run returned").expect("join").expect("ok");
    assert!(tokio::net::TcpStream::connect(app.addr).await.is_err(), "no longer listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_metrics_openapi_schema_health_and_request_ids() {
    let app = spawn_app(ServeConfig::default()).await;
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.expect("OpenAPI parses as JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/v1/scans", "/v1/scans/{id}", "/v1/schema", "/healthz", "/readyz", "/metrics"] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    // Every $ref resolves inside the document.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = format!("/{}", part.split('"').next().expect("ref"));
        assert!(doc.pointer(&pointer).is_some(), "dangling $ref {pointer}");
    }
    let schema: Value = app.get("/v1/schema").await.json().await.expect("schema");
    assert!(schema["properties"]["processes"].is_object());
    assert_eq!(app.get("/readyz").await.status(), 200);
    let r = app.get("/healthz").await;
    assert!(r.headers().get("x-request-id").is_some_and(|v| !v.is_empty()), "a request id is returned");
    let r =
        app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "abc-123").send().await.expect("get");
    assert_eq!(r.headers()["x-request-id"], "abc-123", "a caller's id is kept");
    let r = app.get("/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.json().await.expect("json")), "not_found");
    let m = app.metrics().await;
    for name in [
        "repo_scanner_scans_total",
        "repo_scanner_scan_duration_seconds_bucket{le=\"+Inf\"}",
        "repo_scanner_llm_calls_total",
        "repo_scanner_llm_tokens_in_total",
        "repo_scanner_llm_cost_usd_total",
        "repo_scanner_cache_hits_total",
        "repo_scanner_scans_in_flight",
        "repo_scanner_rejections_total",
    ] {
        assert!(m.contains(name), "{name} in {m}");
    }
    app.stop().await;
}

// ---- Redis -----------------------------------------------------------------------------------

/// `redis-server` on a free loopback port, no persistence; killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// None, after support::not_run (a failure under CI), when redis-server is not installed.
    fn start() -> Option<Redis> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            super::support::not_run("redis-server is not installed (scripts/setup.sh installs it)");
            return None;
        }
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("redis-server ready");
        Some(Redis { child, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_replicas_share_a_redis_cache_and_survive_its_loss() {
    let Some(redis) = Redis::start() else { return };
    let s = standard_repo();
    let daemon = Daemon::start(s.repo.base());
    let fwd = forwarder(daemon.port, Duration::ZERO).await;
    let config = || {
        let mut c = loopback_config();
        c.cache_url = Some(Secret::new(redis.url()));
        c
    };
    let a = spawn_app(config()).await;
    let b = spawn_app(config()).await;
    let url = fwd.url("repo");
    let plan_a = a.scan(json!({"source": url, "ref": "main", "subdir": ""})).await;
    let plan_b = b.scan(json!({"source": url, "ref": "main"})).await;
    assert_eq!(plan_a, plan_b);
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    assert_eq!(metric(&ma, "repo_scanner_git_fetches_total"), 1.0, "{ma}");
    assert_eq!(metric(&mb, "repo_scanner_git_fetches_total"), 0.0, "replica b fetched nothing: {mb}");
    assert_eq!(metric(&mb, "repo_scanner_cache_hits_total"), 1.0, "{mb}");

    // Redis goes away: scans still succeed, without a cache.
    drop(redis);
    let plan = a.scan(json!({"source": url, "ref": "feature"})).await;
    assert_eq!(plan["source"]["commit"], s.feature.as_str());
    let plan = b.scan(json!({"source": url, "ref": "main"})).await;
    assert_eq!(plan["source"]["commit"], s.c2.as_str());
    let mb = b.metrics().await;
    assert!(metric(&mb, "repo_scanner_cache_errors_total") >= 1.0, "{mb}");
    assert_eq!(metric(&mb, "repo_scanner_git_fetches_total"), 1.0, "a miss without Redis fetches: {mb}");
    a.stop().await;
    b.stop().await;
}

/// The real binary: flags, a config file, JSON logs, a dead Redis (a warning, not a failure),
/// and SIGTERM stopping it cleanly.
#[test]
fn serve_binary_logs_json_degrades_without_redis_and_stops_on_sigterm() {
    let repo = GitRepo::new("app");
    repo.write("requirements.txt", FLASK_REQUIREMENTS);
    repo.write("app.py", FLASK_APP);
    repo.write("Procfile", PROCFILE);
    let commit = repo.commit("app");
    let daemon = Daemon::start(repo.base());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "[ssrf]\nallow = [\"127.0.0.0/8\"]\n[[tokens]]\nname = \"ci\"\ntoken = \"t0k\"\n")
        .expect("config");
    let (port, dead_redis) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_repo-scanner"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log-format", "json"])
        .arg("--config")
        .arg(&config)
        .args(["--cache-url", &format!("redis://127.0.0.1:{dead_redis}/")])
        .env_remove("RUST_LOG")
        .env_remove("REPO_SCANNER_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run repo-scanner serve");
    let mut stderr = child.stderr.take().expect("stderr");
    let body = json!({"source": daemon.url("app")}).to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let response = loop {
        match http(port, "POST", "/v1/scans", Some("t0k"), &body) {
            Some(r) => break r,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            None => panic!("the server never answered"),
        }
    };
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(&commit), "{response}");
    let unauth = http(port, "POST", "/v1/scans", None, &body).expect("answer");
    assert!(unauth.starts_with("HTTP/1.1 401"), "{unauth}");
    stop(&mut child);
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit on SIGTERM: {status}");
    let mut log = String::new();
    stderr.read_to_string(&mut log).expect("log");
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l["fields"]["message"].as_str().is_some_and(|m| m.contains("redis"))),
        "a warning about Redis: {log}"
    );
    assert!(
        lines.iter().any(|l| l["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty())),
        "log lines carry the request id: {log}"
    );
    assert!(!log.contains("t0k"), "the token never reaches the log");
}

fn stop(child: &mut Child) {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill").success();
    assert!(ok, "kill -TERM");
}

/// A minimal HTTP/1.1 request over a fresh connection; None when nothing listens yet.
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// `"llm": true` reaches the resolver through the hook; `false` stays with the rules. The model
/// is the scripted OpenAI-compatible server of the LLM tests.
#[test]
fn serve_llm_flag_uses_the_connected_resolver() {
    use repo_scanner::resolver::Resolver;
    use repo_scanner::serve::{LlmHook, PlanResolver};
    use tar::EntryType::Regular;

    let script = crate::llm::server(vec![crate::llm::chat(&crate::llm::answer(
        "",
        "python",
        &[("web", "gunicorn lib.util:app --bind 0.0.0.0:$PORT")],
    ))]);
    let cfg = crate::llm::config(repo_scanner::config::Provider::Openai, &script.base, None);
    let root = crate::llm::fixture("python-no-entry");
    let files: Vec<(String, Vec<u8>)> = ["requirements.txt", "lib/util.py", "lib/__init__.py"]
        .iter()
        .filter_map(|f| std::fs::read(root.join(f)).ok().map(|b| (format!("app/{f}"), b)))
        .collect();
    let entries: Vec<(&str, tar::EntryType, &[u8], Option<&str>)> =
        files.iter().map(|(n, b)| (n.as_str(), Regular, b.as_slice(), None)).collect();
    let body = tgz(&entries);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let resolver = Resolver::from_config(&cfg).expect("backend").expect("enabled");
        let hook: Arc<dyn PlanResolver> = Arc::new(LlmHook { resolver, runtime: tokio::runtime::Handle::current() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = AppState::with_resolver(ServeConfig::default(), Some(hook)).await.expect("state");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve::run(listener, state, async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let post = |q: &'static str| {
            client
                .post(format!("http://{addr}/v1/scans{q}"))
                .header("content-type", "application/gzip")
                .body(body.clone())
                .send()
        };
        let rules: Value = post("?subdir=app").await.expect("post").json().await.expect("json");
        assert_eq!(rules["resolution"]["decided_by"], "rules");
        assert!(rules["open_questions"].to_string().contains("no_web_command"), "{rules}");
        let llm: Value = post("?subdir=app&llm=true").await.expect("post").json().await.expect("json");
        assert_eq!(llm["resolution"]["decided_by"], "llm", "{llm}");
        assert_eq!(llm["processes"][0]["source"], "llm");
        assert_eq!(llm["processes"][0]["command"], "gunicorn lib.util:app --bind 0.0.0.0:$PORT");
        let _ = tx.send(());
        let _ = server.await;
    });
    assert_eq!(script.script.count(), 1, "one model call for the one llm request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_openapi_matches_the_router() {
    let config = ServeConfig {
        tokens: vec![Token { name: "deployer".into(), token: Secret::new("s3cret-token") }],
        ..loopback_config()
    };
    let app = spawn_app(config).await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("OpenAPI JSON");
    let paths = doc["paths"].as_object().expect("paths");
    let mut authenticated = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            let url = format!("{}{}", app.base, path.replace("{id}", "0123abcd"));
            let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
            let resp = app.client.request(m, &url).send().await.expect("request");
            let status = resp.status().as_u16();
            let documented = |s: u16| op["responses"].get(s.to_string()).is_some();
            if op.get("security").is_some() {
                authenticated += 1;
                assert_eq!(status, 401, "{method} {path} without a token");
                assert!(documented(401), "{method} {path} documents 401");
                assert!(documented(429), "{method} {path} documents 429");
            } else {
                assert!(documented(status), "{method} {path} answered {status}, not in the document");
            }
        }
    }
    assert_eq!(authenticated, 3, "POST /v1/scans, GET /v1/scans/{{id}}, GET /v1/schema");
    // The document's constraints on `source` are the server's: what the pattern refuses, the
    // server refuses.
    let source = &doc["components"]["schemas"]["ScanRequest"]["properties"]["source"];
    let max = source["maxLength"].as_u64().expect("maxLength") as usize;
    assert!(source["pattern"].as_str().expect("pattern").contains("[hH][tT][tT][pP][sS]"));
    for (body, code) in [
        (json!({"source": "file:///etc"}), "scheme_not_allowed"),
        (json!({"source": "/etc"}), "local_path_not_allowed"),
        (json!({"source": "ssh://git@127.0.0.1/r"}), "scheme_not_allowed"),
        (json!({"source": format!("git://127.0.0.1/{}", "a".repeat(max))}), "invalid_source"),
    ] {
        let resp = app
            .client
            .post(format!("{}/v1/scans", app.base))
            .bearer_auth("s3cret-token")
            .json(&body)
            .send()
            .await
            .expect("post");
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.expect("json");
        assert_eq!((status, error_code(&v)), (400, code), "{body}");
    }
    app.stop().await;
}
