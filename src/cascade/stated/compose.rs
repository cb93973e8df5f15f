//! docker-compose services built from the repository: their `command` (or their Dockerfile's
//! CMD), and their `build.context`, which names the app's directory in a monorepo.
//!
//! Only services with a `build` count: `image:`-only services are datastores and tools. The
//! compose file may sit above the app (the repository root, with `context: ./api`), so the
//! ancestors' files are read too. A production override (`docker-compose.prod.yml`) wins over
//! the base file; development ones (`.dev`, `.devcontainer/`) are not read.

use serde_norway::Value as Yaml;

use super::{join_words, Raw, StatedOrigin};
use crate::cascade::{detect_all, dockerfile, read_manifest, Strength};
use crate::view::RepoView;

/// Base files first, production overrides last (later files override earlier ones).
const FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
    "docker-compose.prod.yml",
    "docker-compose.prod.yaml",
    "docker-compose.production.yml",
    "docker-compose.production.yaml",
];

/// Most services read from one file.
const MAX_SERVICES: usize = 64;
/// Deepest flow or sequence nesting parsed: the YAML parser is superlinear in it, and no
/// compose file nests more than a few levels.
const MAX_NESTING: usize = 32;
/// Most YAML aliases (`*name`) in a compose file that is parsed.
const MAX_ALIASES: usize = 64;

/// True when the text nests flow collections (`[[[`, `{{{`) or inline sequences (`- - -`)
/// deeper than [`MAX_NESTING`], or holds more than [`MAX_ALIASES`] aliases. Linear; quotes are not tracked (a false positive only skips
/// a compose file).
fn too_deep(text: &str) -> bool {
    let mut depth: usize = 0;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    // Aliases expand: a handful of `<<: *defaults` is normal, a lattice of them is a bomb.
    let aliases = text.as_bytes().windows(2).filter(|w| matches!(w[0], b' ' | b'[' | b',') && w[1] == b'*').count();
    aliases > MAX_ALIASES
        || text.lines().any(|l| l.trim_start().split("- ").take(MAX_NESTING + 2).count() > MAX_NESTING + 1)
}

/// The parsed compose file, or None when absent, unreadable, too deep or not YAML.
fn parse(at: &RepoView, file: &str) -> Option<Yaml> {
    let text = read_manifest(at, file).ok().flatten()?;
    if too_deep(&text) {
        tracing::debug!(file, "compose file nests too deep; not read");
        return None;
    }
    serde_norway::from_str(&text).ok()
}

/// One service built from the repository.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComposeService {
    pub name: String,
    /// The build context, relative to the repository root; `""` for the root.
    pub dir: String,
    pub dockerfile: Option<String>,
    pub command: Option<String>,
    /// Publishes or exposes a port.
    pub serves: bool,
    /// The compose file, relative to the repository root.
    pub file: String,
}

fn text_or_list(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.trim().to_string()),
        Yaml::Sequence(seq) => {
            let words: Vec<&str> = seq.iter().filter_map(Yaml::as_str).collect();
            (words.len() == seq.len()).then(|| join_words(words))
        }
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// `./api/`, `api` -> `api`; `.` -> ``; paths out of the directory, absolute paths and URLs
/// -> None.
fn clean_context(c: &str) -> Option<String> {
    let c = c.trim();
    if c.starts_with('/') || c.contains("://") || c.starts_with("git@") || c.split('/').any(|p| p == "..") {
        return None;
    }
    let parts: Vec<&str> = c.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    Some(parts.join("/"))
}

fn join_dir(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{rel}"),
    }
}

/// The services of the compose files in `at`'s own root, with directories from the
/// repository root.
pub fn services(at: &RepoView) -> Vec<ComposeService> {
    let mut out: Vec<ComposeService> = Vec::new();
    for file in FILES {
        let Some(doc) = parse(at, file) else { continue };
        let Some(map) = doc.get("services").and_then(Yaml::as_mapping) else { continue };
        for (name, svc) in map.iter().take(MAX_SERVICES) {
            let Some(name) = name.as_str() else { continue };
            let existing = out.iter().position(|s| s.name == name);
            let mut s = existing.map(|i| out[i].clone()).unwrap_or_else(|| ComposeService {
                name: name.to_string(),
                file: at.repo_path(file),
                ..Default::default()
            });
            match svc.get("build") {
                Some(Yaml::String(ctx)) => {
                    let Some(ctx) = clean_context(ctx) else { continue };
                    s.dir = join_dir(at.subdir(), &ctx);
                }
                Some(b @ Yaml::Mapping(_)) => {
                    let ctx = b.get("context").and_then(Yaml::as_str).unwrap_or(".");
                    let Some(ctx) = clean_context(ctx) else { continue };
                    s.dir = join_dir(at.subdir(), &ctx);
                    s.dockerfile = b.get("dockerfile").and_then(Yaml::as_str).map(str::to_string);
                }
                _ if existing.is_some() => {}
                _ => continue, // image only: not built from this repository
            }
            let command = svc.get("command").and_then(text_or_list);
            // An entrypoint that only runs its arguments adds nothing; another one is the
            // program the command's words are given to.
            let ctx = at.subview(s.dir.strip_prefix(at.subdir()).unwrap_or(&s.dir).trim_start_matches('/'));
            let entrypoint =
                svc.get("entrypoint").and_then(text_or_list).filter(|ep| !dockerfile::is_wrapper(&ctx, ep, None));
            let command = match (entrypoint, command) {
                (Some(e), Some(c)) => Some(format!("{e} {c}")),
                (e, c) => e.or(c),
            };
            if let Some(c) = command {
                s.command = Some(c);
                s.file = at.repo_path(file);
            }
            s.serves |= svc.get("ports").is_some() || svc.get("expose").is_some();
            match existing {
                Some(i) => out[i] = s,
                None => out.push(s),
            }
        }
    }
    out
}

/// Every service built from the repository whose context is a subdirectory of `view` with a
/// language manifest of its own: the apps a compose file declares. A context with only a
/// Dockerfile (an nginx or database image with its config) is infrastructure, not an app.
pub fn app_dirs(view: &RepoView) -> Vec<ComposeService> {
    services(view)
        .into_iter()
        .filter(|s| s.dir != view.subdir())
        .filter(|s| {
            let rel = rel_to(view, &s.dir);
            !rel.is_empty() && detect_all(&view.subview(&rel)).iter().any(|d| d.strength >= Strength::Normal)
        })
        .collect()
}

fn rel_to(view: &RepoView, dir: &str) -> String {
    let sub = view.subdir();
    if sub.is_empty() {
        return dir.to_string();
    }
    dir.strip_prefix(sub).map(|r| r.trim_start_matches('/').to_string()).unwrap_or_default()
}

/// The commands of the services whose build context is `view`'s directory, read from the
/// compose files of `view` and of the directories above it.
pub(crate) fn read(view: &RepoView) -> Vec<Raw> {
    let mut out = Vec::new();
    for at in view.ancestors() {
        for s in services(&at).into_iter().filter(|s| s.dir == view.subdir()) {
            let command = s.command.clone().or_else(|| image_command(view, s.dockerfile.as_deref()));
            let Some(command) = command else { continue };
            out.push(Raw {
                kind: Some(if s.serves { "web" } else { "worker" }.to_string()),
                command,
                origin: StatedOrigin::Compose,
                file: s.file.clone(),
            });
        }
    }
    out
}

/// The CMD of the Dockerfile a service builds (in the view: the context is the view).
fn image_command(view: &RepoView, dockerfile: Option<&str>) -> Option<String> {
    let path = dockerfile.unwrap_or("Dockerfile").trim_start_matches("./");
    let d = dockerfile::parse(&view.text(path)?, path);
    if d.entrypoint.as_deref().is_some_and(|ep| dockerfile::is_wrapper(view, ep, d.workdir.as_deref())) {
        return d.cmd;
    }
    d.command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_services_with_contexts() {
        let v = RepoView::from_memory([
            (
                "docker-compose.yml",
                "services:\n  db:\n    image: postgres\n  api:\n    build: ./api\n    command: [\"uvicorn\", \"main:app\"]\n    ports: [\"8000:8000\"]\n  worker:\n    build:\n      context: api\n    command: celery -A tasks worker\n  up:\n    build: ../elsewhere\n",
            ),
            ("docker-compose.prod.yml", "services:\n  api:\n    command: gunicorn main:app -k uvicorn.workers.UvicornWorker\n"),
            ("api/main.py", ""),
        ]);
        let got: Vec<_> = services(&v).into_iter().map(|s| (s.name, s.dir, s.command, s.serves)).collect();
        assert_eq!(
            got,
            vec![
                ("api".into(), "api".into(), Some("gunicorn main:app -k uvicorn.workers.UvicornWorker".into()), true),
                ("worker".into(), "api".into(), Some("celery -A tasks worker".into()), false),
            ]
        );
        assert!(app_dirs(&v).is_empty(), "api/ has no manifest");
        let sub = v.subview("api");
        let raw = read(&sub);
        assert_eq!(raw.len(), 2);
        assert_eq!(raw[0].file, "docker-compose.prod.yml");
        assert_eq!(raw[1].kind.as_deref(), Some("worker"));
    }

    #[test]
    fn entrypoints_join_their_command_unless_they_wrap() {
        let v = RepoView::from_memory([(
            "compose.yml",
            "services:\n  a:\n    build: .\n    entrypoint: [\"python\"]\n    command: [\"app.py\"]\n  b:\n    build: .\n    entrypoint: [\"tini\", \"--\"]\n    command: node s.js\n",
        )]);
        let got: Vec<_> = services(&v).into_iter().filter_map(|s| s.command).collect();
        assert_eq!(got, ["python app.py", "node s.js"]);
    }

    #[test]
    fn nesting_is_bounded_before_parsing() {
        assert!(too_deep(&"[".repeat(33)));
        assert!(too_deep(&format!("x: {}1", "- ".repeat(40))));
        assert!(!too_deep("services:\n  a:\n    command: [\"a\", [\"b\"]]\n    ports:\n      - \"80:80\"\n"));
    }

    #[test]
    fn hostile_yaml_is_ignored() {
        for text in ["services: [1, 2]", "services:\n  a:\n    build: {context: 7}\n", ":::", "services:\n  a: 3\n"] {
            let v = RepoView::from_memory([("compose.yaml", text)]);
            assert!(read(&v).is_empty(), "{text}");
        }
    }
}
