//! `repo-scanner`: parse arguments, run, map failures to exit codes.
//!
//! Exit codes: 0 a plan was produced (whatever its status); 1 the source could not be read or
//! another failure; 2 a usage error (clap's own).

mod cli;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// ANSI colour in logs only on a terminal, and never with NO_COLOR set (no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn main() {
    let cli = cli::Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(cli.log_filter()))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour());
    match cli.log_format {
        cli::LogFormat::Json => fmt.json().with_current_span(true).with_span_list(false).init(),
        // Logged values carry repository content: escaped, so they cannot forge a line.
        cli::LogFormat::Text => fmt.fmt_fields(repo_scanner::output::escape::log_fields()).init(),
    }
    if let Err(e) = cli::run(cli) {
        eprintln!("repo-scanner: {}", repo_scanner::output::escape::escape_control(&format!("{e:#}")));
        std::process::exit(1);
    }
}
