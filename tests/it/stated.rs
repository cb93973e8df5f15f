//! What the repository itself states (compose, scripts, Makefile, README, other Dockerfiles):
//! each `fixtures/stated-*` tree scanned as a user would, asserting the command, its type,
//! where it came from and its confidence band; plus hostile inputs for every reader.

use std::path::Path;

use repo_scanner::cascade::stated::{self, StatedOrigin};
use repo_scanner::plan::{Plan, Process, ProcessSource, Source, SourceKind, Strategy, WarningCode, READY_CONFIDENCE};
use repo_scanner::source::{self, Request};
use repo_scanner::view::{Limits, RepoView};

fn scan(name: &str) -> Plan {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    let loaded = source::load(&Request::Dir(dir), Limits::default()).expect("fixture loads");
    repo_scanner::scan(&loaded.view, loaded.source)
}

fn mem() -> Source {
    Source { kind: SourceKind::Dir, location: "mem".into(), git_ref: None, commit: None }
}

/// Where a confidence falls: `ready` at or above the threshold, `review` for a candidate
/// worth proposing, `low` below that.
fn band(c: f32) -> &'static str {
    if c >= READY_CONFIDENCE {
        "ready"
    } else if c >= 0.5 {
        "review"
    } else {
        "low"
    }
}

#[track_caller]
fn expect(p: Option<&Process>, kind: &str, command: &str, origin: StatedOrigin, want_band: &str) {
    let p = p.unwrap_or_else(|| panic!("no {kind} process"));
    assert_eq!((p.kind.as_str(), p.command.as_str()), (kind, command));
    assert_eq!(p.source, origin.source());
    assert_eq!(p.evidence.first().map(|e| e.rule.as_str()), Some(origin.rule()), "evidence {:?}", p.evidence);
    assert_eq!(band(p.confidence), want_band, "confidence {}", p.confidence);
}

#[test]
fn compose_build_contexts_are_apps_with_their_commands() {
    let plan = scan("stated-compose-monorepo");
    assert!(plan.monorepo);
    let dirs: Vec<&str> = plan.apps.iter().map(|a| a.subdir.as_str()).collect();
    assert_eq!(dirs, ["api", "bot"], "neither the postgres image nor the nginx proxy is an app");
    // The compose port becomes $PORT; the FastAPI rule names the same app: corroborated.
    expect(
        plan.apps[0].process("web"),
        "web",
        "uvicorn main:app --host 0.0.0.0 --port $PORT",
        StatedOrigin::Compose,
        "ready",
    );
    assert!(plan.apps[0].processes[0].evidence.iter().any(|e| e.rule.starts_with("python.")));
    // No command in compose: the service's Dockerfile CMD; no ports: a worker, which the
    // Python bot rule corroborates.
    let bot = &plan.apps[1];
    assert_eq!(bot.strategy, Strategy::Dockerfile);
    assert_eq!(bot.processes.len(), 1);
    expect(bot.process("worker"), "worker", "python bot.py", StatedOrigin::Compose, "ready");
    assert!(bot.processes[0].evidence.iter().any(|e| e.rule == "python.bot"));
}

#[test]
fn a_start_script_gives_the_line_it_execs() {
    let plan = scan("stated-script");
    assert_eq!(plan.processes.len(), 1);
    expect(plan.process("web"), "web", "python server/main.py --port \"$PORT\"", StatedOrigin::Script, "review");
}

#[test]
fn a_makefile_run_target_with_its_variables_expanded() {
    let plan = scan("stated-makefile");
    // The kind is only guessed (nothing in the line says it serves): lower than a script's.
    expect(plan.process("web"), "web", "node srv/listen.js", StatedOrigin::Makefile, "review");
    let p = plan.process("web").map(|p| p.confidence).unwrap_or_default();
    assert!(p < 0.7, "guessed kind costs confidence: {p}");
}

#[test]
fn a_readme_run_line_is_admitted_like_a_model_proposal() {
    let plan = scan("stated-readme");
    // The port becomes $PORT; a rule names the same script, so the line is corroborated,
    // still short of ready (README text earns little on its own).
    expect(plan.process("web"), "web", "python run_service.py --port $PORT", StatedOrigin::Readme, "review");
    let json = serde_json::to_string(&plan).expect("plan serializes");
    for never in ["evil.py", "curl", "missing.py", "setup_everything", "never_read.py", "localhost"] {
        assert!(!json.contains(never), "{never} reached the plan: {json}");
    }
}

#[test]
fn a_wrapper_entrypoint_is_not_a_start_command() {
    let plan = scan("stated-entrypoint-wrapper");
    assert_eq!(plan.strategy, Strategy::Dockerfile);
    let warning = plan.warnings.iter().find(|w| w.code == WarningCode::DockerfileNoCmd).expect("no-cmd warning");
    assert!(warning.message.contains("only runs its arguments"), "{}", warning.message);
    assert_eq!(plan.processes.len(), 1);
    expect(plan.process("web"), "web", "node server.js", StatedOrigin::Compose, "ready");
    assert!(!plan.processes[0].command.contains("docker-entrypoint"));
}

#[test]
fn a_dockerfile_in_a_subdirectory_states_the_command_for_buildpacks() {
    let plan = scan("stated-dockerfile-subdir");
    assert_eq!(plan.strategy, Strategy::Buildpacks, "docker/Dockerfile does not build the image");
    assert_eq!(plan.dockerfile, None);
    expect(
        plan.process("web"),
        "web",
        "gunicorn --bind 0.0.0.0:$PORT project.wsgi",
        StatedOrigin::Dockerfile,
        "review",
    );
}

#[test]
fn a_procfile_still_wins_over_everything_stated() {
    let v = RepoView::from_memory([
        ("Procfile", "web: gunicorn app:app\n"),
        ("requirements.txt", "flask\ngunicorn\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ("start.sh", "exec python app.py --port $PORT\n"),
        ("README.md", "```\npython app.py\n```\n"),
    ]);
    let plan = repo_scanner::scan(&v, mem());
    let p = plan.process("web").expect("web");
    assert_eq!((p.command.as_str(), p.source), ("gunicorn app:app", ProcessSource::Procfile));
}

#[test]
fn with_a_root_dockerfile_only_compose_overrides_the_image_default() {
    let files = |compose: bool| {
        let mut f = vec![
            ("Dockerfile", "FROM python:3.12\nCOPY . .\n"),
            ("requirements.txt", "flask\n"),
            ("app.py", "print()\n"),
            ("README.md", "```sh\npython app.py --port 8000\n```\n"),
            ("Makefile", "run:\n\tpython app.py\n"),
        ];
        if compose {
            f.push((
                "compose.yaml",
                "services:\n  web:\n    build: .\n    command: python app.py --port 80\n    ports: [\"80:80\"]\n",
            ));
        }
        RepoView::from_memory(f)
    };
    let plan = repo_scanner::scan(&files(false), mem());
    assert_eq!(plan.strategy, Strategy::Dockerfile);
    assert!(plan.processes.is_empty(), "README/Makefile must not replace the image's default: {:?}", plan.processes);
    let plan = repo_scanner::scan(&files(true), mem());
    expect(plan.process("web"), "web", "python app.py --port $PORT", StatedOrigin::Compose, "review");
}

/// Every reader on inputs built to hurt: huge, deep, binary, unbalanced. None panics, each
/// returns little.
#[test]
fn hostile_inputs_give_nothing_and_do_not_panic() {
    let nested = format!("services:\n  a:\n    build: .\n    command: {}x{}\n", "[".repeat(5_000), "]".repeat(5_000));
    // A billion laughs: each level nine aliases of the one before.
    let mut anchors = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = format!("*l{}", i - 1);
        anchors.push_str(&format!("l{i}: &l{i} [{}]\n", [p.as_str(); 9].join(", ")));
    }
    anchors.push_str("services:\n  s:\n    build: .\n    command: *l8\n");
    let many_targets: String = (0..50_000).map(|i| format!("t{i}:\n\techo {i}\n")).collect();
    let fences = "```\n".repeat(50_000);
    let deep_script = format!("{}exec python app.py\n", "if true; then\n".repeat(10_000));
    let binary: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let cases: Vec<Vec<(&str, Vec<u8>)>> = vec![
        vec![("docker-compose.yml", nested.into_bytes())],
        vec![("compose.yaml", anchors.into_bytes())],
        vec![("docker-compose.yml", binary.clone())],
        vec![("Makefile", many_targets.into_bytes())],
        vec![("Makefile", b"run:\n\tnode $(A$(B$(C)))\n".to_vec())],
        vec![("README.md", fences.into_bytes())],
        vec![("README.md", binary.clone())],
        vec![("start.sh", deep_script.into_bytes()), ("app.py", Vec::new())],
        vec![("start.sh", binary), ("Dockerfile.prod", b"CMD [\"unterminated\n".to_vec())],
    ];
    for files in cases {
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        let v = RepoView::from_memory(files.clone());
        let got = stated::commands(&v, None);
        assert!(got.iter().all(|s| s.confidence < READY_CONFIDENCE), "{names:?}: {got:?}");
        assert!(got.len() <= 1, "{names:?}: {got:?}");
        let plan = repo_scanner::scan(&v, mem());
        assert!(plan.processes.iter().all(|p| !p.command.is_empty()), "{names:?}");
    }
}
