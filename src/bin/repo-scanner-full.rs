//! `repo-scanner-full`: every command (git URLs, the model resolver, `serve`, `eval`, the
//! hand-off). `repo-scanner` runs the local rules-only scan itself and becomes this binary for
//! the rest; it is also a complete CLI on its own.

#[path = "../cli/mod.rs"]
mod cli;

fn main() {
    cli::main(cli::run);
}
