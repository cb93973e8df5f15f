//! The evaluation report: `report.json` (stable field names, documented in eval/README.md),
//! `report.md` for people (failing cases first), `accuracy.svg`, shard merging and the
//! regression gate.
//!
//! Totals are always recomputed from the cases, so a merge of shard reports gives exactly the
//! totals of a single run over the same cases.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{tally, Check, EvalError, Tally};

/// Bumped when a field is renamed or removed.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub report_version: u32,
    pub corpus: String,
    pub hide_procfile: bool,
    pub llm: bool,
    /// `[index, count]` when this report covers one shard.
    pub shard: Option<[usize; 2]>,
    pub totals: Totals,
    pub per_field: BTreeMap<String, Totals>,
    pub per_language: BTreeMap<String, Totals>,
    pub per_difficulty: BTreeMap<String, Totals>,
    /// `process` checks by the plan's confidence in the process (buckets of [`bucket`]).
    #[serde(default)]
    pub per_confidence: BTreeMap<String, Totals>,
    /// `process` checks by the evidence rule behind the process: each rule's precision.
    #[serde(default)]
    pub per_rule: BTreeMap<String, Totals>,
    /// Cases whose plan is `ready` and that have a scored process.
    #[serde(default)]
    pub ready_cases: usize,
    /// Of those, the ones with a wrong (or missing) process: what a deploy would run unreviewed.
    #[serde(default)]
    pub wrong_but_ready: Vec<String>,
    pub llm_usage: LlmTotals,
    /// Sorted by id.
    pub cases: Vec<CaseResult>,
    /// Wall time of the run (for a merge: the longest shard's).
    pub wall_time_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub passed: usize,
    pub checks: usize,
    /// passed / checks, 0..1.
    pub accuracy: f64,
}

impl From<&Tally> for Totals {
    fn from(t: &Tally) -> Self {
        Totals { passed: t.passed, checks: t.total, accuracy: t.accuracy() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmTotals {
    pub calls: u64,
    pub cache_hits: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
    pub latency_p50_ms: u64,
    pub latency_p95_ms: u64,
}

/// One model call's accounting, as the plan records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseLlm {
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
    pub cost_usd: f64,
    pub cache_hit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub language: String,
    pub difficulty: String,
    pub status: String,
    pub checks: Vec<Check>,
    /// Files and rules behind each process of the plan: `type: file [rule]`.
    pub evidence: Vec<String>,
    pub open_questions: Vec<String>,
    pub llm: Option<CaseLlm>,
    pub duration_ms: u64,
    /// Set when the repository could not be scanned (all its checks then fail).
    pub error: Option<String>,
}

/// The confidence bucket of a process check; the top bucket starts at
/// [`crate::plan::READY_CONFIDENCE`].
pub fn bucket(confidence: Option<f32>) -> String {
    match confidence {
        None => "no process".into(),
        Some(c) if c >= crate::plan::READY_CONFIDENCE => format!("{:.2}-1.00", crate::plan::READY_CONFIDENCE),
        Some(c) if c >= 0.7 => format!("0.70-{:.2}", crate::plan::READY_CONFIDENCE),
        Some(c) if c >= 0.5 => "0.50-0.70".into(),
        Some(_) => "0.00-0.50".into(),
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Report {
    /// Builds a report from its cases: every total is derived here.
    pub fn from_cases(
        corpus: &str,
        hide_procfile: bool,
        llm: bool,
        shard: Option<[usize; 2]>,
        mut cases: Vec<CaseResult>,
        wall_time_ms: u64,
    ) -> Report {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        let checks: Vec<&Check> = cases.iter().flat_map(|c| c.checks.iter()).collect();
        let lang: BTreeMap<&str, &str> = cases.iter().map(|c| (c.id.as_str(), c.language.as_str())).collect();
        let diff: BTreeMap<&str, &str> = cases.iter().map(|c| (c.id.as_str(), c.difficulty.as_str())).collect();
        let conv = |m: BTreeMap<String, Tally>| m.iter().map(|(k, v)| (k.clone(), Totals::from(v))).collect();
        let all = tally(checks.iter().copied(), |_| String::new());
        let mut latencies: Vec<u64> = cases.iter().filter_map(|c| c.llm.as_ref()).map(|l| l.latency_ms).collect();
        latencies.sort_unstable();
        let calls: Vec<&CaseLlm> = cases.iter().filter_map(|c| c.llm.as_ref()).collect();
        let llm_usage = LlmTotals {
            calls: calls.iter().filter(|l| !l.cache_hit).count() as u64,
            cache_hits: calls.iter().filter(|l| l.cache_hit).count() as u64,
            tokens_in: calls.iter().map(|l| l.tokens_in).sum(),
            tokens_out: calls.iter().map(|l| l.tokens_out).sum(),
            cost_usd: calls.iter().map(|l| l.cost_usd).sum(),
            latency_p50_ms: percentile(&latencies, 0.5),
            latency_p95_ms: percentile(&latencies, 0.95),
        };
        let processes: Vec<&Check> = checks.iter().copied().filter(|c| c.field == "process").collect();
        let scored_ready: Vec<&CaseResult> =
            cases.iter().filter(|c| c.status == "ready" && c.checks.iter().any(|k| k.field == "process")).collect();
        let wrong_but_ready = scored_ready
            .iter()
            .filter(|c| c.checks.iter().any(|k| k.field == "process" && !k.pass))
            .map(|c| c.id.clone())
            .collect();
        Report {
            report_version: REPORT_VERSION,
            corpus: corpus.to_string(),
            hide_procfile,
            llm,
            shard,
            totals: all.get("").map(Totals::from).unwrap_or_default(),
            per_field: conv(tally(checks.iter().copied(), |c| c.field.clone())),
            per_language: conv(tally(checks.iter().copied(), |c| {
                lang.get(c.case.as_str()).unwrap_or(&"?").to_string()
            })),
            per_difficulty: conv(tally(checks.iter().copied(), |c| {
                diff.get(c.case.as_str()).unwrap_or(&"?").to_string()
            })),
            per_confidence: conv(tally(processes.iter().copied(), |c| bucket(c.confidence))),
            per_rule: conv(tally(processes.iter().copied(), |c| {
                c.rule.clone().unwrap_or_else(|| "(no process)".into())
            })),
            ready_cases: scored_ready.len(),
            wrong_but_ready,
            llm_usage,
            cases,
            wall_time_ms,
        }
    }

    pub fn load(path: &Path) -> Result<Report, EvalError> {
        let err = |message: String| EvalError::Report { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// Combines shard reports. Shards must come from the same corpus and options and not
    /// overlap; the result equals a single run's totals.
    pub fn merge(reports: Vec<Report>) -> Result<Report, EvalError> {
        let first = reports.first().ok_or_else(|| EvalError::Merge("no reports to merge".into()))?;
        let (mut corpus, hide, llm) = (first.corpus.clone(), first.hide_procfile, first.llm);
        let mut seen = std::collections::BTreeSet::new();
        let mut cases = Vec::new();
        let mut wall = 0;
        for r in reports {
            if r.hide_procfile != hide || r.llm != llm {
                return Err(EvalError::Merge("reports were made with different options".into()));
            }
            wall = wall.max(r.wall_time_ms);
            // Reports of different corpora merge too (the calibration pools them).
            if !corpus.split(" + ").any(|c| c == r.corpus) {
                corpus = format!("{corpus} + {}", r.corpus);
            }
            for c in r.cases {
                if !seen.insert(c.id.clone()) {
                    return Err(EvalError::Merge(format!("case {} appears in two reports", c.id)));
                }
                cases.push(c);
            }
        }
        Ok(Report::from_cases(&corpus, hide, llm, None, cases, wall))
    }

    /// Fields that dropped by more than `max_points` percentage points against `baseline`,
    /// with the checks that flipped from pass to fail.
    pub fn regressions(&self, baseline: &Report, max_points: f64) -> Vec<String> {
        let mut out = Vec::new();
        for (field, base) in &baseline.per_field {
            let now = self.per_field.get(field).map(|t| t.accuracy).unwrap_or(0.0);
            let drop = (base.accuracy - now) * 100.0;
            if drop > max_points {
                out.push(format!("{field}: {:.1}% -> {:.1}% (-{drop:.1} points)", base.accuracy * 100.0, now * 100.0));
            }
        }
        if self.wrong_but_ready.len() > baseline.wrong_but_ready.len() {
            let new: Vec<&str> = self
                .wrong_but_ready
                .iter()
                .filter(|id| !baseline.wrong_but_ready.contains(id))
                .map(String::as_str)
                .collect();
            out.push(format!(
                "wrong-but-ready: {} -> {} (new: {})",
                baseline.wrong_but_ready.len(),
                self.wrong_but_ready.len(),
                new.join(", ")
            ));
        }
        if !out.is_empty() {
            let was: std::collections::BTreeSet<(String, String, String)> = baseline
                .cases
                .iter()
                .flat_map(|c| c.checks.iter())
                .filter(|c| c.pass)
                .map(|c| (c.case.clone(), c.field.clone(), c.detail.clone()))
                .collect();
            for c in self.cases.iter().flat_map(|c| c.checks.iter()).filter(|c| !c.pass) {
                if was.contains(&(c.case.clone(), c.field.clone(), c.detail.clone())) {
                    out.push(format!(
                        "  flipped: {} {} {} (expected {:?}, got {:?})",
                        c.case, c.field, c.detail, c.expected, c.got
                    ));
                }
            }
        }
        out
    }

    /// Share of scored `ready` plans with a wrong process, 0..1.
    pub fn wrong_but_ready_rate(&self) -> f64 {
        if self.ready_cases == 0 {
            0.0
        } else {
            self.wrong_but_ready.len() as f64 / self.ready_cases as f64
        }
    }

    /// The one-line summary the CLI prints last.
    pub fn summary_line(&self) -> String {
        format!(
            "accuracy {:.1} % ({}/{} checks), wrong-but-ready {}/{} ({:.1} %)",
            self.totals.accuracy * 100.0,
            self.totals.passed,
            self.totals.checks,
            self.wrong_but_ready.len(),
            self.ready_cases,
            self.wrong_but_ready_rate() * 100.0
        )
    }

    /// The report a person reads.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let pct = |t: &Totals| format!("{:.1} % ({}/{})", t.accuracy * 100.0, t.passed, t.checks);
        let _ = writeln!(s, "# repo-scanner evaluation\n");
        let _ = writeln!(
            s,
            "Corpus `{}`, {} cases{}{}, wall time {:.1} s.\n",
            self.corpus,
            self.cases.len(),
            if self.hide_procfile { ", Procfiles hidden" } else { "" },
            if self.llm { ", LLM on" } else { ", rules only" },
            self.wall_time_ms as f64 / 1000.0
        );
        let _ = writeln!(s, "**Accuracy: {}**\n", pct(&self.totals));
        let _ = writeln!(s, "| field | accuracy |\n|---|---|");
        for (k, v) in &self.per_field {
            let _ = writeln!(s, "| {k} | {} |", pct(v));
        }
        let _ = writeln!(s, "\n| language | accuracy |\n|---|---|");
        for (k, v) in &self.per_language {
            let _ = writeln!(s, "| {k} | {} |", pct(v));
        }
        let _ = writeln!(s, "\n| difficulty | accuracy |\n|---|---|");
        for (k, v) in &self.per_difficulty {
            let _ = writeln!(s, "| {k} | {} |", pct(v));
        }
        let _ = writeln!(s, "\n| confidence | process accuracy |\n|---|---|");
        for (k, v) in &self.per_confidence {
            let _ = writeln!(s, "| {k} | {} |", pct(v));
        }
        let _ = writeln!(
            s,
            "\n**Wrong but ready: {}/{} ({:.1} %)**{}",
            self.wrong_but_ready.len(),
            self.ready_cases,
            self.wrong_but_ready_rate() * 100.0,
            if self.wrong_but_ready.is_empty() {
                String::new()
            } else {
                format!(": {}", self.wrong_but_ready.join(", "))
            }
        );
        let _ = writeln!(s, "\n| rule | precision |\n|---|---|");
        for (k, v) in &self.per_rule {
            let _ = writeln!(s, "| {k} | {} |", pct(v));
        }
        let u = &self.llm_usage;
        if self.llm {
            let _ = writeln!(
                s,
                "\nLLM: {} calls, {} cache hits, {} tokens in, {} out, ${:.5}, latency p50 {} ms, p95 {} ms.",
                u.calls, u.cache_hits, u.tokens_in, u.tokens_out, u.cost_usd, u.latency_p50_ms, u.latency_p95_ms
            );
        }
        let _ = writeln!(s, "\n## Cases, failing first\n");
        let mut cases: Vec<&CaseResult> = self.cases.iter().collect();
        cases.sort_by_key(|c| (c.checks.iter().all(|k| k.pass) && c.error.is_none(), c.id.clone()));
        for c in cases {
            let passed = c.checks.iter().filter(|k| k.pass).count();
            let mark = if passed == c.checks.len() && c.error.is_none() { "ok" } else { "FAIL" };
            let _ =
                writeln!(s, "### {mark} {} ({}, {}, {passed}/{})\n", c.id, c.language, c.difficulty, c.checks.len());
            if let Some(e) = &c.error {
                let _ = writeln!(s, "error: {e}\n");
            }
            for k in c.checks.iter().filter(|k| !k.pass) {
                let _ = writeln!(s, "- {} {}: expected `{}`, got `{}`", k.field, k.detail, k.expected, k.got);
            }
            for q in &c.open_questions {
                let _ = writeln!(s, "- open question: {q}");
            }
            for e in &c.evidence {
                let _ = writeln!(s, "- evidence: {e}");
            }
            let _ = writeln!(s);
        }
        s
    }

    /// Bar chart of accuracy per field and per language, as SVG.
    pub fn chart_svg(&self) -> Result<String, EvalError> {
        use plotters::prelude::*;
        let bars: Vec<(String, f64)> = self
            .per_field
            .iter()
            .map(|(k, v)| (format!("field: {k}"), v.accuracy))
            .chain(self.per_language.iter().map(|(k, v)| (format!("lang: {k}"), v.accuracy)))
            .chain(self.per_confidence.iter().map(|(k, v)| (format!("confidence: {k}"), v.accuracy)))
            .collect();
        let mut svg = String::new();
        {
            let height = 80 + 28 * bars.len() as u32;
            let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
            let draw = |e: &dyn std::fmt::Display| EvalError::Chart(e.to_string());
            root.fill(&WHITE).map_err(|e| draw(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption("accuracy per field, language and confidence (%)", ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(170)
                .build_cartesian_2d(0f64..100f64, (0..bars.len()).into_segmented())
                .map_err(|e| draw(&e))?;
            let labels = bars.iter().map(|b| b.0.clone()).collect::<Vec<_>>();
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(bars.len())
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .draw()
                .map_err(|e| draw(&e))?;
            chart
                .draw_series(bars.iter().enumerate().map(|(i, (_, acc))| {
                    let color = if *acc >= 0.95 { GREEN.mix(0.7) } else { RED.mix(0.6) };
                    Rectangle::new(
                        [(0.0, SegmentValue::Exact(i)), (acc * 100.0, SegmentValue::Exact(i + 1))],
                        color.filled(),
                    )
                }))
                .map_err(|e| draw(&e))?;
            root.present().map_err(|e| draw(&e))?;
        }
        Ok(svg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, lang: &str, passes: &[bool]) -> CaseResult {
        CaseResult {
            id: id.into(),
            language: lang.into(),
            difficulty: "easy".into(),
            status: "ready".into(),
            checks: passes
                .iter()
                .enumerate()
                .map(|(i, p)| Check {
                    case: id.into(),
                    field: if i == 0 { "strategy".into() } else { "process".into() },
                    detail: format!("{i}"),
                    expected: "x".into(),
                    got: "y".into(),
                    pass: *p,
                    confidence: if i == 0 { None } else { Some(0.95) },
                    rule: if i == 0 { None } else { Some("r".into()) },
                })
                .collect(),
            evidence: vec![],
            open_questions: vec![],
            llm: None,
            duration_ms: 1,
            error: None,
        }
    }

    #[test]
    fn merged_shards_equal_a_single_run() {
        let all = vec![case("a", "go", &[true, false]), case("b", "python", &[true, true]), case("c", "go", &[false])];
        let single = Report::from_cases("c", false, false, None, all.clone(), 10);
        let s0 = Report::from_cases("c", false, false, Some([0, 2]), vec![all[0].clone(), all[2].clone()], 6);
        let s1 = Report::from_cases("c", false, false, Some([1, 2]), vec![all[1].clone()], 4);
        let merged = Report::merge(vec![s1, s0]).expect("merges");
        assert_eq!(merged.totals, single.totals);
        assert_eq!(merged.per_field, single.per_field);
        assert_eq!(merged.per_language, single.per_language);
        assert_eq!(merged.cases, single.cases);
        assert_eq!(single.totals.passed, 3);
        assert_eq!(single.totals.checks, 5);
    }

    #[test]
    fn overlapping_shards_are_refused() {
        let a = Report::from_cases("c", false, false, None, vec![case("a", "go", &[true])], 1);
        assert!(Report::merge(vec![a.clone(), a]).is_err());
    }

    #[test]
    fn regressions_list_flipped_checks() {
        let base = Report::from_cases("c", false, false, None, vec![case("a", "go", &[true, true])], 1);
        let now = Report::from_cases("c", false, false, None, vec![case("a", "go", &[true, false])], 1);
        let r = now.regressions(&base, 5.0);
        assert!(r[0].starts_with("process: 100.0% -> 0.0%"));
        assert!(r.iter().any(|l| l.contains("flipped: a process 1")));
        // A newly wrong `ready` plan fails the gate whatever drop the fields may take.
        let lenient = now.regressions(&base, 100.0);
        assert_eq!(lenient.len(), 2, "{lenient:?}");
        assert!(lenient[0].starts_with("wrong-but-ready: 0 -> 1 (new: a)"));
        let both_wrong = Report::from_cases("c", false, false, None, vec![case("a", "go", &[true, false])], 1);
        assert!(now.regressions(&both_wrong, 100.0).is_empty());
    }

    #[test]
    fn chart_and_markdown_render() {
        let r = Report::from_cases("c", false, false, None, vec![case("a", "go", &[true, false])], 1);
        let svg = r.chart_svg().expect("chart");
        assert!(svg.starts_with("<svg") && svg.contains("lang: go"));
        let md = r.markdown();
        assert!(md.contains("### FAIL a"));
    }
}
