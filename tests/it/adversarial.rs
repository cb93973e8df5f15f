//! Hostile input, as an attacker would send it, at the server's limits (issue 12).
//!
//! Every input is generated here: GNU sparse entries, a tar split across gzip members,
//! duplicate paths, a symlink then a file, bombs, a deeply nested render.yaml, a dense
//! Procfile, a plan that would be megabytes. Each test asserts the status and the plan.
//! The tree the scanner sees is compared with what GNU tar itself extracts. Git runs through
//! a real `git daemon` on loopback, behind a forwarder that drips its bytes; the HTTP limits
//! are tested with half-open connections. Timings and memory are measured by
//! `scripts/soak.sh`, not here.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use repo_scanner::source::{archive, dir};
use repo_scanner::view::{Limits, RepoView};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::git::{Daemon, GitRepo, FLASK_APP, FLASK_REQUIREMENTS};
use crate::serve::{error_code, gzip, loopback_config, spawn_app};

// ---- archives built by the tests ---------------------------------------------------------

fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().expect("tar")
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, path, data).expect("append");
}

fn symlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    b.append_link(&mut h, path, target).expect("symlink");
}

fn hardlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_mode(0o644);
    h.set_size(0);
    b.append_link(&mut h, path, target).expect("hard link");
}

fn octal(field: &mut [u8], n: u64) {
    let s = format!("{n:0w$o}\0", w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// A GNU sparse entry (what `tar -S` writes): `data` at offset 0, a hole to `real_size`.
fn sparse(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], real_size: u64) {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).expect("path");
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(data.len() as u64);
    let g = h.as_gnu_mut().expect("gnu header");
    octal(&mut g.sparse[0].offset, 0);
    octal(&mut g.sparse[0].numbytes, data.len() as u64);
    octal(&mut g.sparse[1].offset, real_size);
    octal(&mut g.sparse[1].numbytes, 0);
    octal(&mut g.realsize, real_size);
    h.set_cksum();
    b.append(&h, data).expect("sparse");
}

fn flask(b: &mut tar::Builder<Vec<u8>>) {
    file(b, "requirements.txt", FLASK_REQUIREMENTS.as_bytes());
    file(b, "app.py", FLASK_APP.as_bytes());
}

fn tgz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    gzip(&tar_of(build))
}

/// The files (path -> content) of a view, symlinks inside the tree read through.
fn files_of(view: &RepoView) -> BTreeMap<String, Vec<u8>> {
    view.files().filter_map(|p| view.read(p).ok().map(|b| (p.to_string(), b.to_vec()))).collect()
}

/// What GNU tar extracts from `bytes`, listed like a directory source.
fn gnu_tar_tree(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new("tar")
        .args(["-xzf", "-", "--no-same-owner", "-C"])
        .arg(out.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("GNU tar is installed");
    child.stdin.take().expect("stdin").write_all(bytes).expect("feed tar");
    let done = child.wait_with_output().expect("tar ran");
    assert!(done.status.success(), "tar -xzf: {}", String::from_utf8_lossy(&done.stderr));
    files_of(&dir::list(out.path(), Limits::default()).expect("list the extracted tree"))
}

fn scanner_tree(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    files_of(&archive::list(bytes, archive::ArchiveLimits::default(), Limits::default()).expect("unpacks"))
}

/// One tar stream split across two gzip members, as `cat a.gz b.gz` makes.
fn split_members(tar: &[u8], at: usize) -> Vec<u8> {
    let (a, b) = tar.split_at(at);
    [gzip(a), gzip(b)].concat()
}

fn duplicates() -> Vec<u8> {
    tgz(|b| {
        flask(b);
        file(b, "Procfile", b"web: gunicorn app:app\n");
        file(b, "Procfile", b"web: gunicorn other:app\n");
    })
}

fn symlink_then_file() -> Vec<u8> {
    tgz(|b| {
        flask(b);
        file(b, "real", b"web: gunicorn linked:app\n");
        symlink(b, "Procfile", "real");
        file(b, "Procfile", b"web: gunicorn file:app\n");
        file(b, "other", b"first");
        symlink(b, "other", "real");
    })
}

fn hard_link_then_overwrite() -> Vec<u8> {
    tgz(|b| {
        file(b, "a.txt", b"v1");
        hardlink(b, "b.txt", "a.txt");
        file(b, "a.txt", b"v2");
    })
}

fn small_sparse() -> Vec<u8> {
    tgz(|b| sparse(b, "data.bin", b"abc", 4096))
}

fn procfile_of(plan: &Value) -> Vec<(String, String)> {
    plan["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .map(|p| (p["type"].as_str().unwrap_or("").to_string(), p["command"].as_str().unwrap_or("").to_string()))
        .collect()
}

fn warning_codes(plan: &Value) -> Vec<&str> {
    plan["warnings"].as_array().expect("warnings").iter().filter_map(|w| w["code"].as_str()).collect()
}

// ---- the tree is GNU tar's ---------------------------------------------------------------

#[test]
fn the_scanner_sees_the_tree_gnu_tar_extracts() {
    let mut b = tar::Builder::new(Vec::new());
    flask(&mut b);
    file(&mut b, "Procfile", b"web: gunicorn app:app\n");
    let tar = b.into_inner().expect("tar");
    for (name, bytes) in [
        ("duplicates", duplicates()),
        ("symlink then file", symlink_then_file()),
        ("hard link then overwrite", hard_link_then_overwrite()),
        ("gzip members", split_members(&tar, 1024)),
        ("sparse", small_sparse()),
    ] {
        let gnu = gnu_tar_tree(&bytes);
        assert!(!gnu.is_empty(), "{name}: tar extracted nothing");
        assert_eq!(scanner_tree(&bytes), gnu, "{name}");
    }
}

// ---- uploads through the server ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_uploads_get_a_status_and_a_plan_of_the_real_tree() {
    let app = spawn_app(loopback_config()).await;

    // 191 bytes of sparse header describing 3 GiB of holes.
    let bomb = tgz(|b| sparse(b, "big.bin", b"x", 3 << 30));
    assert!(bomb.len() < 400);
    let (status, body) = app.upload("", bomb).await;
    assert_eq!((status, error_code(&body)), (413, "archive_unpacked_too_large"), "{body}");

    // 64 MiB of zeros: stopped by the ratio long before the end.
    let zeros = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut h = tar::Header::new_gnu();
        h.set_path("zeros").expect("path");
        h.set_size(64 << 20);
        h.set_mode(0o644);
        h.set_cksum();
        gz.write_all(h.as_bytes()).expect("header");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&chunk).expect("zeros");
        }
        gz.finish().expect("gzip")
    };
    let (status, body) = app.upload("", zeros).await;
    assert_eq!((status, error_code(&body)), (413, "archive_ratio_exceeded"), "{body}");

    // The decoy comes first; tar extracts the second.
    let (status, plan) = app.upload("", duplicates()).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(procfile_of(&plan), [("web".to_string(), "gunicorn other:app".to_string())]);

    let (status, plan) = app.upload("", symlink_then_file()).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(procfile_of(&plan), [("web".to_string(), "gunicorn file:app".to_string())]);

    // The Procfile is in the second gzip member only.
    let tar = tar_of(|b| {
        flask(b);
        file(b, "Procfile", b"web: gunicorn app:app --workers 3\n");
    });
    let first_member = 3 * 512 + FLASK_REQUIREMENTS.len().div_ceil(512) * 512;
    let (status, plan) = app.upload("", split_members(&tar, first_member)).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(procfile_of(&plan), [("web".to_string(), "gunicorn app:app --workers 3".to_string())]);

    // A symlinked directory with files under it: no single tree, refused.
    let (status, body) = app
        .upload(
            "",
            tgz(|b| {
                symlink(b, "app", "/etc");
                file(b, "app/Procfile", b"web: x");
            }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (422, "archive_unsupported_entry"), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_manifests_become_warnings_and_plans_stay_small() {
    let app = spawn_app(loopback_config()).await;

    // render.yaml nested 20,000 levels: a warning, and the Procfile still decides.
    let deep = format!("services: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    let (status, plan) = app
        .upload(
            "",
            tgz(|b| {
                flask(b);
                file(b, "Procfile", b"web: gunicorn app:app\n");
                file(b, "render.yaml", deep.as_bytes());
            }),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    let deep_warning = plan["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .find(|w| w["file"] == "render.yaml")
        .unwrap_or_else(|| panic!("a warning about render.yaml: {plan}"));
    assert_eq!(deep_warning["code"], "manifest_malformed");
    assert_eq!(procfile_of(&plan), [("web".to_string(), "gunicorn app:app".to_string())]);

    // A 1 MiB Procfile of distinct names: capped, not ready, small.
    let mut dense = String::new();
    let mut n = 0;
    while dense.len() < (1 << 20) - 64 {
        dense.push_str(&format!("p{n}: python worker{n}.py\n"));
        n += 1;
    }
    let resp = app
        .client_upload(tgz(|b| {
            flask(b);
            file(b, "Procfile", dense.as_bytes());
        }))
        .await;
    assert_eq!(resp.0, 200);
    assert!(resp.1.len() < 256 << 10, "the plan is {} bytes", resp.1.len());
    let plan: Value = serde_json::from_slice(&resp.1).expect("a plan");
    assert!(plan["processes"].as_array().expect("processes").len() <= 64);
    assert!(plan["warnings"].as_array().expect("warnings").len() <= 100);
    assert!(warning_codes(&plan).contains(&"plan_capped"), "{:?}", warning_codes(&plan));
    assert_ne!(plan["status"], "ready");

    // A command longer than the cap is dropped, not cut.
    let long = format!("web: gunicorn app:app {}\n", "--log-level info ".repeat(300));
    let (status, plan) = app
        .upload(
            "",
            tgz(|b| {
                flask(b);
                file(b, "Procfile", long.as_bytes());
            }),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    assert!(procfile_of(&plan).iter().all(|(_, c)| c.len() <= 4096), "{plan}");
    assert!(warning_codes(&plan).contains(&"plan_capped"));
    assert_ne!(plan["status"], "ready");
    app.stop().await;
}

// ---- text output -------------------------------------------------------------------------

#[test]
fn control_characters_never_reach_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("requirements.txt"), FLASK_REQUIREMENTS).expect("write");
    std::fs::write(dir.path().join("app.py"), FLASK_APP).expect("write");
    std::fs::write(
        dir.path().join("Procfile"),
        "web: gunicorn app:app\n\u{1b}]0;owned\u{7}bad\u{1b}[2K line\nworker: celery \u{202e}kcatta\n",
    )
    .expect("write");
    let out = crate::support::output(crate::support::bin().args(["scan", "--format", "text"]).arg(dir.path()));
    let text = out.ok();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'), "{text:?}");
    assert!(text.contains("\\u{1b}"), "the escape is visible: {text}");
}

// ---- git: byte budget and cancellation ---------------------------------------------------

/// A repository whose one commit holds `size` bytes that do not compress.
fn big_repo(size: usize) -> GitRepo {
    let repo = GitRepo::new("big");
    repo.write("requirements.txt", FLASK_REQUIREMENTS);
    repo.write("app.py", FLASK_APP);
    repo.write("Procfile", "web: gunicorn app:app\n");
    let mut noise = String::with_capacity(size * 2);
    while noise.len() < size * 2 {
        noise.push_str(&format!("{:016x}", fastrand::u64(..)));
    }
    repo.write("data.txt", &noise);
    repo.commit("big");
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_over_its_byte_budget_is_refused() {
    let repo = big_repo(1 << 20);
    let daemon = Daemon::start(repo.base());
    let mut config = loopback_config();
    config.limits.max_fetch_bytes = 256 << 10;
    let app = spawn_app(config).await;
    let resp = app.post_json(json!({"source": daemon.url("big")})).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("json");
    assert_eq!((status, error_code(&body)), (413, "source_too_large"), "{body}");
    // Within the budget the same repository scans.
    app.stop().await;
    let app = spawn_app(loopback_config()).await;
    let resp = app.post_json(json!({"source": daemon.url("big")})).await;
    assert_eq!(resp.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ref_and_subdir_are_refused_before_any_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = spawn_app(loopback_config()).await;
    let url = format!("git://127.0.0.1:{port}/r");
    for (body, code) in [
        (json!({"source": url, "ref": "main..x"}), "invalid_ref"),
        (json!({"source": url, "ref": "a\nb"}), "invalid_ref"),
        (json!({"source": url, "subdir": "../up"}), "invalid_subdir"),
        (json!({"source": url, "subdir": "a/\u{1b}[2K"}), "invalid_subdir"),
    ] {
        let resp = app.post_json(body.clone()).await;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.expect("json");
        assert_eq!((status, error_code(&v)), (400, code), "{body}");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "no connection reached the git server");
    app.stop().await;
}

/// Connection lifetimes seen by the dripping forwarder: (opened, closed).
type Lifetimes = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;

/// Forwards to `to`, passing the server's bytes `chunk` at a time every `every`. A connection
/// is closed when the server's side ends or the client is gone (a write to it fails).
async fn dripping_forwarder(to: u16, chunk: usize, every: Duration) -> (u16, Lifetimes) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let lifetimes: Lifetimes = Arc::default();
    let log = lifetimes.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let i = {
                let mut l = log.lock().expect("log");
                l.push((Instant::now(), None));
                l.len() - 1
            };
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(out) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else { return };
                let (mut in_r, mut in_w) = inbound.into_split();
                let (mut out_r, mut out_w) = out.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut in_r, &mut out_w).await;
                    let _ = out_w.shutdown().await;
                });
                let mut buf = vec![0u8; chunk];
                loop {
                    let n = match out_r.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if in_w.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(every).await;
                }
                log.lock().expect("log")[i].1 = Some(Instant::now());
            });
        }
    });
    (port, lifetimes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_scan_is_cancelled_and_frees_its_slot_only_when_stopped() {
    let repo = big_repo(256 << 10);
    let daemon = Daemon::start(repo.base());
    let (port, lifetimes) = dripping_forwarder(daemon.port, 256, Duration::from_millis(20)).await;
    let mut config = loopback_config();
    config.limits.max_concurrent_scans = 1;
    config.limits.scan_timeout_ms = 1500;
    config.limits.wait_ms = 30_000;
    let app = spawn_app(config).await;
    let url = format!("git://127.0.0.1:{port}/big");
    let body = json!({"source": url});
    let (a, b, c) = tokio::join!(app.post_json(body.clone()), app.post_json(body.clone()), app.post_json(body));
    let statuses = [a.status().as_u16(), b.status().as_u16(), c.status().as_u16()];
    assert_eq!(statuses, [504, 504, 504]);
    // Give the last cancelled fetch a moment to notice, then compare lifetimes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = Instant::now();
    let spans: Vec<(Instant, Instant)> =
        lifetimes.lock().expect("log").iter().map(|(a, b)| (*a, b.unwrap_or(now))).collect();
    assert!(spans.len() >= 3, "every scan reached the server: {}", spans.len());
    let mut worst = Duration::ZERO;
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let overlap = a.1.min(b.1).saturating_duration_since(a.0.max(b.0));
            worst = worst.max(overlap);
        }
    }
    // One slot: git connections never overlap (beyond the time a close takes to be seen).
    assert!(worst < Duration::from_millis(300), "connections overlapped for {worst:?}");
    app.stop().await;
}

// ---- HTTP: half-open connections ---------------------------------------------------------

async fn healthz_from(source: &str, to: SocketAddr) -> std::io::Result<String> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().expect("address"))?;
    let mut stream = socket.connect(to).await?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut text))
        .await
        .map_err(|_| std::io::Error::other("no answer within 5 s"))??;
    Ok(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_under_a_flood_of_half_open_connections() {
    let mut config = loopback_config();
    config.limits.max_connections_per_ip = 8;
    config.limits.header_read_timeout_ms = 500;
    let app = spawn_app(config).await;
    // Eight connections that send half a request and then nothing.
    let mut flood = Vec::new();
    for _ in 0..8 {
        let mut s = std::net::TcpStream::connect(app.addr).expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").expect("half a request");
        flood.push(s);
    }
    std::thread::sleep(Duration::from_millis(100));
    // The ninth from the same address is closed without an answer...
    let refused = healthz_from("127.0.0.1", app.addr).await;
    assert!(refused.as_deref().map_or(true, |t| !t.starts_with("HTTP/1.1 200")), "{refused:?}");
    // ...while another client is served.
    let other = healthz_from("127.0.0.2", app.addr).await.expect("a response");
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    // The half-open ones are closed at the header timeout, freeing their slots.
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut rest = Vec::new();
        let r = s.read_to_end(&mut rest);
        assert!(r.is_ok(), "closed by the server, not by our timeout: {r:?}");
    }
    let again = healthz_from("127.0.0.1", app.addr).await.expect("a response");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    app.stop().await;
}

#[test]
fn an_unadvertised_commit_is_fetched_shallow_where_the_server_allows_it() {
    use repo_scanner::source::git;
    let std = crate::git::standard_repo();
    let daemon = Daemon::start(std.repo.base());
    let url = daemon.url("repo");
    // git daemon's default: wants of unadvertised objects are refused, so the fallback
    // fetches branches and tags (bounded by the budget) and still finds the commit.
    let full = git::fetch(&url, Some(&std.c1), &git::FetchOptions::default()).expect("fallback fetch");
    assert_eq!(full.commit().to_string(), std.c1);
    assert!(!full.repo().is_shallow());
    std.repo.git(&["config", "uploadpack.allowAnySHA1InWant", "true"]);
    let shallow = git::fetch(&url, Some(&std.c1), &git::FetchOptions::default()).expect("fetch by id");
    assert_eq!(shallow.commit().to_string(), std.c1);
    assert!(shallow.repo().is_shallow(), "one commit, not the history");
}
