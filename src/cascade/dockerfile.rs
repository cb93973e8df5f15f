//! The root Dockerfile: its presence decides the strategy; its last stage's CMD/ENTRYPOINT is
//! the web process when no Procfile or deploy spec names one.
//!
//! An ENTRYPOINT that only runs its arguments (tini, dumb-init, a script ending in
//! `exec "$@"`) says nothing about what the app is: with no CMD the image has no start
//! command, and with a CMD the CMD alone is the command (the entrypoint receives it anyway).
//! Dockerfiles elsewhere (`docker/Dockerfile`, `Dockerfile.prod`) do not build the image, but
//! their CMD is still what the owner runs: [`elsewhere`] reads them for `stated`.

use crate::plan::{Warning, WarningCode};
use crate::view::RepoView;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dockerfile {
    /// Relative to the view.
    pub path: String,
    /// The command the image runs (ENTRYPOINT and CMD joined), if any.
    pub command: Option<String>,
    /// Base images of every stage (`FROM`), for the GPU check.
    pub bases: Vec<String>,
    /// The last stage's ENTRYPOINT and CMD as written (words joined).
    pub entrypoint: Option<String>,
    pub cmd: Option<String>,
    /// The last stage's WORKDIR, where relative paths in the command start.
    pub workdir: Option<String>,
    /// The first port an `EXPOSE` names (`EXPOSE 8000/tcp`); a variable is skipped.
    pub expose: Option<u16>,
}

/// Finds the Dockerfile `docker build` uses by default. `Containerfile` and other cases are
/// reported, not used: the pipeline runs `docker build --file Dockerfile`.
pub fn detect(view: &RepoView) -> (Option<Dockerfile>, Vec<Warning>) {
    let mut warnings = Vec::new();
    for (name, _) in view.list_dir("").into_iter().filter(|(_, d)| !d) {
        if name != "Dockerfile"
            && (name.eq_ignore_ascii_case("dockerfile") || name.eq_ignore_ascii_case("containerfile"))
        {
            warnings.push(Warning {
                code: WarningCode::DockerfileVariant,
                message: format!(
                    "{name} is not the default `Dockerfile`; rename it to build with the dockerfile strategy"
                ),
                file: Some(view.repo_path(&name)),
                line: None,
            });
        }
    }
    if !view.is_file("Dockerfile") {
        return (None, warnings);
    }
    let text = match view.read_text("Dockerfile") {
        Ok(t) => t,
        Err(e) => {
            warnings.push(Warning {
                code: WarningCode::ManifestMalformed,
                message: format!("Dockerfile not read: {e}"),
                file: Some(view.repo_path("Dockerfile")),
                line: None,
            });
            return (Some(Dockerfile { path: "Dockerfile".into(), ..Default::default() }), warnings);
        }
    };
    let mut d = parse(&text, "Dockerfile");
    if let Some(ep) = d.entrypoint.clone().filter(|ep| is_wrapper(view, ep, d.workdir.as_deref())) {
        d.command = d.cmd.clone();
        if d.command.is_none() {
            warnings.push(Warning {
                code: WarningCode::DockerfileNoCmd,
                message: format!(
                    "the Dockerfile's ENTRYPOINT `{ep}` only runs its arguments and there is no CMD: no start command"
                ),
                file: Some(view.repo_path("Dockerfile")),
                line: None,
            });
            return (Some(d), warnings);
        }
    }
    if d.command.is_none() {
        warnings.push(Warning {
            code: WarningCode::DockerfileNoCmd,
            message: "the Dockerfile has no CMD or ENTRYPOINT: the base image's command runs".into(),
            file: Some(view.repo_path("Dockerfile")),
            line: None,
        });
    }
    (Some(d), warnings)
}

/// Joins continuation lines and drops comments, keeping instructions.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if current.is_empty() && (trimmed.starts_with('#') || trimmed.is_empty()) {
            continue;
        }
        if !current.is_empty() && trimmed.starts_with('#') {
            continue; // comments inside a continued instruction
        }
        if let Some(body) = line.trim_end().strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let full = std::mem::take(&mut current);
        let full = full.trim();
        let (kw, rest) = full.split_once(char::is_whitespace).unwrap_or((full, ""));
        out.push((kw.to_ascii_uppercase(), rest.trim().to_string()));
    }
    out
}

/// `["a", "b"]` (exec form) or a shell-form string.
fn command_words(arg: &str) -> String {
    if arg.starts_with('[') {
        if let Ok(words) = serde_json::from_str::<Vec<String>>(arg) {
            return words
                .iter()
                .map(|w| if w.contains(char::is_whitespace) { format!("{w:?}") } else { w.clone() })
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    arg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses the instructions that matter here. Only the last stage's CMD/ENTRYPOINT count.
pub fn parse(text: &str, path: &str) -> Dockerfile {
    let mut d = Dockerfile { path: path.to_string(), ..Default::default() };
    let (mut cmd, mut entrypoint) = (None, None);
    for (kw, rest) in instructions(text) {
        match kw.as_str() {
            "FROM" => {
                let image = rest.split_whitespace().find(|w| !w.starts_with("--")).unwrap_or("").to_string();
                d.bases.push(image);
                // A new stage starts with nothing of the previous one's.
                cmd = None;
                entrypoint = None;
                d.workdir = None;
            }
            "CMD" => cmd = Some(command_words(&rest)),
            "WORKDIR" => d.workdir = Some(rest.trim().trim_matches('"').to_string()),
            "ENTRYPOINT" => entrypoint = Some(command_words(&rest)),
            "EXPOSE" if d.expose.is_none() => {
                d.expose = rest.split_whitespace().find_map(|w| w.split('/').next()?.parse::<u16>().ok())
            }
            _ => {}
        }
    }
    // `ENTRYPOINT []` resets the base image's entrypoint: it adds nothing to the command.
    d.entrypoint = entrypoint.filter(|c| !c.trim().is_empty());
    d.cmd = cmd.filter(|c| !c.trim().is_empty());
    d.command = match (d.entrypoint.clone(), d.cmd.clone()) {
        (Some(e), Some(c)) => Some(format!("{e} {c}")),
        (Some(e), None) => Some(e),
        (None, Some(c)) => Some(c),
        (None, None) => None,
    }
    .filter(|c| !c.trim().is_empty());
    d
}

/// Init wrappers that run their arguments and nothing else.
const INIT_WRAPPERS: &[&str] = &["tini", "dumb-init", "gosu", "su-exec", "catatonit", "init", "docker-init"];

/// Most lines a wrapper script may have and still be read (linear, bounded).
const SCRIPT_LINES: usize = 400;

/// True when `entrypoint` only runs the arguments it is given: an init wrapper with options
/// only, or a script of the repository whose last command is `exec "$@"`.
pub fn is_wrapper(view: &RepoView, entrypoint: &str, workdir: Option<&str>) -> bool {
    let words: Vec<&str> = entrypoint.split_whitespace().collect();
    let Some(first) = words.first() else { return false };
    let base = first.rsplit('/').next().unwrap_or(first);
    if INIT_WRAPPERS.contains(&base) {
        return words[1..].iter().all(|w| w.starts_with('-'));
    }
    // A script: `./x.sh`, `/app/x.sh`, `sh x.sh`.
    let script = if matches!(base, "sh" | "bash") { words.get(1).copied() } else { Some(*first) };
    let Some(script) = script.filter(|_| words.len() <= 2) else { return false };
    match in_repo(view, script, workdir).and_then(|p| view.text(&p)) {
        Some(text) => runs_its_arguments(&text),
        None => false,
    }
}

/// The repository file an image path names: relative to the WORKDIR, or by its name at the
/// root (`COPY entrypoint.sh /entrypoint.sh`).
pub fn in_repo(view: &RepoView, path: &str, workdir: Option<&str>) -> Option<String> {
    let mut p = path.trim_matches('"');
    if let Some(w) = workdir.map(|w| w.trim_end_matches('/')).filter(|w| w.starts_with('/') && w.len() > 1) {
        p = p.strip_prefix(w).map(|r| r.trim_start_matches('/')).unwrap_or(p);
    }
    let p = p.trim_start_matches("./");
    if view.is_file(p) {
        return Some(p.to_string());
    }
    let name = p.rsplit('/').next()?;
    [name.to_string(), format!("docker/{name}"), format!("scripts/{name}")].into_iter().find(|c| view.is_file(c))
}

/// The script's last command runs `"$@"` (with or without `exec`).
pub fn runs_its_arguments(text: &str) -> bool {
    let last = text
        .lines()
        .take(SCRIPT_LINES)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !matches!(*l, "fi" | "esac" | "done" | "}"))
        .last();
    last.is_some_and(|l| {
        let l = l.strip_prefix("exec ").unwrap_or(l).trim();
        matches!(l, "\"$@\"" | "$@" | "\"${@}\"" | "${@}" | "$*" | "\"$*\"")
    })
}

/// Dockerfiles that do not build the image but say how the app runs: `Dockerfile.<x>` at the
/// root (not a dev one) and `Dockerfile` in a docker/deploy directory. Parsed, in a fixed
/// order, at most a few.
pub fn elsewhere(view: &RepoView) -> Vec<Dockerfile> {
    const DIRS: &[&str] = &["docker", ".docker", "deploy", "deployment", "build", "ops", "container"];
    let mut paths: Vec<String> = view
        .list_dir("")
        .into_iter()
        .filter(|(n, d)| {
            let lower = n.to_ascii_lowercase();
            !d && lower.starts_with("dockerfile.") && !lower.contains("dev") && !lower.contains("test")
        })
        .map(|(n, _)| n)
        .collect();
    for dir in DIRS {
        for (n, d) in view.list_dir(dir) {
            let lower = n.to_ascii_lowercase();
            if !d && (lower == "dockerfile" || lower.starts_with("dockerfile.") && !lower.contains("dev")) {
                paths.push(format!("{dir}/{n}"));
            }
        }
    }
    paths
        .into_iter()
        .take(8)
        .filter_map(|p| {
            let mut d = parse(&view.text(&p)?, &p);
            if d.entrypoint.as_deref().is_some_and(|ep| is_wrapper(view, ep, d.workdir.as_deref())) {
                d.command = d.cmd.clone();
            }
            d.command.is_some().then_some(d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose() {
        assert_eq!(parse("FROM x\nexpose $PORT 8000/tcp\nEXPOSE 9000\n", "Dockerfile").expose, Some(8000));
        assert_eq!(parse("FROM x\nCMD run\n", "Dockerfile").expose, None);
    }

    #[test]
    fn last_stage_command_wins() {
        let d = parse(
            "FROM rust AS build\nCMD [\"cargo\"]\nFROM debian\nCOPY --from=build /x /x\nCMD [\"/x\", \"--port\", \"8080\"]\n",
            "Dockerfile",
        );
        assert_eq!(d.command.as_deref(), Some("/x --port 8080"));
        assert_eq!(d.bases, vec!["rust", "debian"]);
    }

    #[test]
    fn shell_form_and_continuations() {
        let d = parse("FROM python\nCMD exec uvicorn app:app \\\n  --host 0.0.0.0\n", "Dockerfile");
        assert_eq!(d.command.as_deref(), Some("exec uvicorn app:app --host 0.0.0.0"));
    }

    #[test]
    fn entrypoint_joins_cmd() {
        let d = parse("FROM x\nENTRYPOINT [\"node\"]\nCMD [\"server.js\"]\n", "Dockerfile");
        assert_eq!(d.command.as_deref(), Some("node server.js"));
        assert_eq!(parse("FROM x\nRUN y\n", "Dockerfile").command, None);
    }

    #[test]
    fn wrapper_entrypoints_are_not_commands() {
        let v = RepoView::from_memory([
            ("Dockerfile", "FROM x\nWORKDIR /app\nENTRYPOINT [\"/app/entrypoint.sh\"]\n"),
            ("entrypoint.sh", "#!/bin/sh\nset -e\npython manage.py migrate\nexec \"$@\"\n"),
        ]);
        let (d, w) = detect(&v);
        assert_eq!(d.and_then(|d| d.command), None);
        assert!(w.iter().any(|w| w.code == WarningCode::DockerfileNoCmd && w.message.contains("only runs")));

        let v = RepoView::from_memory([(
            "Dockerfile",
            "FROM x\nENTRYPOINT [\"tini\", \"--\"]\nCMD [\"node\", \"s.js\"]\n",
        )]);
        assert_eq!(detect(&v).0.and_then(|d| d.command).as_deref(), Some("node s.js"));
    }

    #[test]
    fn a_script_that_runs_a_server_is_a_command() {
        let v = RepoView::from_memory([
            ("Dockerfile", "FROM x\nENTRYPOINT [\"./start.sh\"]\n"),
            ("start.sh", "#!/bin/sh\nexec gunicorn app:app\n"),
        ]);
        assert_eq!(detect(&v).0.and_then(|d| d.command).as_deref(), Some("./start.sh"));
        assert!(!runs_its_arguments("if [ -n \"$X\" ]; then\n  exec \"$@\"\nfi\nexec gunicorn app:app\n"));
        assert!(!is_wrapper(&v, "tini -- gunicorn", None));
    }
}
