//! Running an evaluation: which cases (shards), how (jobs in parallel, Procfiles hidden), and
//! with what scanner (rules alone or with the resolver, passed in as a function).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tracing::info_span;

use super::report::{CaseLlm, CaseResult, Report};
use super::{score, EvalError, Label};
use crate::plan::{Plan, Source};
use crate::source::{self, git, Request};
use crate::view::{Limits, RepoView};

/// `I/N`: this run evaluates the cases whose position (sorted by id) is I modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
        let index: usize = i.trim().parse().map_err(|_| format!("bad shard index {i:?}"))?;
        let count: usize = n.trim().parse().map_err(|_| format!("bad shard count {n:?}"))?;
        if count == 0 || index >= count {
            return Err(format!("shard index must be in 0..{count} (Kubernetes JOB_COMPLETION_INDEX is 0-based)"));
        }
        Ok(Shard { index, count })
    }
}

/// A callback per finished case.
pub type OnCase = Box<dyn Fn(&str) + Sync>;

pub struct Options {
    pub corpus: PathBuf,
    pub hide_procfile: bool,
    pub jobs: usize,
    pub shard: Option<Shard>,
    /// Where git-URL cases are fetched to, once.
    pub cache_dir: PathBuf,
    pub llm: bool,
    /// Called after each case, for a progress bar.
    pub on_case: Option<OnCase>,
}

/// The labels this run covers, in a stable order.
pub fn select(mut labels: Vec<Label>, shard: Option<Shard>) -> Vec<Label> {
    labels.sort_by(|a, b| a.id.cmp(&b.id));
    match shard {
        None => labels,
        Some(s) => labels.into_iter().enumerate().filter(|(i, _)| i % s.count == s.index).map(|(_, l)| l).collect(),
    }
}

/// Lists one case: `repos/<id>/` or `<id>/` when present, else its git URL at its commit
/// (cached).
fn load_case(label: &Label, opts: &Options) -> Result<(RepoView, Source), String> {
    let dirs = [opts.corpus.join("repos").join(&label.id), opts.corpus.join(&label.id)];
    if let Some(dir) = dirs.into_iter().find(|d| d.is_dir()) {
        let loaded = source::load(&Request::Dir(dir), Limits::default()).map_err(|e| e.to_string())?;
        return Ok((loaded.view, loaded.source));
    }
    let url = label
        .url
        .clone()
        .ok_or_else(|| format!("no repos/{0}/ or {0}/ directory and no url in its label", label.id))?;
    let mirror = mirror(&url, &label.id, &opts.cache_dir)?;
    let local = format!("file://{}", mirror.display());
    let (view, commit) = git::fetch_and_list(&local, label.commit.as_deref(), Limits::default(), &Default::default())
        .map_err(|e| e.to_string())?;
    let source = Source {
        kind: crate::plan::SourceKind::Git,
        location: url,
        git_ref: label.commit.clone(),
        commit: Some(commit),
    };
    Ok((view, source))
}

/// A bare mirror of `url` under `cache_dir`, made on first use: later runs read it locally.
fn mirror(url: &str, id: &str, cache_dir: &Path) -> Result<PathBuf, String> {
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let dir = cache_dir.join(format!("{safe}.git"));
    if dir.join("HEAD").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache_dir).map_err(|e| format!("cache dir {}: {e}", cache_dir.display()))?;
    let tmp = cache_dir.join(format!(".{safe}.partial"));
    let _ = std::fs::remove_dir_all(&tmp);
    git2::build::RepoBuilder::new()
        .bare(true)
        .clone(url, &tmp)
        .map_err(|e| format!("fetching {url}: {}", e.message()))?;
    std::fs::rename(&tmp, &dir).map_err(|e| format!("cache dir {}: {e}", dir.display()))?;
    Ok(dir)
}

fn evaluate_case(label: &Label, opts: &Options, scanner: &(dyn Fn(&RepoView, Source) -> Plan + Sync)) -> CaseResult {
    let span = info_span!("eval.case", id = %label.id);
    let _enter = span.enter();
    let started = Instant::now();
    let language = match label.expected.get("language") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(_)) => "monorepo".into(),
        _ => label.language_hint.clone().unwrap_or_else(|| "?".into()),
    };
    let mut result = CaseResult {
        id: label.id.clone(),
        language,
        difficulty: label.difficulty.clone().unwrap_or_else(|| "?".into()),
        status: String::new(),
        checks: Vec::new(),
        evidence: Vec::new(),
        open_questions: Vec::new(),
        llm: None,
        duration_ms: 0,
        error: None,
    };
    let (view, source) = match load_case(label, opts) {
        Ok(v) => v,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let view = if opts.hide_procfile { hide_procfiles(&view) } else { view };
    let plan = scanner(&view, source);
    let mut checks = score(label, &plan);
    if opts.hide_procfile {
        // Only the processes the Procfile declared measure start-command inference.
        checks.retain(|c| c.field == "process");
    }
    result.checks = checks;
    result.status =
        serde_json::to_value(plan.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    for app in plan.app_plans() {
        for p in &app.processes {
            for e in &p.evidence {
                result.evidence.push(format!("{}{}: {} [{}]", prefix(&app.subdir), p.kind, e.file, e.rule));
            }
        }
        result.open_questions.extend(app.open_questions.iter().map(|q| format!("{}{}", prefix(&app.subdir), q.detail)));
    }
    result.open_questions.extend(plan.open_questions.iter().filter(|_| plan.monorepo).map(|q| q.detail.clone()));
    result.llm = plan.resolution.llm.as_ref().map(|l| CaseLlm {
        tokens_in: l.tokens_in,
        tokens_out: l.tokens_out,
        latency_ms: l.latency_ms,
        cost_usd: l.cost_usd,
        cache_hit: l.cache_hit,
    });
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// The view without the root Procfile and its variants (`Procfile.dev`, `procfile`): any of
/// them would hand the scanner the label.
pub fn hide_procfiles(view: &RepoView) -> RepoView {
    let hidden: Vec<&str> = view
        .files()
        .filter(|p| !p.contains('/'))
        .filter(|p| {
            let lower = p.to_ascii_lowercase();
            lower == "procfile" || lower.starts_with("procfile.")
        })
        .collect();
    view.without(&hidden)
}

fn prefix(subdir: &str) -> String {
    if subdir.is_empty() {
        String::new()
    } else {
        format!("{subdir}/")
    }
}

/// Evaluates the selected labels with `jobs` threads. The report's order does not depend on
/// scheduling.
pub fn run(
    labels: Vec<Label>,
    opts: &Options,
    scanner: &(dyn Fn(&RepoView, Source) -> Plan + Sync),
) -> Result<Report, EvalError> {
    let started = Instant::now();
    let mut labels = select(labels, opts.shard);
    if opts.hide_procfile {
        labels.retain(|l| l.has_procfile);
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<CaseResult>> = Mutex::new(Vec::with_capacity(labels.len()));
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(labels.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(label) = labels.get(i) else { break };
                let r = evaluate_case(label, opts, scanner);
                if let Some(cb) = &opts.on_case {
                    cb(&label.id);
                }
                if let Ok(mut v) = results.lock() {
                    v.push(r);
                }
            });
        }
    });
    let cases = results.into_inner().map_err(|_| EvalError::Merge("a worker panicked".into()))?;
    if cases.iter().all(|c| c.checks.is_empty()) {
        let errors: Vec<String> =
            cases.iter().filter_map(|c| c.error.as_ref().map(|e| format!("{}: {e}", c.id))).take(3).collect();
        return Err(EvalError::NothingScored {
            corpus: opts.corpus.display().to_string(),
            cases: cases.len(),
            hint: if errors.is_empty() { String::new() } else { format!(" (first errors: {})", errors.join("; ")) },
        });
    }
    Ok(Report::from_cases(
        &opts.corpus.display().to_string(),
        opts.hide_procfile,
        opts.llm,
        opts.shard.map(|s| [s.index, s.count]),
        cases,
        started.elapsed().as_millis() as u64,
    ))
}

/// Writes report.json, report.md and accuracy.svg into `out`.
pub fn write(report: &Report, out: &Path) -> Result<(), EvalError> {
    let err = |e: std::io::Error| EvalError::Report { path: out.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(out).map_err(err)?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| EvalError::Report { path: "report.json".into(), message: e.to_string() })?;
    std::fs::write(out.join("report.json"), json + "\n").map_err(err)?;
    std::fs::write(out.join("report.md"), report.markdown()).map_err(err)?;
    std::fs::write(out.join("accuracy.svg"), report.chart_svg()?).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        let labels: Vec<Label> = (0..10)
            .map(|i| serde_json::from_value(serde_json::json!({"id": format!("c{i}"), "expected": {}})).expect("label"))
            .collect();
        let mut ids: Vec<String> =
            (0..3).flat_map(|i| select(labels.clone(), Some(Shard { index: i, count: 3 }))).map(|l| l.id).collect();
        ids.sort();
        assert_eq!(ids, select(labels, None).into_iter().map(|l| l.id).collect::<Vec<_>>());
    }
}
