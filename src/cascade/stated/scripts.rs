//! Start, boot and entrypoint scripts: the server line they `exec` (or, without `exec`, the
//! last top-level line that runs a server). Setup before it (migrations, waits) is the
//! owner's business; the line is what runs for the life of the process.
//!
//! A line that depends on the script's own state (a variable other than `$PORT`, a `cd`
//! before it) means nothing outside the script: such a script is not read.

use super::{kind_of, Raw, StatedOrigin};
use crate::command;
use crate::view::RepoView;

const DIRS: &[&str] = &["", "bin", "scripts", "script", "docker", ".docker", "deploy"];
const STEMS: &[&str] =
    &["start", "run", "boot", "startup", "entrypoint", "docker-entrypoint", "serve", "server", "launch", "run-server"];
/// Lines read per script.
const MAX_LINES: usize = 400;
/// Scripts read per view.
const MAX_SCRIPTS: usize = 8;

/// Programs that can be the long-running line of a script.
const RUNNERS: &[&str] =
    &["python", "python3", "node", "npm", "yarn", "pnpm", "bun", "deno", "java", "ruby", "php", "dotnet", "go"];

fn is_script_name(name: &str) -> bool {
    let stem = name.strip_suffix(".sh").unwrap_or(name);
    STEMS.contains(&stem) && (name.ends_with(".sh") || !name.contains('.'))
}

/// Logical lines: continuations joined, comments and blank lines dropped, with their nesting
/// depth (inside if/case/loops/functions).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut depth: usize = 0;
    let mut current = String::new();
    for raw in text.lines().take(MAX_LINES) {
        let line = raw.trim();
        if let Some(body) = line.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let l = std::mem::take(&mut current).trim().to_string();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let first = l.split_whitespace().next().unwrap_or("");
        let closes = matches!(first, "fi" | "done" | "esac" | "}" | "fi;" | "done;");
        if closes {
            depth = depth.saturating_sub(1);
            continue;
        }
        let opens = matches!(first, "if" | "while" | "until" | "for" | "case" | "select")
            || l.ends_with('{')
            || l.ends_with("()");
        let one_line =
            opens && (l.ends_with(" fi") || l.ends_with(" done") || l.ends_with(" esac") || l.ends_with('}'));
        out.push((depth, l));
        if opens && !one_line {
            depth += 1;
        }
    }
    out
}

fn only_port_variables(line: &str) -> bool {
    let mut rest = line;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        let name = after.trim_start_matches('{');
        if !name.starts_with("PORT")
            || name.get(4..5).is_some_and(|c| c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return false;
        }
        rest = after;
    }
    true
}

/// The server line of a script, or None.
pub fn server_line(text: &str) -> Option<String> {
    let lines = logical_lines(text);
    // `cd` anywhere at the top level changes what relative paths mean.
    if lines.iter().any(|(d, l)| *d == 0 && (l == "cd" || l.starts_with("cd "))) {
        return None;
    }
    let exec = lines
        .iter()
        .rev()
        .find(|(_, l)| l.starts_with("exec ") && !super::super::dockerfile::runs_its_arguments(l))
        .map(|(_, l)| l.trim_start_matches("exec ").trim().to_string());
    let line = exec.or_else(|| {
        lines.iter().rev().filter(|(d, _)| *d == 0).find_map(|(_, l)| {
            if l.ends_with('&') {
                return None; // backgrounded: not the process's life
            }
            let key = command::process_key(l)?;
            let runner = RUNNERS.contains(&key.program.as_str()) || kind_of(l).is_some();
            runner.then(|| l.clone())
        })
    })?;
    only_port_variables(&line).then(|| line.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The server line of the script a command runs (`./entrypoint.sh`, `sh start.sh`), when the
/// command runs nothing else.
pub fn resolve(view: &RepoView, cmd: &str) -> Option<String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let path = match words.as_slice() {
        [p] => *p,
        ["sh" | "bash", p] => *p,
        _ => return None,
    };
    let path = path.trim_start_matches("./");
    if !path.ends_with(".sh") && !is_script_name(path.rsplit('/').next().unwrap_or(path)) {
        return None;
    }
    server_line(&view.text(path)?)
}

/// The server lines of the start scripts at the view's root and in bin/, scripts/, docker/.
pub(crate) fn read(view: &RepoView) -> Vec<Raw> {
    let mut paths = Vec::new();
    for dir in DIRS {
        for (name, is_dir) in view.list_dir(dir) {
            if !is_dir && is_script_name(&name) {
                paths.push(if dir.is_empty() { name } else { format!("{dir}/{name}") });
            }
        }
    }
    paths
        .into_iter()
        .take(MAX_SCRIPTS)
        .filter_map(|p| {
            let text = view.text(&p)?;
            let shell = p.ends_with(".sh")
                || text.starts_with("#!/bin/sh")
                || text.starts_with("#!/bin/bash")
                || text.starts_with("#!/usr/bin/env bash")
                || text.starts_with("#!/usr/bin/env sh");
            if !shell {
                return None;
            }
            let command = server_line(&text)?;
            Some(Raw { kind: None, command, origin: StatedOrigin::Script, file: view.repo_path(&p) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exec_line() {
        let s = "#!/bin/sh\nset -e\nuntil nc -z db 5432; do\n  sleep 1\ndone\npython manage.py migrate\nexec gunicorn mysite.wsgi \\\n  --bind 0.0.0.0:$PORT\n";
        assert_eq!(server_line(s).as_deref(), Some("gunicorn mysite.wsgi --bind 0.0.0.0:$PORT"));
    }

    #[test]
    fn the_last_top_level_server_without_exec() {
        let s = "#!/bin/bash\nif [ -z \"$X\" ]; then\n  node other.js\nfi\nnpm run build\nnode dist/server.js\n";
        assert_eq!(server_line(s).as_deref(), Some("node dist/server.js"));
        assert_eq!(server_line("#!/bin/sh\nnode a.js &\necho hi\n"), None);
    }

    #[test]
    fn script_state_makes_the_line_meaningless() {
        assert_eq!(server_line("cd backend\nexec uvicorn main:app\n"), None);
        assert_eq!(server_line("exec gunicorn app:app -w $WORKERS\n"), None);
        assert_eq!(server_line("exec \"$@\"\n"), None);
        assert_eq!(
            server_line("exec uvicorn main:app --port ${PORT:-8000}\n").as_deref(),
            Some("uvicorn main:app --port ${PORT:-8000}")
        );
    }

    #[test]
    fn only_start_scripts_are_read() {
        let v = RepoView::from_memory([
            ("start.sh", "exec python bot.py\n"),
            ("deploy.sh", "exec python other.py\n"),
            ("bin/start", "#!/bin/sh\nexec node s.js\n"),
            ("bin/run.py", "print()"),
        ]);
        let got: Vec<_> = read(&v).into_iter().map(|r| (r.file, r.command)).collect();
        assert_eq!(got, vec![("start.sh".into(), "python bot.py".into()), ("bin/start".into(), "node s.js".into())]);
    }
}
