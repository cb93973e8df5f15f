//! Renderings for the pipeline, as a user runs them (the built binary, from the crate root so
//! that locations are stable), parsed back and checked against the plan the scanner gives for
//! the same source, plus snapshots of a few.
//!
//! Update snapshots with `INSTA_UPDATE=always cargo test --test it render` and review the diff.

use repo_scanner::output::render;
use repo_scanner::plan::{Plan, ProcessSource, Status, Strategy, WarningCode};
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
        match app.strategy {
            Strategy::Buildpacks => {
                assert_eq!(str_of(role, &["options", "entrypoint"]), format!("/cnb/process/{}", p.kind));
                assert!(role.get("cmd").is_none(), "the launcher runs the process type: {role:?}");
            }
            _ if p.source == ProcessSource::Dockerfile => {
                assert!(role.get("cmd").is_none(), "the image's own CMD runs: {role:?}")
            }
            _ => {
                let cmd = str_of(role, &["cmd"]);
                let words = shell_words(cmd);
                assert_eq!(words, ["/bin/sh", "-c", p.command.as_str()], "one quoted argument: {cmd}");
            }
        }
    }
    let port = str_of(doc, &["env", "clear", "PORT"]);
    if app.process("web").is_some() {
        assert_eq!(doc["proxy"]["app_port"].as_u64().map(|p| p.to_string()).as_deref(), Some(port), "app_port = PORT");
        assert_eq!(str_of(doc, &["proxy", "healthcheck", "path"]), "/up");
        assert!(doc.get("primary_role").is_none());
    } else if let Some(first) = app.processes.first() {
        assert_eq!(str_of(doc, &["primary_role"]), first.kind);
        assert_eq!(servers[first.kind.as_str()]["proxy"].as_bool(), Some(false), "a worker has no proxy");
        assert!(doc.get("proxy").is_none());
    }
}

/// The words a POSIX shell makes of `line` (quotes only; enough for what renderings write).
fn shell_words(line: &str) -> Vec<String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import shlex,sys,json; print(json.dumps(shlex.split(sys.argv[1])))", line])
        .output()
        .expect("python3");
    serde_json::from_slice(&out.stdout).expect("shlex output")
}

#[test]
fn kamal_has_one_role_per_process_type() {
    for fixture in ["python-celery-beat", "ruby-sidekiq", "python-django", "dockerfile-cmd", "dockerfile-and-procfile"]
    {
        let plan = plan(fixture);
        let docs = documents(&rendered(fixture, "kamal"));
        assert_eq!(docs.len(), 1, "{fixture}");
        check_kamal(&docs[0], &plan, &format!("ghcr.io/your-org/{fixture}"));
        assert_eq!(str_of(&docs[0], &["service"]), fixture);
    }
}

#[test]
fn kamal_for_a_worker_only_app_has_no_proxy() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("requirements.txt"), "celery\n").expect("write");
    std::fs::write(dir.path().join("Procfile"), "worker: celery -A proj worker\n").expect("write");
    let path = dir.path().to_str().expect("utf-8 path");
    let out = ok(&["render", path, "--target", "kamal"]);
    let doc = &documents(&out)[0];
    assert_eq!(str_of(doc, &["primary_role"]), "worker");
    assert_eq!(doc["servers"]["worker"]["proxy"].as_bool(), Some(false));
    assert!(doc.get("proxy").is_none(), "{out}");
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
    let hosts: Vec<&str> =
        doc["servers"]["worker"]["hosts"].as_sequence().expect("hosts").iter().filter_map(|h| h.as_str()).collect();
    assert_eq!(hosts, ["10.0.0.1", "10.0.0.2"]);
}

#[test]
fn a_dockerfile_image_is_proxied_on_its_exposed_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), "FROM python:3.12\nEXPOSE 8000/tcp\nCMD [\"python\", \"app.py\"]\n")
        .expect("write");
    std::fs::write(dir.path().join("Procfile"), "web: gunicorn app:app --bind 0.0.0.0:${PORT:-8000} && echo done\n")
        .expect("write");
    let path = dir.path().to_str().expect("utf-8 path");
    let doc = &documents(&ok(&["render", path, "--target", "kamal"]))[0];
    assert_eq!(doc["proxy"]["app_port"].as_u64(), Some(8000));
    assert_eq!(str_of(doc, &["env", "clear", "PORT"]), "8000");
    let cmd = str_of(doc, &["servers", "web", "cmd"]);
    assert_eq!(shell_words(cmd), ["/bin/sh", "-c", "gunicorn app:app --bind 0.0.0.0:${PORT:-8000} && echo done"]);
    assert_eq!(str_of(doc, &["builder", "dockerfile"]), "Dockerfile");
}

#[test]
fn monorepos_render_one_file_per_app() {
    let plan = plan("monorepo-services");
    assert!(plan.apps.len() >= 2, "{plan:#?}");
    // Several documents on stdout would be read as one by a YAML loader: refused.
    let r = run(&["render", "fixtures/monorepo-services", "--target", "kamal"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("--out"), "{}", r.stderr);
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_str().expect("utf-8");
    ok(&["render", "fixtures/monorepo-services", "--target", "kamal", "--out", out_dir]);
    let options = render::RenderOptions::default();
    let mut services = Vec::new();
    for app in render::apps(&plan, &options) {
        let service = render::service_name(&app);
        let text = std::fs::read_to_string(dir.path().join(format!("config/deploy.{service}.yml"))).expect("file");
        let docs = documents(&text);
        assert_eq!(docs.len(), 1);
        check_kamal(&docs[0], app.plan, &app.image);
        assert_eq!(str_of(&docs[0], &["service"]), service);
        services.push(service);
    }
    services.sort();
    services.dedup();
    assert_eq!(services.len(), plan.apps.len(), "distinct service names");
    ok(&["render", "fixtures/monorepo-services", "--target", "github-actions", "--out", out_dir]);
    let text = std::fs::read_to_string(dir.path().join(".github/workflows/build.yml")).expect("workflow");
    let workflow = &documents(&text)[0];
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

/// The index and `run` text of the first step whose script contains `needle`.
fn run_step<'a>(job: &'a Value, needle: &str) -> (usize, &'a str) {
    steps(job)
        .iter()
        .enumerate()
        .find_map(|(i, s)| s["run"].as_str().filter(|r| r.contains(needle)).map(|r| (i, r)))
        .unwrap_or_else(|| panic!("no step runs {needle}: {job:?}"))
}

#[test]
fn github_actions_builds_boot_checks_then_pushes_latest() {
    let plan = plan("python-celery-beat");
    assert_eq!(plan.strategy, Strategy::Buildpacks);
    let wf = &documents(&rendered("python-celery-beat", "github-actions"))[0];
    assert_eq!(wf["permissions"].as_mapping().map(|m| m.len()), Some(0), "no workflow-wide permissions");
    let job = &wf["jobs"]["build"];
    assert_eq!(str_of(job, &["permissions", "packages"]), "write");
    let checkout = &steps(job)[0];
    assert_eq!(checkout["with"]["persist-credentials"].as_bool(), Some(false));
    let uses = str_of(checkout, &["uses"]);
    assert!(uses.starts_with("actions/checkout@") && uses.len() == "actions/checkout@".len() + 40, "pinned: {uses}");
    let (_, login) = run_step(job, "docker login ghcr.io");
    assert!(login.contains("--password-stdin"), "{login}");
    let (procfile, text) = run_step(job, "<<'PROCFILE'");
    for p in &plan.processes {
        assert!(text.contains(&format!("{}: {}", p.kind, p.command)), "{text}");
    }
    let (build, text) = run_step(job, "pack build");
    assert!(procfile < build);
    assert!(text.contains("--env BP_IMAGE_LABELS=service=python-celery-beat"), "{text}");
    assert!(!text.contains(":latest"), "latest waits for the boot check: {text}");
    let (boot, text) = run_step(job, "--entrypoint /cnb/process/web");
    for p in &plan.processes {
        assert!(text.contains(&format!("--entrypoint /cnb/process/{}", p.kind)), "{text}");
    }
    assert!(text.contains("Labels \"service\""), "{text}");
    let (latest, _) = run_step(job, "docker push --quiet \"$IMAGE:latest\"");
    assert!(build < boot && boot < latest, "build, boot check, then latest");
    assert_eq!(str_of(job, &["env", "PORT"]), "8080");
    let tag = ok(&["render", "fixtures/python-celery-beat", "--target", "github-actions", "--pin-actions", "tag"]);
    assert!(tag.contains("uses: actions/checkout@v6\n"), "{tag}");
}

#[test]
fn github_actions_builds_with_docker_and_labels_the_image() {
    let plan = plan("dockerfile-cmd");
    let wf = &documents(&rendered("dockerfile-cmd", "github-actions"))[0];
    let job = &wf["jobs"]["build"];
    let (_, build) = run_step(job, "docker buildx build");
    let file = plan.dockerfile.as_deref().expect("dockerfile");
    assert!(build.contains(&format!("--file {file}")), "{build}");
    assert!(build.contains("--label service=dockerfile-cmd"), "{build}");
    assert!(build.contains("mode=max") && build.contains("--push"), "{build}");
}

#[test]
fn pack_and_docker_commands() {
    let pack = rendered("go-module", "pack");
    assert!(pack.contains("pack build ghcr.io/your-org/go-module"), "{pack}");
    assert!(pack.contains("--builder paketobuildpacks/builder-jammy-full"), "{pack}");
    // go.mod's `go 1.22` is a minimum; go-dist offers 1.25 and 1.26.
    assert_eq!(plan("go-module").language.and_then(|l| l.version).as_deref(), Some("1.22"));
    assert!(pack.contains("--env 'BP_GO_VERSION=1.25.*'"), "{pack}");
    let docker = ok(&["render", "fixtures/dockerfile-cmd", "--target", "docker", "--image", "me/app"]);
    assert!(
        docker.contains("docker build --file Dockerfile --tag me/app --label service=dockerfile-cmd .\n"),
        "{docker}"
    );
    // A target that does not fit the plan is one clear error.
    let r = run(&["render", "fixtures/dockerfile-cmd", "--target", "pack"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("--target docker"), "{}", r.stderr);
    let r = run(&["render", "fixtures/elixir-phoenix", "--target", "kamal"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("unsupported"), "{}", r.stderr);
}

#[test]
fn builder_truth() {
    // Rust: not in builder-jammy-full's order, so pack is told where the composite is.
    let rust = plan("rust-bin");
    assert_eq!(rust.build.extra_buildpacks, ["docker.io/paketocommunity/rust"]);
    let pack = rendered("rust-bin", "pack");
    assert!(pack.contains("--buildpack docker.io/paketocommunity/rust"), "{pack}");
    assert!(pack.contains("--buildpack paketo-buildpacks/image-labels"), "{pack}");
    // pnpm: the nodejs composite installs with npm or yarn only.
    let pnpm = plan("node-pnpm");
    assert_eq!(pnpm.status, Status::NeedsReview);
    assert!(pnpm.warnings.iter().any(|w| w.code == WarningCode::PackageManagerUnsupported), "{pnpm:#?}");
    assert_eq!(plan("node-yarn").status, Status::Ready);
    // A workspace member builds from the workspace root.
    let ws = plan("monorepo-pnpm-workspace");
    for app in &ws.apps {
        assert_eq!(app.build.context.as_deref(), Some("."));
        assert_eq!(app.build.env.get("BP_NODE_PROJECT_PATH"), Some(&app.subdir));
    }
    // Laravel serves public/.
    assert_eq!(plan("php-laravel").build.env.get("BP_PHP_WEB_DIR").map(String::as_str), Some("public"));
}

#[test]
fn runtime_versions_paketo_does_not_offer_are_warned() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("requirements.txt"), "flask\n").expect("write");
    std::fs::write(dir.path().join("runtime.txt"), "python-3.7.3\n").expect("write");
    std::fs::write(dir.path().join("Procfile"), "web: gunicorn app:app\n").expect("write");
    let out = ok(&["scan", dir.path().to_str().expect("utf-8")]);
    let plan: Plan = serde_json::from_str(&out).expect("plan");
    assert_eq!(plan.language.as_ref().and_then(|l| l.version.as_deref()), Some("3.7.3"), "the request is kept");
    let w = plan.warnings.iter().find(|w| w.code == WarningCode::RuntimeUnavailable).expect("a warning");
    assert!(w.message.contains("3.10"), "names the nearest line: {}", w.message);
    assert_eq!(plan.build.env.get("BP_CPYTHON_VERSION").map(String::as_str), Some("3.10.*"));
    assert_eq!(plan.status, Status::NeedsReview);
    // An exact patch asks for its line, which is offered.
    let p = plan_of("python-runtime-txt");
    assert_eq!(p.build.env.get("BP_CPYTHON_VERSION").map(String::as_str), Some("3.10.*"));
    assert!(!p.warnings.iter().any(|w| w.code == WarningCode::RuntimeUnavailable));
}

fn plan_of(fixture: &str) -> Plan {
    plan(fixture)
}

#[test]
fn snapshots() {
    for (fixture, target) in [
        ("python-celery-beat", "kamal"),
        ("dockerfile-and-procfile", "kamal"),
        ("python-celery-beat", "github-actions"),
        ("rust-bin", "pack"),
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
