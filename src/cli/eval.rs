//! `repo-scanner eval`: batch evaluation over a labelled corpus, shards and their merge, and
//! the regression gate.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use repo_scanner::eval::report::Report;
use repo_scanner::eval::run::{self, Options, Shard};
use repo_scanner::eval::{self as ev};

use super::{print_out, CliError};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub merge: Option<MergeCommand>,
    /// Corpus directory: labels.json and repos/<id>/ (or labels with a git `url`).
    #[arg(long, required = true)]
    pub corpus: Option<PathBuf>,
    /// Labels file (default: <corpus>/labels.json).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Scan each repository as if its Procfile were absent; score only the processes it declared.
    #[arg(long)]
    pub hide_procfile: bool,
    /// Rules only (also the case when no model is configured).
    #[arg(long)]
    pub no_llm: bool,
    /// Repositories scanned in parallel.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Evaluate one stable slice, I/N with 0 <= I < N (CI matrix, Kubernetes Indexed Jobs).
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Where report.json, report.md and accuracy.svg go.
    #[arg(long, default_value = "target/eval")]
    pub out: PathBuf,
    #[command(flatten)]
    pub llm: super::llm::LlmArgs,
    /// Where git-URL cases are fetched once (default: <out>/cache).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// A previous report.json: exit 3 when a field drops by more than --max-regression points.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Percentage points a field may drop against the baseline.
    #[arg(long, default_value_t = 0.0)]
    pub max_regression: f64,
}

#[derive(Debug, clap::Subcommand)]
pub enum MergeCommand {
    /// Combine shard reports into the report of a single run.
    Merge {
        /// Shard report.json files.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Where the merged report goes.
        #[arg(long, default_value = "target/eval")]
        out: PathBuf,
    },
    /// Pool the per-rule precision of several reports into the calibration table.
    Calibrate {
        /// report.json files of the runs to pool (e.g. corpus, corpus hidden, wild hidden).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Where the table goes.
        #[arg(long, default_value = "eval/calibration.md")]
        out: PathBuf,
    },
}

/// Exit code of a failed regression gate.
pub const GATE_FAILED: i32 = 3;

pub fn run(args: EvalArgs) -> Result<(), CliError> {
    if let Some(MergeCommand::Calibrate { reports, out }) = &args.merge {
        let loaded =
            reports.iter().map(|p| Report::load(p)).collect::<Result<Vec<_>, _>>().map_err(anyhow::Error::from)?;
        std::fs::write(out, ev::calibration::table(&loaded)).with_context(|| format!("writing {}", out.display()))?;
        print_out(&format!("calibration table -> {}", out.display()))?;
        return Ok(());
    }
    if let Some(MergeCommand::Merge { reports, out }) = args.merge {
        let loaded =
            reports.iter().map(|p| Report::load(p)).collect::<Result<Vec<_>, _>>().map_err(anyhow::Error::from)?;
        let merged = Report::merge(loaded).map_err(anyhow::Error::from)?;
        run::write(&merged, &out).map_err(anyhow::Error::from)?;
        print_out(&summary(&merged, &out))?;
        return Ok(());
    }
    let Some(corpus) = args.corpus.clone() else { return Err(anyhow::anyhow!("--corpus is required").into()) };
    let labels_path = args.labels.clone().unwrap_or_else(|| corpus.join("labels.json"));
    let labels = ev::load_labels(&labels_path).map_err(anyhow::Error::from)?;
    let total = run::select(labels.clone(), args.shard).len() as u64;
    let bar = ProgressBar::new(total);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let progress = bar.clone();
    let model = args.llm.model(args.no_llm)?;
    let opts = Options {
        corpus: corpus.clone(),
        hide_procfile: args.hide_procfile,
        jobs: args.jobs,
        shard: args.shard,
        cache_dir: args.cache_dir.clone().unwrap_or_else(|| args.out.join("cache")),
        llm: model.is_some(),
        on_case: Some(Box::new(move |id: &str| {
            progress.set_message(id.to_string());
            progress.inc(1);
        })),
    };
    // Workers are plain threads; each runs the pipeline, driving the model on the shared runtime.
    let escalation = model.as_ref().map(|(m, _)| m as &dyn repo_scanner::pipeline::Escalate);
    let scanner =
        |view: &repo_scanner::view::RepoView, source| repo_scanner::pipeline::plan_view(view, source, escalation);
    let report = run::run(labels, &opts, &scanner).map_err(anyhow::Error::from)?;
    bar.finish_and_clear();
    run::write(&report, &args.out).map_err(anyhow::Error::from)?;
    print_out(&summary(&report, &args.out))?;
    if let Some(base) = &args.baseline {
        let baseline = Report::load(base).with_context(|| format!("baseline {}", base.display()))?;
        let regressions = report.regressions(&baseline, args.max_regression);
        if !regressions.is_empty() {
            eprintln!("repo-scanner: regression against {}:\n{}", base.display(), regressions.join("\n"));
            std::process::exit(GATE_FAILED);
        }
    }
    Ok(())
}

fn summary(r: &Report, out: &std::path::Path) -> String {
    let mut s = format!(
        "{} cases, accuracy {:.1}% ({}/{}), wall {} ms -> {}/report.md",
        r.cases.len(),
        r.totals.accuracy * 100.0,
        r.totals.passed,
        r.totals.checks,
        r.wall_time_ms,
        out.display()
    );
    for (k, v) in &r.per_field {
        s.push_str(&format!("\n  {k:<14} {:.1}% ({}/{})", v.accuracy * 100.0, v.passed, v.checks));
    }
    // Last, on one line: a hook prints it.
    s.push('\n');
    s.push_str(&r.summary_line());
    s
}
