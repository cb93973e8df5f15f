//! The labelled corpus of real repositories (../shared/corpus): the rules alone must pass at
//! least 95 % of its checks. The corpus is read in place, never copied into this repository.

use std::path::PathBuf;

use repo_scanner::eval;
use repo_scanner::source::{self, Request};
use repo_scanner::view::Limits;

/// `REPO_SCANNER_CORPUS`, else `../shared/corpus` beside the checkout. Missing is a failure,
/// not a skip: a test that silently passes without its data proves nothing.
fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("REPO_SCANNER_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    assert!(dir.join("labels.json").is_file(), "corpus not found at {} (set REPO_SCANNER_CORPUS)", dir.display());
    dir
}

#[test]
fn rules_alone_pass_95_percent_of_corpus_checks() {
    let dir = corpus_dir();
    let labels = eval::load_labels(&dir.join("labels.json")).expect("labels.json parses");
    assert!(labels.len() >= 30, "expected the full corpus, found {} labels", labels.len());
    let mut checks = Vec::new();
    for label in &labels {
        let loaded = source::load(&Request::Dir(dir.join("repos").join(&label.id)), Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", label.id));
        let plan = repo_scanner::scan(&loaded.view, loaded.source);
        checks.extend(eval::score(label, &plan));
    }
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| format!("{} {} {}: expected {:?}, got {:?}", c.case, c.field, c.detail, c.expected, c.got))
        .collect();
    let passed = checks.iter().filter(|c| c.pass).count();
    let accuracy = passed as f64 / checks.len() as f64;
    assert!(
        accuracy >= 0.95,
        "corpus accuracy {:.1}% ({passed}/{}) below 95%:\n{}",
        accuracy * 100.0,
        checks.len(),
        failing.join("\n")
    );
}

#[test]
fn every_corpus_plan_serializes_and_validates_against_its_schema_shape() {
    let dir = corpus_dir();
    let labels = eval::load_labels(&dir.join("labels.json")).expect("labels.json parses");
    for label in &labels {
        let loaded = source::load(&Request::Dir(dir.join("repos").join(&label.id)), Limits::default()).expect("loads");
        let plan = repo_scanner::scan(&loaded.view, loaded.source);
        let json = serde_json::to_value(&plan).expect("serializes");
        let back: repo_scanner::Plan = serde_json::from_value(json).expect("round-trips");
        assert_eq!(back, plan, "{}", label.id);
        for p in plan.app_plans().iter().flat_map(|a| a.processes.iter()) {
            assert!((0.0..=1.0).contains(&p.confidence), "{}: confidence {}", label.id, p.confidence);
            assert!(!p.command.trim().is_empty(), "{}: empty command", label.id);
        }
    }
}
