//! Deploy specs of other platforms: render.yaml, .do/app.yaml, fly.toml, railway.toml/json,
//! nixpacks.toml, heroku.yml. When a repository states its start command for a platform, that
//! is the best evidence of how it runs, and the services they list (with their directories)
//! are the apps of a monorepo.

use serde_norway::Value as Yaml;

use super::{read_json, read_toml, read_yaml};
use crate::command;
use crate::plan::Warning;
use crate::view::RepoView;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    Web,
    Worker,
    /// Cron and one-off jobs: not a long-running process.
    Job,
    Static,
}

/// One service a deploy spec declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    /// Directory of the app, relative to the view the spec was read from; `""` for its root.
    pub dir: String,
    pub kind: ServiceKind,
    /// The start command, rebased to run from `dir` (a leading `cd <dir> &&` dropped).
    pub command: Option<String>,
    pub dockerfile: Option<String>,
    /// The spec's file, relative to the view.
    pub file: String,
    pub rule: &'static str,
}

fn s(v: &Yaml, key: &str) -> Option<String> {
    v.get(key).and_then(Yaml::as_str).map(|x| x.trim().to_string()).filter(|x| !x.is_empty())
}

fn clean_dir(d: &str) -> String {
    let d = d.trim().trim_start_matches("./").trim_matches('/');
    if d == "." {
        String::new()
    } else {
        d.to_string()
    }
}

/// `cd dir && rest` -> (dir, rest).
fn split_cd(cmd: &str) -> Option<(String, String)> {
    let rest = cmd.trim().strip_prefix("cd ")?;
    let (dir, tail) = rest.split_once("&&")?;
    let dir = dir.trim();
    if dir.contains(char::is_whitespace) || dir.starts_with('/') || dir.contains("..") {
        return None;
    }
    Some((clean_dir(dir), tail.trim().to_string()))
}

/// Fills in the directory and a command relative to it.
fn place(mut svc: Service, root_dir: Option<String>) -> Service {
    if let Some(d) = root_dir {
        svc.dir = clean_dir(&d);
    } else if let Some((dir, tail)) = svc.command.as_deref().and_then(split_cd) {
        svc.dir = dir;
        svc.command = Some(tail);
    } else if let Some(df) = &svc.dockerfile {
        let df = clean_dir(df);
        svc.dir = df.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
    }
    if let Some(c) = svc.command.take() {
        let prefix = format!("cd {} &&", svc.dir);
        svc.command = Some(c.strip_prefix(&prefix).map(|t| t.trim().to_string()).unwrap_or(c));
    }
    svc
}

fn render_kind(t: &str) -> Option<ServiceKind> {
    match t {
        "web" => Some(ServiceKind::Web),
        "worker" | "pserv" | "workflow" | "background_worker" => Some(ServiceKind::Worker),
        "cron" | "cron_job" => Some(ServiceKind::Job),
        "static" | "static_site" => Some(ServiceKind::Static),
        _ => None, // keyvalue, redis, databases
    }
}

fn render_services(doc: &Yaml, file: &str) -> Vec<Service> {
    let mut lists: Vec<&Yaml> = Vec::new();
    if let Some(list) = doc.get("services") {
        lists.push(list);
    }
    for project in doc.get("projects").and_then(Yaml::as_sequence).into_iter().flatten() {
        for env in project.get("environments").and_then(Yaml::as_sequence).into_iter().flatten() {
            if let Some(list) = env.get("services") {
                lists.push(list);
            }
        }
    }
    let mut out = Vec::new();
    for svc in lists.into_iter().filter_map(Yaml::as_sequence).flatten() {
        let Some(kind) = s(svc, "type").as_deref().and_then(render_kind) else { continue };
        let command = s(svc, "startCommand").or_else(|| s(svc, "dockerCommand"));
        let base = Service {
            name: s(svc, "name").unwrap_or_default(),
            dir: String::new(),
            kind,
            command,
            dockerfile: s(svc, "dockerfilePath"),
            file: file.to_string(),
            rule: "deploy.render_yaml",
        };
        out.push(place(base, s(svc, "rootDir")));
    }
    out
}

fn do_services(doc: &Yaml, file: &str) -> Vec<Service> {
    let spec = doc.get("spec").unwrap_or(doc);
    let mut out = Vec::new();
    for (key, kind) in [
        ("services", ServiceKind::Web),
        ("workers", ServiceKind::Worker),
        ("static_sites", ServiceKind::Static),
        ("jobs", ServiceKind::Job),
    ] {
        for svc in spec.get(key).and_then(Yaml::as_sequence).into_iter().flatten() {
            let base = Service {
                name: s(svc, "name").unwrap_or_default(),
                dir: String::new(),
                kind,
                command: s(svc, "run_command"),
                dockerfile: s(svc, "dockerfile_path"),
                file: file.to_string(),
                rule: "deploy.do_app_yaml",
            };
            out.push(place(base, s(svc, "source_dir")));
        }
    }
    out
}

fn toml_str<'a>(v: &'a toml::Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().map(str::trim).filter(|s| !s.is_empty())
}

fn single(name: &str, command: Option<&str>, file: &str, rule: &'static str) -> Vec<Service> {
    match command {
        Some(c) => vec![place(
            Service {
                name: name.to_string(),
                dir: String::new(),
                kind: ServiceKind::Web,
                command: Some(c.to_string()),
                dockerfile: None,
                file: file.to_string(),
                rule,
            },
            None,
        )],
        None => Vec::new(),
    }
}

/// The parsed document, or None with its warning kept (absent, unreadable or malformed).
fn keep<T>(read: Result<Option<T>, Warning>, warnings: &mut Vec<Warning>) -> Option<T> {
    read.unwrap_or_else(|w| {
        warnings.push(w);
        None
    })
}

/// Every service the deploy specs in `view`'s root declare, with warnings for specs that do
/// not parse.
pub fn read(view: &RepoView) -> (Vec<Service>, Vec<Warning>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let yaml = |file: &str, warnings: &mut Vec<Warning>| keep(read_yaml(view, file), warnings);
    let toml_doc = |file: &str, warnings: &mut Vec<Warning>| keep(read_toml(view, file), warnings);
    for f in ["render.yaml", "render.yml"] {
        if let Some(doc) = yaml(f, &mut warnings) {
            out.extend(render_services(&doc, f));
        }
    }
    for f in [".do/app.yaml", ".do/app.yml", ".do/deploy.template.yaml"] {
        if let Some(doc) = yaml(f, &mut warnings) {
            out.extend(do_services(&doc, f));
        }
    }
    if let Some(doc) = yaml("heroku.yml", &mut warnings) {
        if let Some(run) = doc.get("run").and_then(Yaml::as_mapping) {
            for (k, v) in run {
                let (Some(name), Some(cmd)) =
                    (k.as_str(), v.as_str().or_else(|| v.get("command").and_then(Yaml::as_str)))
                else {
                    continue;
                };
                let kind = if name == "web" { ServiceKind::Web } else { ServiceKind::Worker };
                out.push(Service {
                    name: name.to_string(),
                    dir: String::new(),
                    kind,
                    command: Some(cmd.trim().to_string()),
                    dockerfile: None,
                    file: "heroku.yml".into(),
                    rule: "deploy.heroku_yml",
                });
            }
        }
    }
    if let Some(doc) = toml_doc("fly.toml", &mut warnings) {
        if let Some(procs) = doc.get("processes").and_then(toml::Value::as_table) {
            for (name, cmd) in procs {
                if let Some(cmd) = cmd.as_str() {
                    let kind = if name == "app" || name == "web" { ServiceKind::Web } else { ServiceKind::Worker };
                    out.push(Service {
                        name: if name == "app" { "web".into() } else { name.clone() },
                        dir: String::new(),
                        kind,
                        command: Some(cmd.trim().to_string()),
                        dockerfile: None,
                        file: "fly.toml".into(),
                        rule: "deploy.fly_toml",
                    });
                }
            }
        } else {
            out.extend(single("web", toml_str(&doc, &["experimental", "cmd"]), "fly.toml", "deploy.fly_toml"));
        }
    }
    if let Some(doc) = toml_doc("railway.toml", &mut warnings) {
        out.extend(single("web", toml_str(&doc, &["deploy", "startCommand"]), "railway.toml", "deploy.railway"));
    }
    if let Some(doc) = keep(read_json(view, "railway.json"), &mut warnings) {
        let cmd = doc.pointer("/deploy/startCommand").and_then(|v| v.as_str()).map(str::trim);
        out.extend(single("web", cmd.filter(|c| !c.is_empty()), "railway.json", "deploy.railway"));
    }
    if let Some(doc) = toml_doc("nixpacks.toml", &mut warnings) {
        out.extend(single("web", toml_str(&doc, &["start", "cmd"]), "nixpacks.toml", "deploy.nixpacks_toml"));
    }
    // Commands that only wrap another file's (`heroku local`, foreman) say nothing.
    out.retain(|svc| {
        svc.command
            .as_deref()
            .and_then(command::process_key)
            .is_none_or(|k| !matches!(k.program.as_str(), "foreman" | "nf"))
    });
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_services_with_dirs() {
        let v = RepoView::from_memory([(
            "render.yaml",
            "services:\n- type: web\n  name: d\n  startCommand: cd dashboard && npm start\n- type: workflow\n  name: w\n  rootDir: workflows\n- type: cron\n  name: c\n  startCommand: cd trigger && python t.py\n- type: redis\n  name: r\n",
        )]);
        let (svcs, w) = read(&v);
        assert!(w.is_empty());
        let got: Vec<_> = svcs.iter().map(|s| (s.dir.as_str(), s.kind, s.command.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("dashboard", ServiceKind::Web, Some("npm start")),
                ("workflows", ServiceKind::Worker, None),
                ("trigger", ServiceKind::Job, Some("python t.py")),
            ]
        );
    }

    #[test]
    fn do_app_spec() {
        let v = RepoView::from_memory([(
            ".do/app.yaml",
            "services:\n- name: api\n  source_dir: api\nworkers:\n- name: w\n  source_dir: worker\n  run_command: sh -c \"x\"\n",
        )]);
        let (svcs, _) = read(&v);
        assert_eq!(svcs.len(), 2);
        assert_eq!(svcs[1].command.as_deref(), Some("sh -c \"x\""));
        assert_eq!(svcs[1].kind, ServiceKind::Worker);
    }

    #[test]
    fn malformed_specs_warn() {
        let v = RepoView::from_memory([("fly.toml", "[[[nope"), ("render.yaml", "services: [")]);
        let (svcs, w) = read(&v);
        assert!(svcs.is_empty());
        assert_eq!(w.len(), 2);
    }
}
