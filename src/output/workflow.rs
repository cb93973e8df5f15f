//! The GitHub Actions workflow: per app, build the image and push it under the commit's sha,
//! boot-check it, and only then push `latest`.
//!
//! Written to pass zizmor with its default policy: no workflow-wide permissions, each job
//! asks for what it uses; the checkout keeps no credentials; the one action used is pinned by
//! commit sha (or, with `pin_actions` off, by its current major tag); everything else is a
//! `run:` step (the registry login reads the token from the environment, pack is a release
//! download), and no repository text reaches a `run:` unescaped as a GitHub expression.
//!
//! The boot check is what a deploy would find out too late: the image carries the `service`
//! label Kamal checks, its web process answers HTTP on `$PORT` within the time allowed, and
//! each other process stays up for that long.

use serde_norway::{Mapping, Value};

use super::render::{
    app_port, apps, docker_args, map, pack_args, procfile_path, procfile_to_write, provenance, s, service_name,
    sh_quote, skip_reason, to_yaml, App, RenderError, RenderOptions, Target,
};
use crate::plan::{Plan, ProcessSource, Strategy};

/// actions/checkout: the current major, and the commit of its release.
pub const CHECKOUT: (&str, &str, &str) = ("actions/checkout", "v6", "8e8c483db84b4bee98b60c0593521ed34d9990e8");
const CHECKOUT_RELEASE: &str = "v6.0.1";

/// The pack release installed: 0.39 negotiates the Docker API version, which Docker 29's
/// minimum (1.44) requires (buildpacks/pack#2474; 0.38 sends 1.38 and is refused).
pub const PACK_VERSION: &str = "0.39.1";

/// Text from the repository inside a workflow value: `${{` would be a GitHub expression
/// (zizmor's template-injection), so it is written as an expression that yields `${{`.
fn gh_escape(text: &str) -> String {
    text.replace("${{", "${{ '${{' }}")
}

fn checkout(options: &RenderOptions) -> Value {
    let (action, major, sha) = CHECKOUT;
    let uses = if options.pin_actions { format!("{action}@{sha}") } else { format!("{action}@{major}") };
    map([("name", s("Check out")), ("uses", s(uses)), ("with", map([("persist-credentials", Value::Bool(false))]))])
}

fn step(name: &str, run: String) -> Value {
    map([("name", s(name)), ("run", s(run))])
}

/// How the boot check starts process `kind` (docker run arguments after the options).
fn run_args(app: &App<'_>, kind: &str, command: &str, source: ProcessSource) -> (String, String) {
    match app.plan.strategy {
        Strategy::Buildpacks => (format!("--entrypoint /cnb/process/{kind} "), String::new()),
        _ if source == ProcessSource::Dockerfile => (String::new(), String::new()),
        _ => (String::new(), format!(" /bin/sh -c {}", gh_escape(&sh_quote(command)))),
    }
}

/// The boot check script for one app.
fn boot_check(app: &App<'_>) -> String {
    let mut script = format!(
        "image=\"$IMAGE:$GITHUB_SHA\"\n\
         docker pull --quiet \"$image\"\n\
         label=$(docker inspect --format '{{{{ index .Config.Labels \"service\" }}}}' \"$image\")\n\
         if [ \"$label\" != {service} ]; then\n  \
           echo \"::error::the image lacks the label service={service} that Kamal checks (found '$label')\"\n  exit 1\nfi\n\
         fail() {{ echo \"::error::$1\"; docker logs \"$2\" || true; docker rm -f \"$2\" >/dev/null; exit 1; }}\n",
        service = sh_quote(&service_name(app)),
    );
    let mut processes: Vec<(String, String, ProcessSource)> =
        app.plan.processes.iter().map(|p| (p.kind.clone(), p.command.to_string(), p.source)).collect();
    if processes.is_empty() {
        processes.push(("web".into(), String::new(), ProcessSource::Dockerfile));
    }
    for (kind, command, source) in &processes {
        let (entry, cmd) = run_args(app, kind, command, *source);
        if kind == "web" {
            script.push_str(&format!(
                "# web: answers HTTP on $PORT (any status) within $BOOT_SECONDS s\n\
                 cid=$(docker run --detach --env PORT=\"$PORT\" --publish \"127.0.0.1:$PORT:$PORT\" {entry}\"$image\"{cmd})\n\
                 up=\n\
                 for _ in $(seq \"$BOOT_SECONDS\"); do\n  \
                   if curl --silent --output /dev/null --max-time 2 \"http://127.0.0.1:$PORT/\"; then up=1; break; fi\n  \
                   [ \"$(docker inspect --format '{{{{.State.Running}}}}' \"$cid\")\" = true ] || fail \"web exited during the boot check\" \"$cid\"\n  \
                   sleep 1\n\
                 done\n\
                 [ -n \"$up\" ] || fail \"web did not answer on port $PORT within $BOOT_SECONDS s\" \"$cid\"\n\
                 docker rm -f \"$cid\" >/dev/null\n"
            ));
        } else {
            script.push_str(&format!(
                "# {kind}: stays up for $BOOT_SECONDS s\n\
                 cid=$(docker run --detach --env PORT=\"$PORT\" {entry}\"$image\"{cmd})\n\
                 sleep \"$BOOT_SECONDS\"\n\
                 [ \"$(docker inspect --format '{{{{.State.Running}}}}' \"$cid\")\" = true ] || fail \"{kind} exited within $BOOT_SECONDS s\" \"$cid\"\n\
                 docker rm -f \"$cid\" >/dev/null\n"
            ));
        }
    }
    script
}

fn job(app: &App<'_>, several: bool, options: &RenderOptions) -> Vec<Value> {
    let mut steps = vec![checkout(options)];
    if options.image.is_none() {
        // GHCR names are lower case; github.repository need not be.
        let suffix = if several { format!("/{}", app.name) } else { String::new() };
        steps.push(step(
            "Image name",
            format!("echo \"IMAGE=ghcr.io/${{GITHUB_REPOSITORY,,}}{suffix}\" >> \"$GITHUB_ENV\"\n"),
        ));
    }
    steps.push(map([
        ("name", s("Log in to GHCR")),
        ("env", map([("REGISTRY_TOKEN", s("${{ secrets.GITHUB_TOKEN }}"))])),
        (
            "run",
            s("printf '%s' \"$REGISTRY_TOKEN\" | docker login ghcr.io --username \"$GITHUB_ACTOR\" --password-stdin\n"),
        ),
    ]));
    match app.plan.strategy {
        Strategy::Buildpacks => {
            steps.push(step(
                "Install pack",
                "curl --fail --silent --show-error --location \\\n  \"https://github.com/buildpacks/pack/releases/download/v${PACK_VERSION}/pack-v${PACK_VERSION}-linux.tgz\" \\\n  | sudo tar -xz -C /usr/local/bin pack\npack --version\n".to_string(),
            ));
            if let Some(procfile) = procfile_to_write(app.plan) {
                steps.push(step(
                    "Write the Procfile (the image's process types; the repository has none)",
                    gh_escape(&format!("cat > {} <<'PROCFILE'\n{procfile}PROCFILE\n", sh_quote(&procfile_path(app)))),
                ));
            }
            let mut lines = vec!["pack build \"$IMAGE:$GITHUB_SHA\"".to_string()];
            lines.extend(pack_args(app).into_iter().map(|a| format!("  {}", gh_escape(&a))));
            lines.push("  --cache-image \"$IMAGE:build-cache\"".into());
            lines.push("  --publish".into());
            steps.push(step(
                "Build and push the commit's image (pack; layer cache in the registry)",
                lines.join(" \\\n") + "\n",
            ));
        }
        _ => {
            let file = app.plan.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
            let mut lines = [
                format!("docker buildx build --file {}", gh_escape(&sh_quote(&file))),
                docker_args(app).join(" "),
                "--tag \"$IMAGE:$GITHUB_SHA\"".into(),
                "--cache-from \"type=registry,ref=$IMAGE:build-cache\"".into(),
                "--cache-to \"type=registry,ref=$IMAGE:build-cache,mode=max\"".into(),
                "--push".into(),
                sh_quote(&app.context),
            ];
            for l in lines.iter_mut().skip(1) {
                *l = format!("  {}", gh_escape(l));
            }
            let run = format!("docker buildx create --use --driver docker-container\n{}\n", lines.join(" \\\n"));
            steps.push(step("Build and push the commit's image (docker; layer cache in the registry)", run));
        }
    }
    steps.push(step("Boot check: the label Kamal checks, web answers on $PORT, workers stay up", boot_check(app)));
    steps.push(step(
        "Push latest (only after the boot check)",
        "docker tag \"$IMAGE:$GITHUB_SHA\" \"$IMAGE:latest\"\ndocker push --quiet \"$IMAGE:latest\"\n".to_string(),
    ));
    steps
}

pub fn render(plan: &Plan, options: &RenderOptions) -> Result<String, RenderError> {
    let all = apps(plan, options);
    let several = all.len() > 1;
    let mut jobs = Mapping::new();
    let mut reasons = Vec::new();
    for app in &all {
        if let Some(reason) = skip_reason(app, Target::GithubActions) {
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        let mut env = Mapping::new();
        if options.image.is_some() {
            env.insert(s("IMAGE"), s(app.image.clone()));
        }
        if app.plan.strategy == Strategy::Buildpacks {
            env.insert(s("PACK_VERSION"), s(PACK_VERSION));
        }
        env.insert(s("PORT"), s(app_port(app, options).to_string()));
        env.insert(s("BOOT_SECONDS"), s(options.boot_seconds.to_string()));
        let job_id = if several { format!("build-{}", service_name(app)) } else { "build".to_string() };
        jobs.insert(
            s(job_id),
            map([
                ("name", s(format!("Build {}", app.name))),
                ("runs-on", s("ubuntu-latest")),
                ("permissions", map([("contents", s("read")), ("packages", s("write"))])),
                ("env", Value::Mapping(env)),
                ("steps", Value::Sequence(job(app, several, options))),
            ]),
        );
    }
    if jobs.is_empty() {
        return Err(RenderError::Nothing { target: "github-actions", reason: reasons.join("; ") });
    }
    let workflow = map([
        ("name", s("Build, boot-check and push the image")),
        (
            "on",
            map([
                ("push", map([("branches", Value::Sequence(vec![s("main")]))])),
                ("workflow_dispatch", Value::Mapping(Mapping::new())),
            ]),
        ),
        ("permissions", Value::Mapping(Mapping::new())),
        ("jobs", Value::Mapping(jobs)),
    ]);
    let mut out = format!(
        "# .github/workflows/{}.yml, generated by repo-scanner from {}\n\
         # Builds the image, pushes it as :<sha>, boot-checks it, then pushes :latest.\n",
        options.workflow_name,
        provenance(plan)
    );
    if options.pin_actions {
        out.push_str(&format!("# {} is pinned to the commit of {CHECKOUT_RELEASE}.\n", CHECKOUT.0));
    }
    for r in reasons {
        out.push_str(&format!("# not built: {}\n", super::render::comment(&r)));
    }
    out.push_str(&to_yaml(&workflow)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Process, ProcfileInfo};
    use crate::view::RepoView;

    #[test]
    fn repository_text_never_becomes_a_github_expression() {
        assert_eq!(gh_escape("echo ${{ secrets.X }}"), "echo ${{ '${{' }} secrets.X }}");
        let view = RepoView::from_memory([("requirements.txt", "flask\n")]);
        let source = crate::plan::Source {
            kind: crate::plan::SourceKind::Dir,
            location: "x".into(),
            git_ref: None,
            commit: None,
        };
        let mut plan = crate::scan::scan(&view, source);
        plan.procfile = ProcfileInfo { path: None, suggested: None };
        let app = crate::admit::App { view: &view, language: None, kind: "web", dockerfile: false };
        // A Procfile line is admitted as stated (never rewritten), whatever it holds.
        let command = crate::admit::SafeCommand::admit(
            "gunicorn app:app --bind 0.0.0.0:$PORT # ${{ secrets.TOKEN }}",
            ProcessSource::Procfile,
            &app,
        )
        .expect("a stated command is admitted");
        plan.processes = vec![Process {
            kind: "web".into(),
            command,
            source: ProcessSource::Rule,
            confidence: 0.9,
            evidence: Vec::new(),
        }];
        let text = render(&plan, &RenderOptions::default()).expect("renders");
        assert!(!text.contains("${{ secrets.TOKEN"), "{text}");
        assert!(text.contains("${{ '${{' }} secrets.TOKEN }}"), "{text}");
    }
}
