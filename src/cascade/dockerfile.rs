//! The root Dockerfile: its presence decides the strategy; its last stage's CMD/ENTRYPOINT is
//! the web process when no Procfile or deploy spec names one.

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
    let d = parse(&text, "Dockerfile");
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
            }
            "CMD" => cmd = Some(command_words(&rest)),
            "ENTRYPOINT" => entrypoint = Some(command_words(&rest)),
            _ => {}
        }
    }
    d.command = match (entrypoint, cmd) {
        (Some(e), Some(c)) => Some(format!("{e} {c}")),
        (Some(e), None) => Some(e),
        (None, Some(c)) => Some(c),
        (None, None) => None,
    }
    .filter(|c| !c.trim().is_empty());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
