//! `repo-scanner`: the rules-only scan of a local directory, linked small so that it starts in
//! about a millisecond; every other command runs in `repo-scanner-full`, which this process
//! becomes (exec), as git hands https to `git-remote-https` rather than link curl and TLS.
//!
//! Why two binaries: a static-pie is relocated whole at start-up, and libgit2, OpenSSL, tokio,
//! hyper and the model clients made that 46k relocations over 225 pages, a third of a scan's
//! instructions. The small binary has neither them nor their relocations.
//!
//! Exit codes: 0 a plan was produced (whatever its status); 1 the source could not be read or
//! another failure; 2 a usage error (clap's own).

// Both binaries compile the whole CLI; only `cli::local`'s commands are linked here.
#[allow(dead_code)]
mod cli;

fn main() {
    cli::main(|cli| if cli::local(&cli) { cli::run_local(cli) } else { Err(full()) });
}

/// The file name of the whole tool, installed beside this one.
const FULL: &str = "repo-scanner-full";

/// Replaces this process with `repo-scanner-full`: same arguments (argv[0] kept, so `ps` still
/// says `repo-scanner`), same pid, so signals and exit codes are its own. Returns only when it
/// cannot be run.
fn full() -> cli::CliError {
    let here = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return anyhow::anyhow!("cannot find this binary's directory for {FULL}: {e}").into(),
    };
    let path = here.with_file_name(FULL);
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "repo-scanner".into());
    let mut command = std::process::Command::new(&path);
    command.args(args);
    #[cfg(unix)]
    let err = {
        use std::os::unix::process::CommandExt;
        command.arg0(argv0).exec()
    };
    #[cfg(not(unix))]
    let err = {
        let _ = argv0;
        match command.status() {
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(e) => e,
        }
    };
    anyhow::anyhow!(
        "this command runs in {FULL}, which could not be started from {}: {err} \
         (`cargo build` and `cargo install` make both binaries; keep them side by side)",
        path.display()
    )
    .into()
}
