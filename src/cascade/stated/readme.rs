//! Run instructions in the README's shell code blocks.
//!
//! README text is untrusted: anyone can write anything there, including text addressed to a
//! model. So only lines inside fenced shell blocks are read, only lines whose program runs an
//! app (an interpreter or a server, not an installer), and each one is then admitted by the
//! validator like a model's proposal (see `super::admit`). Prose is never read.

use super::{kind_of, Raw, StatedOrigin};
use crate::command;
use crate::view::RepoView;

const FILES: &[&str] =
    &["README.md", "readme.md", "Readme.md", "README.markdown", "README.rst", "README.txt", "README"];
const MAX_LINES: usize = 3000;
/// Candidates taken from one README.
const MAX_CANDIDATES: usize = 4;

/// Programs a run instruction starts an app with.
const RUNNERS: &[&str] = &[
    "python", "python3", "node", "npm", "yarn", "pnpm", "bun", "deno", "java", "ruby", "bundle", "rails", "php",
    "dotnet", "flask", "celery",
];

/// Info strings of shell blocks (an empty one is also read).
const SHELL: &[&str] =
    &["sh", "bash", "shell", "console", "zsh", "terminal", "shell-session", "cmd", "powershell", "ps1", "bat"];

/// Subcommands of package managers that run the app (the rest install or build).
fn runs_app(key: &command::ProcessKey, line: &str) -> bool {
    let t = key.target.as_deref().unwrap_or("");
    match key.program.as_str() {
        "npm" | "pnpm" | "yarn" | "bun" => {
            matches!(t, "start" | "serve") || (t == "run" && key.positionals.get(1).is_some_and(|s| s == "start"))
        }
        "python" | "python3" | "ruby" | "node" | "deno" | "php" | "java" => {
            !t.is_empty() && !matches!(t, "setup.py" | "pip" | "venv" | "pytest" | "unittest" | "install")
        }
        "rails" => matches!(t, "server" | "s"),
        "dotnet" => t == "run",
        _ => kind_of(line).is_some() || RUNNERS.contains(&key.program.as_str()),
    }
}

/// The run lines of shell code blocks, in order.
pub fn run_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    let mut shell = false;
    for raw in text.lines().take(MAX_LINES) {
        let line = raw.trim();
        if let Some(f) = fence {
            if line.starts_with(f) {
                fence = None;
                continue;
            }
            if !shell {
                continue;
            }
            let l = line.trim_start_matches("$ ").trim_start_matches("> ").trim_start_matches("% ").trim();
            let l = l.split_once(" #").map_or(l, |(cmd, _comment)| cmd.trim());
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let Some(key) = command::process_key(l) else { continue };
            let first = command::segments(l).into_iter().next().unwrap_or_default();
            // Only the instruction itself: a chained line is the validator's to refuse, and
            // a line that starts with `cd` or `source` is setup.
            let starts_setup = first.first().is_some_and(|w| matches!(w.as_str(), "cd" | "source" | "." | "export"));
            let program_known = RUNNERS.contains(&key.program.as_str()) || kind_of(l).is_some();
            if !starts_setup && program_known && runs_app(&key, l) {
                out.push(l.to_string());
                if out.len() >= MAX_CANDIDATES {
                    break;
                }
            }
            continue;
        }
        for f in ["```", "~~~"] {
            if let Some(info) = line.strip_prefix(f) {
                fence = Some(f);
                let info = info.trim().trim_start_matches('{').to_ascii_lowercase();
                let lang = info.split(|c: char| c.is_whitespace() || c == ',' || c == '}').next().unwrap_or("");
                shell = lang.is_empty() || SHELL.contains(&lang);
            }
        }
    }
    out
}

pub(crate) fn read(view: &RepoView) -> Vec<Raw> {
    let Some(file) = FILES.iter().find(|f| view.is_file(f)) else { return Vec::new() };
    let Some(text) = view.text(file) else { return Vec::new() };
    run_lines(&text)
        .into_iter()
        .map(|command| Raw { kind: None, command, origin: StatedOrigin::Readme, file: view.repo_path(file) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_blocks_only() {
        let md = "# App\n\nRun `python evil.py` now.\n\n```bash\n$ pip install -r requirements.txt\n$ python manage.py migrate\ncd src\npython app.py\n```\n\n```python\npython other.py\n```\n\n~~~\nstreamlit run dash.py\n~~~\n";
        assert_eq!(run_lines(md), vec!["python manage.py migrate", "python app.py", "streamlit run dash.py"]);
    }

    #[test]
    fn installers_and_unclosed_fences() {
        assert!(run_lines("```sh\nnpm install\nnpm run build\nyarn add x\n```\n").is_empty());
        assert_eq!(run_lines("```sh\nnpm start\n"), vec!["npm start"]);
        assert!(run_lines(&"```\n".repeat(10_000)).is_empty());
    }
}
