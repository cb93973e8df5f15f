//! The calibration table: each rule's measured precision and the confidence it earns.
//!
//! Why the rule of succession, (hits + 1) / (checks + 2), and not the raw precision: most
//! rules fire on a handful of labelled cases, and 3/3 is no proof of 90 %. The estimate
//! reaches [`READY_CONFIDENCE`] only after a run of at least 8 straight hits, so a rule earns
//! `ready` on evidence, not on luck.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use super::report::{Report, Totals};
use crate::plan::READY_CONFIDENCE;

/// Per-rule tallies summed over several reports: runs of different corpora or modes (the
/// corpus with Procfiles visible measures the cases that have none, and the `procfile` rule;
/// the hidden runs measure inference on the rest).
pub fn pool(reports: &[Report]) -> BTreeMap<String, Totals> {
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for r in reports {
        for (rule, t) in &r.per_rule {
            let e = out.entry(rule.clone()).or_default();
            e.passed += t.passed;
            e.checks += t.checks;
        }
    }
    for t in out.values_mut() {
        t.accuracy = if t.checks == 0 { 0.0 } else { t.passed as f64 / t.checks as f64 };
    }
    out
}

/// The confidence a rule earns from `hits` of `checks`.
pub fn earned(hits: usize, checks: usize) -> f64 {
    (hits as f64 + 1.0) / (checks as f64 + 2.0)
}

/// Markdown: one row per rule, pooled over `reports`, sorted by rule name.
pub fn table(reports: &[Report]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Rule calibration\n");
    let runs: Vec<String> = reports
        .iter()
        .map(|r| {
            format!(
                "`{}`{} ({})",
                r.corpus,
                if r.hide_procfile { " with Procfiles hidden" } else { "" },
                if r.llm { "with a model" } else { "rules alone" }
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "Pooled over {}. Precision = the scored processes a rule produced that match the label \
         (keyed by the process's first evidence rule; `(no process)` counts labelled processes \
         the plan lacks). Earned = (hits + 1) / (checks + 2); a rule is trusted for `ready` only \
         when it earns at least {READY_CONFIDENCE}. Regenerate with `scripts/calibrate.sh`.\n",
        runs.join(", ")
    );
    let _ = writeln!(s, "| rule | hits/checks | precision | earned confidence | ready? |\n|---|---|---|---|---|");
    for (rule, t) in &pool(reports) {
        let e = earned(t.passed, t.checks);
        let ready = if e >= f64::from(READY_CONFIDENCE) { "yes" } else { "no" };
        let _ = writeln!(s, "| {rule} | {}/{} | {:.0} % | {e:.2} | {ready} |", t.passed, t.checks, t.accuracy * 100.0);
    }
    let _ = writeln!(s);
    for (r, name) in reports.iter().zip(&runs) {
        let _ = writeln!(s, "- {name}: {}", r.summary_line());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_hits_never_earn_ready() {
        assert!(earned(3, 3) < f64::from(READY_CONFIDENCE));
        assert!(earned(7, 7) < f64::from(READY_CONFIDENCE));
        assert!(earned(8, 8) >= f64::from(READY_CONFIDENCE));
        assert!(earned(18, 20) < f64::from(READY_CONFIDENCE));
        assert!((earned(0, 0) - 0.5).abs() < 1e-9);
    }
}
