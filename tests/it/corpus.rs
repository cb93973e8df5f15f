//! The labelled corpora of real repositories, read in place (never copied here):
//! `$REPO_SCANNER_CORPUS` (default ../shared/corpus), where the rules alone must pass at least
//! 95 % of the checks, and `$REPO_SCANNER_WILD` (default ../shared/wild). Without them these
//! tests say by name that they did not run (support::not_run); under CI they fail.

use std::path::Path;

use repo_scanner::eval;
use repo_scanner::source::{self, Request};
use repo_scanner::view::Limits;

use super::support;

#[test]
fn rules_alone_pass_95_percent_of_corpus_checks() {
    let Some(dir) = support::corpus_dir() else { return };
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
    let Some(dir) = support::corpus_dir() else { return };
    every_plan_round_trips(&dir);
}

#[test]
fn every_wild_plan_serializes_and_validates_against_its_schema_shape() {
    let Some(dir) = support::wild_dir() else { return };
    every_plan_round_trips(&dir);
}

/// Each labelled repository under `dir` scans to a plan that round-trips through JSON, with
/// confidences in [0, 1] and no empty command.
fn every_plan_round_trips(dir: &Path) {
    let labels = eval::load_labels(&dir.join("labels.json")).expect("labels.json parses");
    assert!(!labels.is_empty(), "no labels in {}", dir.display());
    for label in &labels {
        let loaded = source::load(&Request::Dir(dir.join("repos").join(&label.id)), Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", label.id));
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
