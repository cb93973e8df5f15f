//! Renderings for the pipeline, as a user runs them (the built binary, from the crate root so
//! that locations are stable), parsed back and checked against the plan the scanner gives for
//! the same source, plus snapshots of a few.
//!
//! Update snapshots with `INSTA_UPDATE=always cargo test --test it render` and review the diff.

use repo_scanner::output::render::{self, with_port};
use repo_scanner::plan::{Plan, ProcessSource, Strategy};
use serde::Deserialize;
use serde_norway::Value;

use crate::support::{self, Run};

fn run(args: &[&str]) -> Run {
    support::output(support::bin().args(args).current_dir(env!("CARGO_MANIFEST_DIR")))
}

fn ok(args: &[&str]) -> String {
    let r = run(args);
    assert_eq!(r.code, Some(0), "{args:?} failed: {}", r.stderr);
    r.stdout
}

fn plan(fixture: &str) -> Plan {
    let out = ok(&["scan", &format!("fixtures/{fixture}")]);
    serde_json::from_str(&out).expect("the plan is JSON")
}

fn rendered(fixture: &str, target: &str) -> String {
    ok(&["render", &format!("fixtures/{fixture}"), "--target", target])
}

/// Every YAML document of a rendering.
fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}")))
        .collect()
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_str().unwrap_or_else(|| panic!("{path:?} is not a string in {v:?}"))
}

/// A Kamal document against one app of the plan.
fn check_kamal(doc: &Value, app: &Plan, image: &str) {
    assert_eq!(format!("ghcr.io/{}", str_of(doc, &["image"])), image, "{doc:?}");
    assert_eq!(str_of(doc, &["registry", "server"]), "ghcr.io");
    let servers = doc["servers"].as_mapping().expect("servers");
    let roles: Vec<&str> = servers.keys().filter_map(|k| k.as_str()).collect();
    let kinds: Vec<&str> = app.processes.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(roles, kinds, "one role per process type");
    for p in &app.processes {
        let role = &servers[p.kind.as_str()];
        assert!(role["hosts"].as_sequence().is_some_and(|h| !h.is_empty()), "{role:?}");
        if p.source == ProcessSource::Dockerfile {
            assert!(role.get("cmd").is_none(), "the image's own CMD runs: {role:?}");
        } else {
            assert_eq!(str_of(role, &["cmd"]), with_port(&p.command, 8080), "{role:?}");
            assert!(!str_of(role, &["cmd"]).contains("$PORT"), "no shell has to expand $PORT");
        }
        if p.kind != "web" && app.process("web").is_some() {
            assert_eq!(role["proxy"].as_bool(), Some(false), "only web is behind the proxy: {role:?}");
        }
    }
    assert_eq!(str_of(doc, &["env", "clear", "PORT"]), "8080");
    if app.process("web").is_some() {
        assert_eq!(doc["proxy"]["app_port"].as_u64(), Some(8080), "app_port = PORT");
        let path = str_of(doc, &["proxy", "healthcheck", "path"]);
        assert!(path.starts_with('/'), "{path}");
    }
}

#[test]
fn kamal_has_one_role_per_process_type() {
    for fixture in ["python-celery-beat", "ruby-sidekiq", "python-django", "dockerfile-cmd", "procfile-hardcoded-port"]
    {
        let plan = plan(fixture);
        let docs = documents(&rendered(fixture, "kamal"));
        assert_eq!(docs.len(), 1, "{fixture}");
        check_kamal(&docs[0], &plan, &format!("ghcr.io/your-org/{fixture}"));
    }
    let docs = documents(&rendered("ruby-rails", "kamal"));
    assert_eq!(str_of(&docs[0], &["proxy", "healthcheck", "path"]), "/up", "Rails answers /up");
}

#[test]
fn kamal_flags_set_image_hosts_port_and_health_path() {
    let out = ok(&[
        "render",
        "fixtures/python-celery-beat",
        "--target",
        "kamal",
        "--image",
        "registry.example.com:5000/team/app",
        "--host",
        "10.0.0.1",
        "--host",
        "10.0.0.2",
        "--port",
        "3000",
        "--healthcheck-path",
        "/healthz",
    ]);
    let doc = &documents(&out)[0];
    assert_eq!(str_of(doc, &["registry", "server"]), "registry.example.com:5000");
    assert_eq!(str_of(doc, &["image"]), "team/app");
    assert_eq!(doc["proxy"]["app_port"].as_u64(), Some(3000));
    assert_eq!(str_of(doc, &["proxy", "healthcheck", "path"]), "/healthz");
    assert_eq!(str_of(doc, &["env", "clear", "PORT"]), "3000");
    assert_eq!(str_of(doc, &["servers", "web", "cmd"]), "gunicorn app:app --bind 0.0.0.0:3000");
    let hosts: Vec<&str> =
        doc["servers"]["worker"]["hosts"].as_sequence().expect("hosts").iter().filter_map(|h| h.as_str()).collect();
    assert_eq!(hosts, ["10.0.0.1", "10.0.0.2"]);
}

#[test]
fn monorepos_render_one_entry_per_app() {
    let plan = plan("monorepo-services");
    assert!(plan.apps.len() >= 2, "{plan:#?}");
    let docs = documents(&rendered("monorepo-services", "kamal"));
    assert_eq!(docs.len(), plan.apps.len());
    let options = render::RenderOptions::default();
    for (doc, app) in docs.iter().zip(render::apps(&plan, &options)) {
        check_kamal(doc, app.plan, &app.image);
        assert_eq!(str_of(doc, &["service"]), app.name);
    }
    let workflow = &documents(&rendered("monorepo-services", "github-actions"))[0];
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    assert_eq!(jobs.len(), plan.apps.len(), "one job per app");
    let pack = rendered("monorepo-services", "pack");
    assert_eq!(pack.lines().filter(|l| l.starts_with("pack build ")).count(), plan.apps.len(), "{pack}");
    for app in &plan.apps {
        assert!(pack.contains(&format!("--path {}", app.subdir)), "{pack}");
    }
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_sequence().expect("steps")
}

fn step_using<'a>(job: &'a Value, action: &str) -> &'a Value {
    steps(job)
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .unwrap_or_else(|| panic!("no step uses {action}: {job:?}"))
}

#[test]
fn github_actions_builds_with_pack_and_pushes_to_ghcr() {
    let plan = plan("node-engines-nvmrc");
    assert_eq!(plan.strategy, Strategy::Buildpacks);
    let wf = &documents(&rendered("node-engines-nvmrc", "github-actions"))[0];
    assert_eq!(str_of(wf, &["permissions", "packages"]), "write");
    let job = &wf["jobs"]["build"];
    let login = step_using(job, "docker/login-action");
    assert_eq!(str_of(login, &["with", "registry"]), "ghcr.io");
    assert_eq!(str_of(login, &["with", "password"]), "${{ secrets.GITHUB_TOKEN }}");
    step_using(job, "buildpacks/github-actions/setup-pack");
    let build = steps(job).iter().find_map(|s| s["run"].as_str().filter(|r| r.contains("pack build"))).expect("pack");
    let builder = &plan.buildpack.as_ref().expect("buildpack").builder;
    assert!(build.contains(&format!("--builder {builder}")), "{build}");
    assert!(build.contains("--publish") && build.contains("--cache-image \"$IMAGE:build-cache\""), "{build}");
    let version = plan.language.as_ref().and_then(|l| l.version.clone()).expect("a node version");
    assert!(build.contains(&format!("'BP_NODE_VERSION={version}'")), "{build}");
    let image = steps(job).iter().find_map(|s| s["run"].as_str().filter(|r| r.contains("IMAGE="))).expect("image");
    assert!(image.contains("ghcr.io/${GITHUB_REPOSITORY,,}"), "{image}");
}

#[test]
fn github_actions_builds_with_docker_and_caches_layers() {
    let plan = plan("dockerfile-cmd");
    let wf = &documents(&rendered("dockerfile-cmd", "github-actions"))[0];
    let job = &wf["jobs"]["build"];
    let build = step_using(job, "docker/build-push-action");
    assert_eq!(build["with"]["push"].as_bool(), Some(true));
    assert_eq!(str_of(build, &["with", "file"]), plan.dockerfile.as_deref().expect("dockerfile"));
    assert!(str_of(build, &["with", "tags"]).contains("${{ env.IMAGE }}:latest"));
    assert!(str_of(build, &["with", "cache-from"]).starts_with("type=gha"));
    assert!(str_of(build, &["with", "cache-to"]).contains("mode=max"));
    step_using(job, "docker/setup-buildx-action");
}

#[test]
fn pack_and_docker_commands() {
    let pack = rendered("go-module", "pack");
    assert!(pack.contains("pack build ghcr.io/your-org/go-module"), "{pack}");
    assert!(pack.contains("--builder paketobuildpacks/builder-jammy-full"), "{pack}");
    let version = plan("go-module").language.and_then(|l| l.version).expect("a go version");
    assert!(pack.contains(&format!("--env BP_GO_VERSION={version}")), "{pack}");
    let docker = ok(&["render", "fixtures/dockerfile-cmd", "--target", "docker", "--image", "me/app"]);
    assert!(docker.contains("docker build --file Dockerfile --tag me/app .\n"), "{docker}");
    // A target that does not fit the plan is one clear error.
    let r = run(&["render", "fixtures/dockerfile-cmd", "--target", "pack"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("--target docker"), "{}", r.stderr);
    let r = run(&["render", "fixtures/elixir-phoenix", "--target", "kamal"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("unsupported"), "{}", r.stderr);
}

#[test]
fn snapshots() {
    for (fixture, target) in [
        ("python-celery-beat", "kamal"),
        ("monorepo-services", "kamal"),
        ("node-engines-nvmrc", "github-actions"),
        ("dockerfile-cmd", "github-actions"),
        ("monorepo-services", "pack"),
        ("python-runtime-txt", "pack"),
    ] {
        insta::assert_snapshot!(format!("render__{fixture}__{target}"), rendered(fixture, target));
    }
    for fixture in ["python-celery-beat", "procfile-hardcoded-port"] {
        insta::assert_snapshot!(format!("procfile__{fixture}"), ok(&["procfile", &format!("fixtures/{fixture}")]));
        insta::assert_snapshot!(
            format!("procfile__{fixture}__patch"),
            ok(&["procfile", &format!("fixtures/{fixture}"), "--patch"])
        );
    }
}
