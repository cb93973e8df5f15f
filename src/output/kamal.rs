//! The Kamal 2 deploy file of each app: one role per process type, all from the same image.
//!
//! What Kamal does with it (../shared/kamal): it pulls the image and refuses it unless the
//! label `service` equals `service:` (the builds in [`super::render`] set it); it hands a
//! role's `cmd` to the deploy host's shell unescaped, so a buildpacks image's roles name the
//! CNB launcher's process (`/cnb/process/<type>`) as the entrypoint and pass no command, and
//! a Dockerfile image's command is one single-quoted argument to the image's own shell; the
//! primary role runs behind kamal-proxy unless `proxy: false`, so a worker-only app says so.

use std::path::PathBuf;

use serde_norway::{Mapping, Value};

use super::render::{
    app_label, app_port, apps, map, procfile_to_write, provenance, s, service_name, sh_quote, skip_reason, to_yaml,
    App, RenderError, RenderOptions, Target,
};
use crate::plan::{ProcessSource, Strategy};

/// kamal-proxy's own default health check path, and what Rails 7.1+ answers.
pub const DEFAULT_HEALTHCHECK_PATH: &str = "/up";

/// The health check path: `--healthcheck-path`, else `/up` (Rails' route, kamal-proxy's default).
fn healthcheck_path(options: &RenderOptions) -> String {
    options.healthcheck_path.clone().unwrap_or_else(|| DEFAULT_HEALTHCHECK_PATH.to_string())
}

/// `(server, image without server)` for Kamal's `registry.server` and `image`.
fn split_registry(image: &str) -> (Option<String>, String) {
    match image.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            (Some(host.to_string()), rest.to_string())
        }
        _ => (None, image.to_string()),
    }
}

/// The role's entrypoint and command for process `kind` running `command`.
fn role_run(app: &App<'_>, kind: &str, command: &str, source: ProcessSource) -> Vec<(&'static str, Value)> {
    match app.plan.strategy {
        // The launcher runs the process type; nothing for the host's shell to parse.
        Strategy::Buildpacks => vec![("options", map([("entrypoint", s(format!("/cnb/process/{kind}")))]))],
        // The image's CMD is the Dockerfile's own: nothing to override.
        _ if source == ProcessSource::Dockerfile => Vec::new(),
        // One single-quoted argument: the host's shell passes it whole, the image's expands it.
        _ => vec![("cmd", s(format!("/bin/sh -c {}", sh_quote(command))))],
    }
}

fn document(app: &App<'_>, options: &RenderOptions) -> Value {
    let port = app_port(app, options);
    let hosts: Vec<Value> = if options.hosts.is_empty() {
        vec![s("192.0.2.1")]
    } else {
        options.hosts.iter().map(|h| s(h.clone())).collect()
    };
    let has_web = app.plan.process("web").is_some();
    let primary =
        if has_web || app.plan.processes.is_empty() { "web".to_string() } else { app.plan.processes[0].kind.clone() };
    let mut servers = Mapping::new();
    for p in &app.plan.processes {
        let mut role = Mapping::new();
        role.insert(s("hosts"), Value::Sequence(hosts.clone()));
        for (k, v) in role_run(app, &p.kind, &p.command, p.source) {
            role.insert(s(k), v);
        }
        if p.kind == primary && !has_web {
            // The primary role gets a proxy unless told otherwise; a worker answers no HTTP.
            role.insert(s("proxy"), Value::Bool(false));
        }
        servers.insert(s(p.kind.clone()), Value::Mapping(role));
    }
    if servers.is_empty() {
        // No process known: the image's default process as the web role.
        servers.insert(s("web"), map([("hosts", Value::Sequence(hosts.clone()))]));
    }
    let (server, image) = split_registry(&app.image);
    let owner = image.split('/').next().unwrap_or("your-org").to_string();
    let mut doc = Mapping::new();
    doc.insert(s("service"), s(service_name(app)));
    doc.insert(s("image"), s(image));
    doc.insert(s("servers"), Value::Mapping(servers));
    if primary != "web" {
        doc.insert(s("primary_role"), s(primary));
    }
    if has_web || app.plan.processes.is_empty() {
        doc.insert(
            s("proxy"),
            map([
                ("app_port", Value::Number(port.into())),
                ("healthcheck", map([("path", s(healthcheck_path(options)))])),
            ]),
        );
    }
    doc.insert(s("env"), map([("clear", map([("PORT", s(port.to_string()))]))]));
    let mut registry = Mapping::new();
    if let Some(server) = server {
        registry.insert(s("server"), s(server));
    }
    registry.insert(s("username"), s(owner));
    registry.insert(s("password"), Value::Sequence(vec![s("KAMAL_REGISTRY_PASSWORD")]));
    doc.insert(s("registry"), Value::Mapping(registry));
    doc.insert(s("builder"), builder(app));
    Value::Mapping(doc)
}

/// `builder:` as Kamal builds the same image itself (it adds the `service` label either way):
/// pack with the plan's group and variables, or the app's Dockerfile.
fn builder(app: &App<'_>) -> Value {
    let mut b = Mapping::new();
    b.insert(s("arch"), Value::Sequence(vec![s("amd64")]));
    if app.context != "." {
        b.insert(s("context"), s(app.context.clone()));
    }
    match (&app.plan.strategy, &app.plan.buildpack) {
        (Strategy::Buildpacks, Some(bp)) => {
            let mut buildpacks = app.plan.build.extra_buildpacks.clone();
            if buildpacks.is_empty() {
                buildpacks.push(bp.group.clone());
            }
            b.insert(
                s("pack"),
                map([
                    ("builder", s(bp.builder.clone())),
                    ("buildpacks", Value::Sequence(buildpacks.into_iter().map(s).collect())),
                ]),
            );
            if !app.plan.build.env.is_empty() {
                let mut args = Mapping::new();
                for (k, v) in &app.plan.build.env {
                    args.insert(s(k.clone()), s(v.clone()));
                }
                b.insert(s("args"), Value::Mapping(args));
            }
        }
        _ => {
            let file = app.plan.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
            let rel = match app.context.as_str() {
                "." => file,
                ctx => file.strip_prefix(&format!("{ctx}/")).map(str::to_string).unwrap_or(file),
            };
            b.insert(s("dockerfile"), s(rel));
        }
    }
    Value::Mapping(b)
}

/// One file per app: `config/deploy.yml`, or `config/deploy.<service>.yml` for each app of a
/// monorepo (`kamal deploy -d <service>`).
pub fn render(plan: &crate::plan::Plan, options: &RenderOptions) -> Result<Vec<(PathBuf, String)>, RenderError> {
    let all = apps(plan, options);
    let several = all.len() > 1;
    let mut files = Vec::new();
    let mut reasons = Vec::new();
    for app in &all {
        if let Some(reason) = skip_reason(app, Target::Kamal) {
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        let port = app_port(app, options);
        let mut text = format!(
            "# Kamal deploy file generated by repo-scanner from {}\n# {}: one role per process type, all from the same image, which carries the label\n# service={} (Kamal checks it after the pull). The image listens on PORT={port}.\n",
            provenance(plan),
            app_label(app),
            service_name(app),
        );
        if app.plan.strategy == Strategy::Buildpacks {
            text.push_str("# Roles run the image's process types through the CNB launcher (/cnb/process/<type>).\n");
        }
        if let Some(procfile) = procfile_to_write(app.plan) {
            // `kamal build` packs the context as it is: without these lines the roles have no process.
            text.push_str(
                "# The repository has no Procfile: the build context needs this one (the workflow writes it):\n",
            );
            for line in procfile.lines() {
                text.push_str(&format!("#   {}\n", super::render::comment(line)));
            }
        }
        text.push_str("# Replace the hosts; check the health check path.\n");
        text.push_str(&to_yaml(&document(app, options))?);
        let name =
            if several { format!("config/deploy.{}.yml", service_name(app)) } else { "config/deploy.yml".into() };
        files.push((PathBuf::from(name), text));
    }
    if files.is_empty() {
        return Err(RenderError::Nothing { target: "kamal", reason: reasons.join("; ") });
    }
    Ok(files)
}
