//! The calibration table: each rule's measured precision and the confidence it earns.
//!
//! Why the rule of succession, (hits + 1) / (checks + 2), and not the raw precision: most
//! rules fire on a handful of labelled cases, and 3/3 is no proof of 90 %. The estimate
//! reaches [`READY_CONFIDENCE`] only after a run of at least 8 straight hits, so a rule earns
//! `ready` on evidence, not on luck.

use std::fmt::Write as _;

use super::report::Report;
use crate::plan::READY_CONFIDENCE;

/// The confidence a rule earns from `hits` of `checks`.
pub fn earned(hits: usize, checks: usize) -> f64 {
    (hits as f64 + 1.0) / (checks as f64 + 2.0)
}

/// Markdown: one row per rule of the (merged) report, sorted by rule name.
pub fn table(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Rule calibration\n");
    let _ = writeln!(
        s,
        "Measured on `{}`{}, {}. Precision = scored processes the rule produced that match the \
         label. Earned = (hits + 1) / (checks + 2); a rule is trusted for `ready` only when it \
         earns at least {READY_CONFIDENCE}. Regenerate with `scripts/calibrate.sh`.\n",
        report.corpus,
        if report.hide_procfile { " with Procfiles hidden" } else { "" },
        if report.llm { "with a model" } else { "rules alone" },
    );
    let _ = writeln!(s, "| rule | hits/checks | precision | earned confidence | ready? |\n|---|---|---|---|---|");
    for (rule, t) in &report.per_rule {
        let e = earned(t.passed, t.checks);
        let ready = if e >= f64::from(READY_CONFIDENCE) { "yes" } else { "no" };
        let _ = writeln!(s, "| {rule} | {}/{} | {:.0} % | {e:.2} | {ready} |", t.passed, t.checks, t.accuracy * 100.0);
    }
    let _ = writeln!(s, "\n{}", report.summary_line());
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
