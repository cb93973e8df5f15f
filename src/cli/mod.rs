//! The command line: clap types, dispatch, and the only place (with `main`) that prints.

mod eval;
mod handoff;
mod llm;
mod serve;

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::filter::Targets;

use repo_scanner::pipeline::{self, PipelineError};
use repo_scanner::source::{self, Request, SourceError};
use repo_scanner::view::Limits;
use repo_scanner::{output, plan};

#[derive(Debug, Parser)]
#[command(name = "repo-scanner", version, about = "Decides how a repository is built and run before a deploy")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log level filter (also RUST_LOG), e.g. `debug` or `repo_scanner=trace` [default: `info`
    /// for `serve`, else `warn`].
    #[arg(long, global = true, env = "REPO_SCANNER_LOG")]
    pub log: Option<String>,
    /// Log lines as text or as JSON objects (one per line, for log collectors).
    #[arg(long, global = true, value_enum, default_value = "text", env = "REPO_SCANNER_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Errors only on stderr (the same as `--log error`).
    #[arg(long, short, global = true, conflicts_with = "log")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// The log filter: `--log`, else the command's default.
    pub fn log_filter(&self) -> &str {
        match (&self.log, &self.command) {
            (Some(l), _) => l,
            (None, _) if self.quiet => "error",
            (None, Command::Serve(_)) => "info",
            (None, _) => "warn",
        }
    }
}

// Deferred: each run builds only its own subcommand's arguments, half the start-up's clap work.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Scan a local directory or a git URL and print its build plan.
    Scan(ScanArgs),
    /// Print the JSON Schema of the build plan.
    Schema,
    /// Score the scanner on a labelled corpus (labels.json + repos/<id>/).
    Eval(eval::EvalArgs),
    /// The suggested Procfile: explained, as a patch, pushed as a branch, opened as a pull request.
    Procfile(handoff::ProcfileArgs),
    /// Build and deploy configuration for the pipeline: pack, docker, GitHub Actions, Kamal.
    Render(handoff::RenderArgs),
    /// Serve the pre-deploy analysis API over HTTP.
    Serve(serve::ServeArgs),
    /// Print a shell completion script (e.g. `repo-scanner completions bash > /etc/bash_completion.d/repo-scanner`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `repo-scanner man > repo-scanner.1`.
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Text,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// A directory, or a git URL (https, http, git, ssh, file).
    pub source: String,
    /// Branch, tag or commit sha (git URLs only).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Scan only this directory of the repository.
    #[arg(long)]
    pub subdir: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Rules only: never call a model.
    #[arg(long)]
    pub no_llm: bool,
    /// Files listed before the walk stops.
    #[arg(long, default_value_t = Limits::default().max_files)]
    pub max_files: usize,
    /// Bytes read from one file.
    #[arg(long, default_value_t = Limits::default().max_file_bytes)]
    pub max_file_bytes: u64,
    /// Directory depth listed below the root.
    #[arg(long, default_value_t = Limits::default().max_depth)]
    pub max_depth: usize,
    #[command(flatten)]
    pub llm: llm::LlmArgs,
}

/// Failures mapped to exit codes in `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The source could not be read: exit 1.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Anything else: exit 1.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// `main` of both binaries: parses the arguments, starts the logs, runs `run`, and maps its
/// failure to exit code 1 (clap exits 2 on a usage error).
pub fn main(run: impl FnOnce(Cli) -> Result<(), CliError>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let cli = Cli::parse();
    // `target=level` directives (RUST_LOG, else --log): `Targets`, not `EnvFilter`, whose span
    // and field matching would link a regex engine and its Unicode tables into every start-up.
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| cli.log_filter().parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::WARN));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(colour());
    let logs = tracing_subscriber::registry().with(filter);
    match cli.log_format {
        LogFormat::Json => logs.with(layer.json().with_current_span(true).with_span_list(false)).init(),
        // Logged values carry repository content: escaped, so they cannot forge a line.
        LogFormat::Text => logs.with(layer.fmt_fields(output::escape::log_fields())).init(),
    }
    if let Err(e) = run(cli) {
        eprintln!("repo-scanner: {}", output::escape::escape_control(&format!("{e:#}")));
        std::process::exit(1);
    }
}

/// ANSI colour in logs only on a terminal, and never with NO_COLOR set (no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The commands the small binary links: a rules-only scan of a local directory (what a deploy
/// path and a person at a terminal run most) and the schema. Nothing here reaches git, TLS,
/// an async runtime or a model client, so none of them is linked into `repo-scanner`.
pub fn local(cli: &Cli) -> bool {
    match &cli.command {
        Command::Scan(args) => {
            args.git_ref.is_none()
                && matches!(Request::parse(&args.source, None), Request::Dir(_))
                && !args.llm.configured(args.no_llm)
        }
        Command::Schema => true,
        _ => false,
    }
}

/// Runs a command [`local`] admits.
pub fn run_local(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Scan(args) => {
            let options = scan_options(&args, None);
            let loaded = source::load_dir(args.source.as_ref(), options.limits)?;
            print_plan(&pipeline::run_loaded(loaded, &options)?.plan, args.format)
        }
        Command::Schema => schema(),
        _ => Err(anyhow::anyhow!("not a local command").into()),
    }
}

/// Runs any command: `repo-scanner-full`. The local ones take the same path as in the small
/// binary.
pub fn run(cli: Cli) -> Result<(), CliError> {
    if local(&cli) {
        return run_local(cli);
    }
    match cli.command {
        Command::Scan(args) => scan_cmd(args),
        Command::Eval(args) => eval::run(args),
        Command::Procfile(args) => handoff::procfile(args),
        Command::Render(args) => handoff::render_cmd(args),
        Command::Serve(args) => serve::run(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "repo-scanner", &mut std::io::stdout().lock());
            Ok(())
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut page)
                .context("rendering the man page")?;
            print_out(String::from_utf8_lossy(&page).trim_end())?;
            Ok(())
        }
        Command::Schema => schema(),
    }
}

fn schema() -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(&plan::json_schema()).context("serializing the schema")?;
    print_out(&text)?;
    Ok(())
}

/// The pipeline's errors as the CLI's (`?` on `pipeline::run` and `run_loaded`).
impl From<PipelineError> for CliError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Source(s) => CliError::Source(s),
            PipelineError::Cancelled(c) => CliError::Other(c.into()),
        }
    }
}

pub(crate) fn print_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

fn scan_cmd(args: ScanArgs) -> Result<(), CliError> {
    if args.git_ref.is_some() && !source::git::looks_like_url(&args.source) {
        return Err(anyhow::anyhow!("--ref applies to git URLs only; {} is not a git URL", args.source).into());
    }
    let request = Request::parse(&args.source, args.git_ref.clone());
    let model = args.llm.model(args.no_llm)?;
    let options = scan_options(&args, model.as_ref().map(|(m, _)| m as &dyn pipeline::Escalate));
    print_plan(&pipeline::run(&request, &options)?.plan, args.format)
}

fn scan_options<'a>(args: &ScanArgs, escalation: Option<&'a dyn pipeline::Escalate>) -> pipeline::Options<'a> {
    pipeline::Options {
        limits: Limits { max_files: args.max_files, max_file_bytes: args.max_file_bytes, max_depth: args.max_depth },
        subdir: args.subdir.clone(),
        escalation,
        ..pipeline::Options::default()
    }
}

fn print_plan(plan: &plan::Plan, format: Format) -> Result<(), CliError> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(plan).context("serializing the plan")?,
        Format::Text => output::explain(plan),
    };
    print_out(text.trim_end())?;
    Ok(())
}
