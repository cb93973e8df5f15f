//! Finding the apps of a repository that holds several.
//!
//! Sources of evidence, strongest first: deploy specs that list services with directories;
//! package-manager workspaces (members that can run, not libraries or mobile apps);
//! conventional containers (`apps/*`, `services/*`); and, when the root itself has no
//! indicator, its immediate subdirectories that do.

use serde_json::Value;

use super::deploy::Service;
use super::{detect_all, node, read_json, read_yaml, Strength};
use crate::view::RepoView;

/// A directory that holds a deployable app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDir {
    /// Relative to the view; `""` for the root.
    pub dir: String,
    /// Why it counts: the rule that found it.
    pub rule: &'static str,
}

/// Directories that hold tests, docs or tooling, never an app of their own.
const NOT_APPS: &[&str] = &[
    "test",
    "tests",
    "docs",
    "doc",
    "examples",
    "example",
    "fixtures",
    "scripts",
    "bin",
    ".github",
    "tooling",
    "database",
    "db",
    "migrations",
    "public",
    "static",
    "assets",
];

fn has_app_marker(view: &RepoView) -> bool {
    view.is_file("Dockerfile")
        || view.is_file("Procfile")
        || detect_all(view).iter().any(|d| d.strength >= Strength::Normal)
}

fn runnable_package(view: &RepoView) -> bool {
    if view.is_file("Dockerfile") || view.is_file("Procfile") {
        return true;
    }
    match read_json(view, "package.json") {
        Ok(Some(pkg)) => node::is_runnable(&pkg) && !node::is_mobile(&pkg),
        _ => has_app_marker(view) && !view.is_file("package.json"),
    }
}

/// Workspace member patterns: package.json `workspaces` and pnpm-workspace.yaml `packages`.
fn workspace_patterns(view: &RepoView) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Some(pkg)) = read_json(view, "package.json") {
        let ws = pkg.get("workspaces");
        let list =
            ws.and_then(Value::as_array).or_else(|| ws.and_then(|w| w.get("packages")).and_then(Value::as_array));
        out.extend(list.into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
    }
    if let Ok(Some(doc)) = read_yaml(view, "pnpm-workspace.yaml") {
        if let Some(list) = doc.get("packages").and_then(|p| p.as_sequence()) {
            out.extend(list.iter().filter_map(|v| v.as_str()).map(str::to_string));
        }
    }
    out
}

/// Directories a pattern like `apps/*` or `packages/web` names (one level of `*`).
fn expand(view: &RepoView, pattern: &str) -> Vec<String> {
    let pattern = pattern.trim().trim_start_matches("./").trim_end_matches('/');
    if pattern.starts_with('!') || pattern.contains("..") {
        return Vec::new();
    }
    match pattern.strip_suffix("/*").or_else(|| pattern.strip_suffix("/**")) {
        Some(parent) if !parent.contains('*') => view
            .list_dir(parent)
            .into_iter()
            .filter(|(_, is_dir)| *is_dir)
            .map(|(name, _)| format!("{parent}/{name}"))
            .collect(),
        _ if !pattern.contains('*') && view.is_dir(pattern) => vec![pattern.to_string()],
        _ => Vec::new(),
    }
}

/// The app directories of `view`. `root_is_app` says whether the root itself is one.
pub fn discover(view: &RepoView, services: &[Service], root_is_app: bool) -> Vec<AppDir> {
    let mut out: Vec<AppDir> = Vec::new();
    let push = |dir: String, rule: &'static str, out: &mut Vec<AppDir>| {
        if !out.iter().any(|a| a.dir == dir) {
            out.push(AppDir { dir, rule });
        }
    };
    if root_is_app {
        push(String::new(), "monorepo.root", &mut out);
    }
    for svc in services {
        if svc.dir.is_empty() || view.is_dir(&svc.dir) {
            push(svc.dir.clone(), svc.rule, &mut out);
        }
    }
    for pattern in workspace_patterns(view) {
        for dir in expand(view, &pattern) {
            if runnable_package(&view.subview(&dir)) {
                push(dir, "monorepo.workspace", &mut out);
            }
        }
    }
    for container in ["apps", "services"] {
        for (name, is_dir) in view.list_dir(container) {
            let dir = format!("{container}/{name}");
            if is_dir && runnable_package(&view.subview(&dir)) {
                push(dir, "monorepo.container", &mut out);
            }
        }
    }
    if !root_is_app && services.is_empty() {
        for (name, is_dir) in view.list_dir("") {
            if is_dir
                && !name.starts_with('.')
                && !NOT_APPS.contains(&name.as_str())
                && has_app_marker(&view.subview(&name))
            {
                push(name, "monorepo.subdir", &mut out);
            }
        }
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pnpm_workspace_keeps_runnable_members() {
        let v = RepoView::from_memory([
            ("package.json", r#"{"private":true}"#),
            ("pnpm-workspace.yaml", "packages:\n  - apps/*\n  - packages/*\n"),
            ("apps/web/package.json", r#"{"scripts":{"start":"next start"}}"#),
            ("apps/expo/package.json", r#"{"scripts":{"start":"expo start"},"dependencies":{"expo":"1"}}"#),
            ("packages/ui/package.json", r#"{"dependencies":{"react":"18"}}"#),
        ]);
        let dirs: Vec<_> = discover(&v, &[], false).into_iter().map(|a| a.dir).collect();
        assert_eq!(dirs, vec!["apps/web"]);
    }

    #[test]
    fn subdirs_of_an_empty_root() {
        let v = RepoView::from_memory([
            ("api/go.mod", "module x/api\n"),
            ("web/package.json", r#"{"scripts":{"start":"node s.js"}}"#),
            ("docs/requirements.txt", "mkdocs"),
        ]);
        let dirs: Vec<_> = discover(&v, &[], false).into_iter().map(|a| a.dir).collect();
        assert_eq!(dirs, vec!["api", "web"]);
    }
}
