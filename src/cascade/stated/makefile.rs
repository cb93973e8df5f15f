//! Makefile `start`/`run`/`serve` targets: the last command of the recipe, with the
//! Makefile's own simple variables expanded. A recipe that calls docker or another make
//! target, or that keeps a variable it cannot expand, is not read.

use std::collections::HashMap;

use super::{Raw, StatedOrigin};
use crate::view::RepoView;

const FILES: &[&str] = &["Makefile", "makefile", "GNUmakefile"];
/// Targets that start the app, best first.
const TARGETS: &[&str] = &["start", "run", "serve", "server", "prod", "production", "up"];
const MAX_LINES: usize = 2000;
const MAX_VARS: usize = 256;

/// Expands `$(NAME)` and `${NAME}` from `vars`, `$$` to `$`. None when a reference is left.
fn expand(line: &str, vars: &HashMap<String, String>) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let close = match after.chars().next() {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
                continue;
            }
            Some('(') => ')',
            Some('{') => '}',
            _ => return None, // `$@`, `$<`: automatic variables
        };
        let end = after.find(close)?;
        let name = &after[1..end];
        // One level only: a value that refers to others is left unexpanded, and refused.
        let value = vars.get(name)?;
        if value.contains('$') {
            return None;
        }
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The command a target runs, from the Makefile's text.
pub fn target_command(text: &str) -> Option<(String, String)> {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut recipes: HashMap<String, Vec<String>> = HashMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines().take(MAX_LINES) {
        let raw = raw.trim_end_matches('\r');
        if let Some(recipe) = raw.strip_prefix('\t') {
            if let Some(t) = &current {
                let l = recipe.trim().trim_start_matches(['@', '-', '+']).trim();
                if !l.is_empty() && !l.starts_with('#') {
                    recipes.entry(t.clone()).or_default().push(l.to_string());
                }
            }
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        current = None;
        if let Some((name, value)) = assignment(line) {
            if vars.len() < MAX_VARS {
                vars.insert(name, value);
            }
            continue;
        }
        if let Some((targets, _deps)) = line.split_once(':') {
            for t in targets.split_whitespace() {
                if TARGETS.contains(&t) {
                    current = Some(t.to_string());
                }
            }
        }
    }
    for t in TARGETS {
        let Some(lines) = recipes.get(*t) else { continue };
        let Some(last) = lines.iter().rev().find(|l| !l.starts_with("echo ") && !l.starts_with("printf ")) else {
            continue;
        };
        if last.contains("docker") || last.starts_with("make ") || last.contains("$(MAKE)") || last.starts_with("cd ") {
            continue;
        }
        if let Some(cmd) = expand(last, &vars) {
            return Some((t.to_string(), cmd));
        }
    }
    None
}

/// `NAME = v`, `NAME := v`, `NAME ?= v`, `export NAME = v`.
fn assignment(line: &str) -> Option<(String, String)> {
    let line = line.strip_prefix("export ").unwrap_or(line);
    let i = line.find('=')?;
    let (lhs, rhs) = (&line[..i], &line[i + 1..]);
    let name = lhs.trim_end_matches([':', '?', '+', '!']).trim();
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| (name.to_string(), rhs.trim().to_string()))
}

pub(crate) fn read(view: &RepoView) -> Vec<Raw> {
    FILES
        .iter()
        .find(|f| view.is_file(f))
        .and_then(|f| {
            let (_, command) = target_command(&view.text(f)?)?;
            Some(Raw { kind: None, command, origin: StatedOrigin::Makefile, file: view.repo_path(f) })
        })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_target_with_variables() {
        let mk = "APP ?= main:app\nPORT := 8000\n\n.PHONY: run test\ntest:\n\tpytest\nrun: install\n\t@echo starting\n\tuvicorn $(APP) --port ${PORT}\n";
        assert_eq!(target_command(mk), Some(("run".into(), "uvicorn main:app --port 8000".into())));
    }

    #[test]
    fn refuses_what_it_cannot_expand() {
        assert_eq!(target_command("run:\n\tgo run $(shell ls)\n"), None);
        assert_eq!(target_command("start:\n\tdocker compose up\n"), None);
        assert_eq!(target_command("run:\n\t./$@\n"), None);
        assert_eq!(target_command("A = $(B)\nrun:\n\tnode $(A)\n"), None);
        assert_eq!(target_command("start:\n\tnode $$X\n").map(|t| t.1).as_deref(), Some("node $X"));
    }
}
