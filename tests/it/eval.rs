//! `repo-scanner eval` as a user runs it: reports, shards and their merge, git-URL cases,
//! and the regression gate.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_repo-scanner"))
}

/// A small corpus built in a temp dir: three directory cases and one git-URL case.
fn corpus(dir: &Path) -> PathBuf {
    let root = dir.join("corpus");
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("repos/flask/requirements.txt", "flask\ngunicorn\n");
    write("repos/flask/app.py", "from flask import Flask\napp = Flask(__name__)\n");
    write("repos/node/package.json", r#"{"scripts":{"start":"node server.js"}}"#);
    write("repos/node/Procfile", "web: node server.js\n");
    write("repos/go/go.mod", "module example.com/svc\n\ngo 1.22\n");
    write("repos/go/main.go", "package main\nfunc main() {}\n");
    // The git-URL case: a local repository, fetched into the cache on first use.
    let upstream = dir.join("upstream");
    std::fs::create_dir_all(&upstream).expect("mkdir");
    std::fs::write(upstream.join("Gemfile"), "source 'https://rubygems.org'\ngem 'rails'\n").expect("write");
    std::fs::create_dir_all(upstream.join("config")).expect("mkdir");
    std::fs::write(upstream.join("config/application.rb"), "module App; end\n").expect("write");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&upstream)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .expect("git runs")
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "rails"]);
    let labels = serde_json::json!([
        {"id": "flask", "has_procfile": false, "difficulty": "easy", "expected": {"strategy": "buildpacks", "language": "python", "builder_group": "paketo-buildpacks/python",
            "processes": {"web": {"command": "gunicorn app:app", "key": {"program": "gunicorn", "target": "app:app"}}}}},
        {"id": "node", "has_procfile": true, "difficulty": "easy", "expected": {"strategy": "buildpacks", "language": "nodejs", "builder_group": "paketo-buildpacks/nodejs",
            "processes": {"web": {"command": "node server.js", "key": {"program": "node", "target": "server.js"}}}}},
        {"id": "go", "has_procfile": false, "difficulty": "medium", "expected": {"strategy": "buildpacks", "language": "go", "builder_group": "paketo-buildpacks/go",
            "processes": {"web": {"command": "svc", "key": {"program": "svc", "target": null}}}}},
        {"id": "rails-url", "url": format!("file://{}", upstream.display()), "commit": "main", "has_procfile": false, "difficulty": "hard",
            "expected": {"strategy": "buildpacks", "language": "ruby", "builder_group": "paketo-buildpacks/ruby",
            "processes": {"web": {"command": "rails server", "key": {"program": "rails", "target": "server"}}}}}
    ]);
    std::fs::write(root.join("labels.json"), labels.to_string()).expect("labels");
    root
}

fn run_eval(args: &[&str]) -> (i32, String, String) {
    let out = bin().arg("eval").args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).expect("report.json")).expect("json")
}

#[test]
fn eval_writes_reports_and_fetches_url_cases_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let corpus = corpus(tmp.path());
    let out = tmp.path().join("out");
    let (code, stdout, stderr) =
        run_eval(&["--corpus", corpus.to_str().expect("utf8"), "--out", out.to_str().expect("utf8"), "--jobs", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("4 cases"), "{stdout}");
    let r = report(&out);
    assert_eq!(r["totals"]["checks"], 16);
    assert_eq!(r["totals"]["passed"], 16, "{}", serde_json::to_string_pretty(&r["cases"]).unwrap_or_default());
    assert_eq!(r["totals"]["accuracy"], 1.0);
    let ids: Vec<&str> = r["cases"].as_array().expect("cases").iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, vec!["flask", "go", "node", "rails-url"], "deterministic order");
    assert!(out.join("report.md").is_file() && out.join("accuracy.svg").is_file());
    assert!(out.join("cache/rails-url.git/HEAD").is_file(), "the URL case is cached");
    let md = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert!(md.contains("| process |"), "{md}");
}

#[test]
fn merged_shards_equal_a_single_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let corpus = corpus(tmp.path());
    let c = corpus.to_str().expect("utf8");
    let dir = |n: &str| tmp.path().join(n);
    let s = |p: PathBuf| p.to_str().expect("utf8").to_string();
    assert_eq!(run_eval(&["--corpus", c, "--out", &s(dir("single")), "--jobs", "1"]).0, 0);
    assert_eq!(run_eval(&["--corpus", c, "--out", &s(dir("s0")), "--shard", "0/2"]).0, 0);
    assert_eq!(run_eval(&["--corpus", c, "--out", &s(dir("s1")), "--shard", "1/2"]).0, 0);
    let (code, _, stderr) = run_eval(&[
        "merge",
        &s(dir("s0").join("report.json")),
        &s(dir("s1").join("report.json")),
        "--out",
        &s(dir("merged")),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (single, merged) = (report(&dir("single")), report(&dir("merged")));
    for field in ["totals", "per_field", "per_language", "per_difficulty"] {
        assert_eq!(single[field], merged[field], "{field}");
    }
    let checks = |r: &Value| {
        r["cases"].as_array().expect("cases").iter().map(|c| (c["id"].clone(), c["checks"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(checks(&single), checks(&merged));
    assert_eq!(report(&dir("s0"))["shard"], serde_json::json!([0, 2]));
    // A shard index out of range is a usage error.
    assert_eq!(run_eval(&["--corpus", c, "--shard", "2/2"]).0, 2);
}

#[test]
fn gate_fails_on_a_regression_and_lists_the_flipped_case() {
    let tmp = tempfile::tempdir().expect("tmp");
    let corpus = corpus(tmp.path());
    let c = corpus.to_str().expect("utf8");
    let base = tmp.path().join("base");
    assert_eq!(run_eval(&["--corpus", c, "--out", base.to_str().expect("utf8")]).0, 0);
    let baseline = base.join("report.json");
    // Same corpus: no regression.
    let now = tmp.path().join("now");
    let (code, _, stderr) = run_eval(&[
        "--corpus",
        c,
        "--out",
        now.to_str().expect("utf8"),
        "--baseline",
        baseline.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // Break the go case: its binary name no longer matches the label.
    std::fs::write(corpus.join("repos/go/go.mod"), "module example.com/other\n").expect("write");
    let (code, _, stderr) = run_eval(&[
        "--corpus",
        c,
        "--out",
        now.to_str().expect("utf8"),
        "--baseline",
        baseline.to_str().expect("utf8"),
        "--max-regression",
        "5",
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("process:") && stderr.contains("flipped: go process web"), "{stderr}");
}

#[test]
fn hide_procfile_scores_only_declared_processes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let corpus = corpus(tmp.path());
    let out = tmp.path().join("hidden");
    let (code, _, stderr) = run_eval(&[
        "--corpus",
        corpus.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--hide-procfile",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let r = report(&out);
    assert_eq!(r["hide_procfile"], true);
    let cases = r["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 1, "only the case with a Procfile");
    assert!(cases[0]["checks"].as_array().expect("checks").iter().all(|c| c["field"] == "process"));
    // Without its Procfile the node app still starts from scripts.start: `npm start` is not `node server.js`.
    assert_eq!(r["totals"]["checks"], 1);
}

/// A corpus laid out as `DIR/<id>/` (no repos/), with labels that carry processes only, as
/// ../shared/wild's do, and Procfile variants that must be hidden with the Procfile.
fn flat_corpus(dir: &Path) -> PathBuf {
    let root = dir.join("flat");
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    // Right without its Procfile: the Procfile and its .dev variant both say `node web.js`.
    write("right/package.json", r#"{"dependencies":{"express":"4"}}"#);
    write("right/bin/web.js", "require('../lib').start();\n");
    write("right/bin/worker.js", "require('../lib').jobs();\n");
    write("right/Procfile", "web: node bin/web.js\n");
    write("right/Procfile.dev", "web: node bin/web.js\n");
    // Wrong without it: the Procfile runs a file no rule would pick.
    write("wrong/go.mod", "module example.com/tool\n\ngo 1.22\n");
    write("wrong/main.go", "package main\nfunc main() {}\n");
    write("wrong/Procfile", "web: ./bin/launcher --port $PORT\n");
    let labels = serde_json::json!([
        {"id": "right", "has_procfile": true, "expected": {"processes": {"web": {"command": "node bin/web.js", "key": {"program": "node", "target": "bin/web.js"}}}}},
        {"id": "wrong", "has_procfile": true, "expected": {"processes": {"web": {"command": "./bin/launcher", "key": {"program": "launcher", "target": null}}}}}
    ]);
    std::fs::write(root.join("labels.json"), labels.to_string()).expect("labels");
    root
}

#[test]
fn flat_layout_partial_labels_buckets_rules_and_a_summary_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let corpus = flat_corpus(tmp.path());
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = run_eval(&[
        "--corpus",
        corpus.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--hide-procfile",
        "--no-llm",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let r = report(&out);
    // Processes only: the labels carry no strategy, language or group.
    assert_eq!(r["per_field"].as_object().expect("fields").keys().collect::<Vec<_>>(), vec!["process"]);
    assert_eq!(r["totals"]["checks"], 2);
    assert_eq!(r["totals"]["passed"], 1, "right passes only with Procfile.dev hidden too");
    // Per-rule precision is keyed by the evidence rule of the scored process.
    assert_eq!(r["per_rule"]["nodejs.web_file"]["passed"], 1);
    assert_eq!(r["per_rule"]["go.module_binary"]["passed"], 0);
    let buckets: u64 =
        r["per_confidence"].as_object().expect("buckets").values().map(|t| t["checks"].as_u64().unwrap_or(0)).sum();
    assert_eq!(buckets, 2, "every process check is in one confidence bucket");
    let md = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert!(md.contains("| confidence | process accuracy |") && md.contains("| rule | precision |"));
    assert!(md.contains("**Wrong but ready:"));
    let svg = std::fs::read_to_string(out.join("accuracy.svg")).expect("svg");
    assert!(svg.contains("confidence: "));
    let last = stdout.lines().last().expect("a summary");
    assert!(last.starts_with("accuracy 50.0 % (1/2 checks), wrong-but-ready "), "{last}");
}

#[test]
fn a_run_that_scores_nothing_is_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("empty");
    std::fs::create_dir_all(&root).expect("mkdir");
    let labels = serde_json::json!([{"id": "missing", "has_procfile": true, "expected": {"processes": {}}}]);
    std::fs::write(root.join("labels.json"), labels.to_string()).expect("labels");
    let (code, stdout, stderr) = run_eval(&[
        "--corpus",
        root.to_str().expect("utf8"),
        "--out",
        tmp.path().join("out").to_str().expect("utf8"),
        "--no-llm",
    ]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("could be scored") && stderr.contains("missing"), "{stderr}");
    assert!(!stdout.contains("0.0 % (0/0"), "{stdout}");
}

#[test]
fn wrong_but_ready_grows_and_the_gate_fails() {
    let tmp = tempfile::tempdir().expect("tmp");
    let corpus = flat_corpus(tmp.path());
    let out = tmp.path().join("out");
    let args = |extra: &[&str]| {
        let mut a = vec!["--corpus", corpus.to_str().expect("utf8"), "--out", out.to_str().expect("utf8"), "--no-llm"];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| run_eval(&a.iter().map(String::as_str).collect::<Vec<_>>());
    // With the Procfile every plan is ready and right.
    let (code, _, stderr) = run(args(&[]));
    assert_eq!(code, 0, "{stderr}");
    let base = report(&out);
    assert_eq!(base["wrong_but_ready"].as_array().map(Vec::len), Some(0));
    assert_eq!(base["ready_cases"], 2);
    // The same run with one ready case's process now wrong: the gate names it.
    let mut now = base.clone();
    now["cases"][1]["checks"][0]["pass"] = serde_json::json!(false);
    let report_now: repo_scanner::eval::report::Report = serde_json::from_value(now).expect("report");
    let cases = report_now.cases.clone();
    let rebuilt = repo_scanner::eval::report::Report::from_cases("c", false, false, None, cases, 1);
    assert_eq!(rebuilt.wrong_but_ready, vec!["wrong".to_string()]);
    let base: repo_scanner::eval::report::Report = serde_json::from_value(report(&out)).expect("report");
    let r = rebuilt.regressions(&base, 100.0);
    assert!(r.iter().any(|l| l.starts_with("wrong-but-ready: 0 -> 1 (new: wrong)")), "{r:?}");
}
