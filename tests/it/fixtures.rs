//! Every fixture repository under `fixtures/`, scanned in-process and snapshotted, plus the
//! bad inputs that git cannot hold (huge files, deep trees, non-UTF-8 names, symlinks, an empty
//! directory), built at run time in a temporary directory.
//!
//! Snapshots pin the whole plan; the `expect_*` checks state the behaviour each category is
//! there for, so a snapshot update cannot silently accept a regression.
//!
//! Update snapshots with `INSTA_UPDATE=always cargo test --test it fixtures` and review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use repo_scanner::pipeline;
use repo_scanner::plan::{LanguageName, Plan, ProcessSource, QuestionCode, Status, Strategy, WarningCode};
use repo_scanner::source::Request;
use repo_scanner::view::Limits;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The pipeline every entry point runs, rules only.
fn scan_with(path: &Path, limits: Limits) -> Plan {
    let options = pipeline::Options { limits, ..pipeline::Options::default() };
    pipeline::run(&Request::Dir(path.to_path_buf()), &options)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
        .plan
}

/// Drops nulls, `false`, empty strings, arrays and objects: a new plan field rewrites only
/// the snapshots where it says something.
fn prune(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => {
            for x in a.iter_mut() {
                prune(x);
            }
            !a.is_empty()
        }
        Value::Object(m) => {
            m.retain(|_, x| prune(x));
            !m.is_empty()
        }
        _ => true,
    }
}

/// Replaces every occurrence of the machine-dependent `roots` in the plan's free text.
fn scrub(plan: &mut Plan, roots: &[String]) {
    let fix = |s: &mut String| {
        for r in roots.iter().filter(|r| !r.is_empty()) {
            if s.contains(r.as_str()) {
                *s = s.replace(r.as_str(), "[root]");
            }
        }
    };
    fix(&mut plan.source.location);
    for w in &mut plan.warnings {
        fix(&mut w.message);
        if let Some(f) = &mut w.file {
            fix(f);
        }
    }
    for q in &mut plan.open_questions {
        fix(&mut q.detail);
    }
    for a in &mut plan.apps {
        scrub(a, roots);
    }
}

/// Snapshots a plan under `name`, with the paths that depend on the machine redacted.
fn snapshot(name: &str, plan: &Plan, root: &Path) {
    let mut plan = plan.clone();
    let mut roots = vec![root.display().to_string()];
    if let Ok(c) = fs::canonicalize(root) {
        roots.push(c.display().to_string());
    }
    // Longest first, so a canonical path that extends the given one is replaced whole.
    roots.sort_by_key(|r| std::cmp::Reverse(r.len()));
    scrub(&mut plan, &roots);
    // Through text, so an f32 confidence reads back as written (0.8, not 0.800000011920929).
    let text = serde_json::to_string(&plan).expect("a plan serializes");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("a plan reads back");
    prune(&mut value);
    insta::assert_json_snapshot!(name, value, {
        ".source.location" => "[path]",
        ".apps[].source.location" => "[path]",
    });
}

fn run_fixture(name: &str) -> Plan {
    let dir = fixtures_dir().join(name);
    assert!(dir.is_dir(), "fixture {name} is missing");
    let plan = scan_with(&dir, Limits::default());
    // A scan is deterministic: the same tree gives the same plan.
    assert_eq!(plan, scan_with(&dir, Limits::default()), "{name}: two scans differ");
    snapshot(name, &plan, &dir);
    plan
}

// ---- explicit expectations --------------------------------------------------------------

fn codes(plan: &Plan) -> Vec<WarningCode> {
    plan.warnings.iter().map(|w| w.code).collect()
}

fn questions(plan: &Plan) -> Vec<QuestionCode> {
    plan.open_questions.iter().map(|q| q.code).collect()
}

fn lang(plan: &Plan) -> Option<LanguageName> {
    plan.language.as_ref().map(|l| l.name)
}

fn framework(plan: &Plan) -> Option<&str> {
    plan.language.as_ref().and_then(|l| l.framework.as_deref())
}

fn version(plan: &Plan) -> Option<&str> {
    plan.language.as_ref().and_then(|l| l.version.as_deref())
}

fn web_command(plan: &Plan) -> Option<&str> {
    plan.process("web").map(|p| p.command.as_str())
}

#[track_caller]
fn expect_warning(name: &str, plan: &Plan, code: WarningCode) {
    assert!(codes(plan).contains(&code), "{name}: expected a {code:?} warning, got {:?}", codes(plan));
}

#[track_caller]
fn expect_question(name: &str, plan: &Plan, code: QuestionCode) {
    assert!(questions(plan).contains(&code), "{name}: expected a {code:?} question, got {:?}", questions(plan));
}

#[track_caller]
fn expect_no_questions(name: &str, plan: &Plan) {
    assert!(plan.open_questions.is_empty(), "{name}: unexpected questions {:?}", plan.open_questions);
}

#[track_caller]
fn expect_buildpacks(name: &str, plan: &Plan, language: LanguageName) {
    assert_eq!(lang(plan), Some(language), "{name}: language");
    assert_eq!(plan.strategy, Strategy::Buildpacks, "{name}: strategy");
    let bp = plan.buildpack.as_ref().unwrap_or_else(|| panic!("{name}: no buildpack"));
    assert_eq!(Some(bp.group.as_str()), language.buildpack_group(), "{name}: buildpack group");
    assert_eq!(bp.builder, repo_scanner::plan::DEFAULT_BUILDER, "{name}: builder");
}

#[track_caller]
fn expect_web(name: &str, plan: &Plan, needle: &str) {
    let web = web_command(plan).unwrap_or_else(|| panic!("{name}: no web process in {:?}", plan.processes));
    assert!(web.contains(needle), "{name}: web command {web:?} should mention {needle:?}");
}

/// The behaviour each fixture is there for. Fixtures without an entry are covered by their
/// snapshot and the invariants in [`invariants`].
fn expectations(name: &str, plan: &Plan) {
    use LanguageName as L;
    match name {
        "python-django" => {
            expect_buildpacks(name, plan, L::Python);
            assert_eq!(framework(plan), Some("django"));
            assert_eq!(version(plan), Some("3.12"));
            expect_web(name, plan, "mysite.wsgi");
            // The Django rule earned its confidence on real data (eval/calibration-python.md).
            assert_eq!(plan.status, Status::Ready);
        }
        "python-fastapi" => {
            expect_buildpacks(name, plan, L::Python);
            assert_eq!(framework(plan), Some("fastapi"));
            expect_web(name, plan, "app.main:app");
            expect_web(name, plan, "$PORT");
        }
        "python-flask-factory" => {
            expect_buildpacks(name, plan, L::Python);
            assert_eq!(framework(plan), Some("flask"));
            expect_web(name, plan, "create_app()");
        }
        "python-celery-beat" => {
            expect_buildpacks(name, plan, L::Python);
            assert!(plan.process("worker").is_some(), "{name}: a celery worker");
            assert!(plan.process("beat").is_some(), "{name}: a celery beat");
        }
        "python-uv-pyproject" => {
            expect_buildpacks(name, plan, L::Python);
            expect_web(name, plan, "main:app");
        }
        "python-pipfile" | "python-setup-py" | "python-poetry" => {
            expect_buildpacks(name, plan, L::Python);
            assert!(web_command(plan).is_some(), "{name}: a web process");
        }
        "python-runtime-txt" => {
            expect_buildpacks(name, plan, L::Python);
            assert!(version(plan).is_some_and(|v| v.contains("3.10")), "{name}: version from runtime.txt");
        }
        "python-no-entry" => {
            expect_buildpacks(name, plan, L::Python);
            expect_question(name, plan, QuestionCode::NoWebCommand);
            assert_eq!(plan.status, Status::NeedsReview);
        }
        "node-express" => {
            expect_buildpacks(name, plan, L::Nodejs);
            assert_eq!(framework(plan), Some("express"));
            assert_eq!(version(plan), Some("20.x"));
            assert!(web_command(plan).is_some());
            expect_no_questions(name, plan);
        }
        "node-nextjs" | "node-nestjs" | "node-yarn" | "node-pnpm" | "node-main-only" => {
            expect_buildpacks(name, plan, L::Nodejs);
            assert!(web_command(plan).is_some(), "{name}: a web process");
        }
        "node-fastify-ts" => {
            expect_buildpacks(name, plan, L::Nodejs);
            assert_eq!(framework(plan), Some("fastify"));
        }
        "ruby-rails" => {
            expect_buildpacks(name, plan, L::Ruby);
            assert_eq!(framework(plan), Some("rails"));
            let web = web_command(plan).unwrap_or_default();
            assert!(web.contains("puma") || web.contains("rails server"), "{name}: {web}");
            // config/puma.rb binds $PORT itself (the fixture's reads ENV PORT).
            if !web.contains("-C config/puma.rb") {
                expect_web(name, plan, "$PORT");
            }
        }
        "ruby-sinatra" | "ruby-rack" => {
            expect_buildpacks(name, plan, L::Ruby);
            assert!(web_command(plan).is_some(), "{name}: a web process");
        }
        "go-module" => {
            expect_buildpacks(name, plan, L::Go);
            assert_eq!(version(plan), Some("1.22"));
            assert!(web_command(plan).is_some());
        }
        "go-cmd-dirs" => expect_buildpacks(name, plan, L::Go),
        "go-legacy-govendor" => {
            assert_eq!(lang(plan), Some(L::Go), "{name}: a Go tree without go.mod is still Go");
            expect_warning(name, plan, WarningCode::LegacyLayout);
        }
        "rust-bin" => {
            expect_buildpacks(name, plan, L::Rust);
            assert_eq!(plan.buildpack.as_ref().map(|b| b.group.as_str()), Some("paketo-community/rust"));
            expect_web(name, plan, "hello-web");
        }
        "rust-multi-bin" => expect_buildpacks(name, plan, L::Rust),
        "java-maven-spring" => {
            expect_buildpacks(name, plan, L::Java);
            assert_eq!(version(plan), Some("17"));
        }
        "java-gradle" | "java-gradle-kts" => expect_buildpacks(name, plan, L::Java),
        "php-composer" | "php-laravel" => expect_buildpacks(name, plan, L::Php),
        "dotnet-web" => expect_buildpacks(name, plan, L::Dotnet),
        "elixir-phoenix" => {
            assert_eq!(lang(plan), Some(L::Elixir));
            assert_eq!(plan.strategy, Strategy::Unsupported);
            assert_eq!(plan.status, Status::Unsupported);
            assert!(plan.buildpack.is_none());
            expect_warning(name, plan, WarningCode::UnsupportedLanguage);
        }
        "elixir-with-dockerfile" => {
            assert_eq!(lang(plan), Some(L::Elixir));
            assert_eq!(plan.strategy, Strategy::Dockerfile);
            assert_eq!(plan.dockerfile.as_deref(), Some("Dockerfile"));
            assert!(!codes(plan).contains(&WarningCode::UnsupportedLanguage), "{name}: the advice is already taken");
            assert_ne!(plan.status, Status::Unsupported);
        }
        "deno" => assert_eq!(lang(plan), Some(L::Deno)),
        "static-site" => {
            expect_buildpacks(name, plan, L::Static);
            expect_no_questions(name, plan);
        }
        "dockerfile-cmd" => {
            assert_eq!(plan.strategy, Strategy::Dockerfile);
            assert!(plan.buildpack.is_none(), "{name}: buildpacks skipped");
            let web = plan.process("web").expect("web from CMD");
            assert_eq!(web.source, ProcessSource::Dockerfile);
            assert!(web.command.starts_with("gunicorn"));
        }
        "dockerfile-and-procfile" => {
            assert_eq!(plan.strategy, Strategy::Dockerfile);
            assert_eq!(plan.procfile.path.as_deref(), Some("Procfile"));
            let kinds: Vec<&str> = plan.processes.iter().map(|p| p.kind.as_str()).collect();
            assert_eq!(kinds, ["web", "worker"], "{name}: Procfile process types become services");
            assert!(plan.processes.iter().all(|p| p.source == ProcessSource::Procfile));
        }
        "containerfile-variant" | "dockerfile-lowercase" => expect_warning(name, plan, WarningCode::DockerfileVariant),
        "dockerfile-no-cmd" => {
            assert_eq!(plan.strategy, Strategy::Dockerfile);
            expect_warning(name, plan, WarningCode::DockerfileNoCmd);
        }
        "procfile-crlf-bom" => {
            let got: Vec<(&str, &str)> = plan.processes.iter().map(|p| (p.kind.as_str(), p.command.as_str())).collect();
            assert_eq!(got, [("web", "gunicorn app:app --bind 0.0.0.0:$PORT"), ("worker", "python worker.py")]);
            assert!(plan.warnings.is_empty(), "{name}: CRLF and BOM are tolerated: {:?}", plan.warnings);
        }
        "procfile-duplicates" => {
            expect_warning(name, plan, WarningCode::ProcfileDuplicate);
            assert_eq!(web_command(plan), Some("node server.js"), "{name}: the last definition wins");
            assert_eq!(plan.processes.iter().filter(|p| p.kind == "web").count(), 1);
        }
        "procfile-invalid-names" => {
            expect_warning(name, plan, WarningCode::ProcfileInvalidLine);
            expect_warning(name, plan, WarningCode::ProcfileEmptyCommand);
            let kinds: Vec<&str> = plan.processes.iter().map(|p| p.kind.as_str()).collect();
            assert_eq!(kinds, ["web"], "{name}: only the valid line is a process");
        }
        "procfile-hardcoded-port" => {
            expect_warning(name, plan, WarningCode::HardcodedPort);
            let suggested = plan.procfile.suggested.as_deref().expect("a suggested Procfile");
            assert!(suggested.contains("web: gunicorn app:app --bind 0.0.0.0:$PORT"), "{suggested}");
            assert!(suggested.contains("worker: celery -A tasks worker"), "{suggested}");
        }
        "procfile-missing-script" => {
            expect_question(name, plan, QuestionCode::ConflictingSignals);
            assert_eq!(plan.status, Status::NeedsReview);
        }
        "procfile-variant-lowercase" => expect_warning(name, plan, WarningCode::ProcfileVariant),
        "procfile-unsafe-command" => {
            expect_warning(name, plan, WarningCode::UnsafeCommand);
            assert_eq!(plan.status, Status::NeedsReview);
        }
        "django-with-assets-package-json" => {
            expect_buildpacks(name, plan, L::Python);
            assert_eq!(framework(plan), Some("django"));
            let secondary: Vec<LanguageName> = plan.secondary_languages.iter().map(|s| s.name).collect();
            assert_eq!(secondary, [L::Nodejs]);
            assert!(!questions(plan).contains(&QuestionCode::LanguageTie), "{name}: not a tie");
        }
        "language-tie" => {
            expect_question(name, plan, QuestionCode::LanguageTie);
            assert_eq!(plan.status, Status::NeedsReview);
        }
        "deploy-render-yaml" => {
            expect_buildpacks(name, plan, L::Python);
            expect_web(name, plan, "gunicorn app:app");
            assert!(plan.process("worker").is_some_and(|p| p.command.contains("celery")));
            assert!(!plan.monorepo);
        }
        "deploy-do-app-yaml" => {
            expect_web(name, plan, "npm start");
            assert!(plan.process("worker").is_some_and(|p| p.command == "node jobs.js"));
        }
        "deploy-fly-toml" => expect_web(name, plan, "puma"),
        "deploy-railway-toml" => expect_web(name, plan, "node dist/server.js"),
        "deploy-nixpacks-toml" => expect_web(name, plan, "uvicorn main:app"),
        "monorepo-pnpm-workspace" => {
            assert!(plan.monorepo);
            let dirs: Vec<&str> = plan.apps.iter().map(|a| a.subdir.as_str()).collect();
            assert_eq!(dirs, ["apps/api", "apps/web"], "{name}: libraries are not apps");
        }
        "monorepo-apps-dir" => {
            assert!(plan.monorepo);
            let apps: Vec<(&str, Option<LanguageName>)> =
                plan.apps.iter().map(|a| (a.subdir.as_str(), lang(a))).collect();
            assert_eq!(apps, [("apps/backend", Some(L::Python)), ("apps/frontend", Some(L::Nodejs))]);
            expect_question(name, plan, QuestionCode::Monorepo);
        }
        "monorepo-services" => {
            assert!(plan.monorepo);
            let dirs: Vec<&str> = plan.apps.iter().map(|a| a.subdir.as_str()).collect();
            assert_eq!(dirs, ["services/billing", "services/users"]);
        }
        "monorepo-render" => {
            assert!(plan.monorepo);
            let dirs: Vec<&str> = plan.apps.iter().map(|a| a.subdir.as_str()).collect();
            assert_eq!(dirs, ["backend", "frontend"]);
            assert!(!questions(plan).contains(&QuestionCode::Monorepo), "{name}: the spec declares the apps");
        }
        "bad-malformed-package-json" => {
            expect_warning(name, plan, WarningCode::ManifestMalformed);
            assert_eq!(lang(plan), Some(L::Nodejs));
        }
        "bad-binary-package-json" => expect_warning(name, plan, WarningCode::ManifestBinary),
        "bad-malformed-pyproject" => {
            expect_warning(name, plan, WarningCode::ManifestMalformed);
            assert_eq!(lang(plan), Some(L::Python));
        }
        "gpu-torch-cuda" => expect_warning(name, plan, WarningCode::GpuLibraries),
        "no-indicator" => {
            assert!(plan.language.is_none());
            expect_question(name, plan, QuestionCode::NoIndicator);
            assert_eq!(plan.status, Status::NeedsReview);
        }
        "node-engines-nvmrc" => assert!(version(plan).is_some(), "{name}: a node version"),
        "python-secret-env" => expect_buildpacks(name, plan, L::Python),
        _ => {}
    }
}

/// What holds for every plan.
fn invariants(name: &str, plan: &Plan) {
    assert_eq!(plan.schema_version, repo_scanner::plan::SCHEMA_VERSION);
    match plan.strategy {
        Strategy::Buildpacks if !plan.monorepo => {
            assert!(plan.buildpack.is_some(), "{name}: buildpacks without a buildpack")
        }
        Strategy::Dockerfile => {
            assert!(plan.dockerfile.is_some(), "{name}: dockerfile strategy without a path");
            assert!(plan.buildpack.is_none(), "{name}: dockerfile strategy with a buildpack");
        }
        _ => {}
    }
    if plan.status == Status::Ready {
        assert!(plan.open_questions.is_empty(), "{name}: ready with open questions");
        for p in &plan.processes {
            let sure = p.source == ProcessSource::Llm || p.confidence >= repo_scanner::plan::READY_CONFIDENCE;
            assert!(sure, "{name}: ready with {} at confidence {} from {:?}", p.kind, p.confidence, p.source);
        }
    }
    for p in &plan.processes {
        assert!((0.0..=1.0).contains(&p.confidence), "{name}: confidence {}", p.confidence);
        assert!(!p.command.trim().is_empty(), "{name}: empty command for {}", p.kind);
        assert!(!p.evidence.is_empty(), "{name}: process {} without evidence", p.kind);
    }
    let mut kinds: Vec<&str> = plan.processes.iter().map(|p| p.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), plan.processes.len(), "{name}: duplicate process types");
    for app in &plan.apps {
        invariants(&format!("{name}/{}", app.subdir), app);
    }
}

fn check_fixture(name: &str) {
    let plan = run_fixture(name);
    invariants(name, &plan);
    expectations(name, &plan);
}

macro_rules! fixtures {
    ($($test:ident => $dir:literal),* $(,)?) => {
        /// Every fixture directory, each with its own test below.
        const ALL: &[&str] = &[$($dir),*];
        $(
            #[test]
            fn $test() {
                check_fixture($dir);
            }
        )*
    };
}

fixtures! {
    python_django => "python-django",
    python_fastapi => "python-fastapi",
    python_flask_factory => "python-flask-factory",
    python_celery_beat => "python-celery-beat",
    python_uv_pyproject => "python-uv-pyproject",
    python_pipfile => "python-pipfile",
    python_setup_py => "python-setup-py",
    python_runtime_txt => "python-runtime-txt",
    python_no_entry => "python-no-entry",
    python_poetry => "python-poetry",
    python_secret_env => "python-secret-env",
    python_discord_bot => "python-discord-bot",
    python_telegram_bot => "python-telegram-bot",
    python_aiogram_bot => "python-aiogram-bot",
    python_bot_keep_alive => "python-bot-keep-alive",
    python_schedule_worker => "python-schedule-worker",
    python_slack_socket_mode => "python-slack-socket-mode",
    python_streamlit => "python-streamlit",
    python_chainlit => "python-chainlit",
    python_panel => "python-panel",
    python_gradio => "python-gradio",
    python_aiohttp_run_app => "python-aiohttp-run-app",
    python_flask_script_no_server => "python-flask-script-no-server",
    python_fastapi_no_uvicorn => "python-fastapi-no-uvicorn",
    python_django_no_manifest => "python-django-no-manifest",
    python_django_subdir => "python-django-subdir",
    python_flaskenv => "python-flaskenv",
    python_flask_run => "python-flask-run",
    python_dash => "python-dash",
    python_wsgi_reexport => "python-wsgi-reexport",
    python_socketio => "python-socketio",
    python_tornado => "python-tornado",
    node_express => "node-express",
    node_nextjs => "node-nextjs",
    node_nestjs => "node-nestjs",
    node_fastify_ts => "node-fastify-ts",
    node_main_only => "node-main-only",
    node_foreman_start => "node-foreman-start",
    node_yarn => "node-yarn",
    node_pnpm => "node-pnpm",
    node_engines_nvmrc => "node-engines-nvmrc",
    ruby_rails => "ruby-rails",
    ruby_sinatra => "ruby-sinatra",
    ruby_rack => "ruby-rack",
    ruby_sidekiq => "ruby-sidekiq",
    go_module => "go-module",
    go_cmd_dirs => "go-cmd-dirs",
    go_legacy_govendor => "go-legacy-govendor",
    rust_bin => "rust-bin",
    rust_multi_bin => "rust-multi-bin",
    java_maven_spring => "java-maven-spring",
    java_gradle => "java-gradle",
    java_gradle_kts => "java-gradle-kts",
    php_composer => "php-composer",
    php_laravel => "php-laravel",
    dotnet_web => "dotnet-web",
    elixir_phoenix => "elixir-phoenix",
    elixir_with_dockerfile => "elixir-with-dockerfile",
    deno => "deno",
    static_site => "static-site",
    dockerfile_cmd => "dockerfile-cmd",
    dockerfile_and_procfile => "dockerfile-and-procfile",
    dockerfile_no_cmd => "dockerfile-no-cmd",
    containerfile_variant => "containerfile-variant",
    dockerfile_lowercase => "dockerfile-lowercase",
    procfile_crlf_bom => "procfile-crlf-bom",
    procfile_duplicates => "procfile-duplicates",
    procfile_invalid_names => "procfile-invalid-names",
    procfile_hardcoded_port => "procfile-hardcoded-port",
    procfile_missing_script => "procfile-missing-script",
    procfile_variant_lowercase => "procfile-variant-lowercase",
    procfile_unsafe_command => "procfile-unsafe-command",
    django_with_assets_package_json => "django-with-assets-package-json",
    language_tie => "language-tie",
    deploy_render_yaml => "deploy-render-yaml",
    deploy_do_app_yaml => "deploy-do-app-yaml",
    deploy_fly_toml => "deploy-fly-toml",
    deploy_railway_toml => "deploy-railway-toml",
    deploy_nixpacks_toml => "deploy-nixpacks-toml",
    monorepo_pnpm_workspace => "monorepo-pnpm-workspace",
    monorepo_apps_dir => "monorepo-apps-dir",
    monorepo_services => "monorepo-services",
    monorepo_render => "monorepo-render",
    bad_malformed_package_json => "bad-malformed-package-json",
    bad_binary_package_json => "bad-binary-package-json",
    bad_malformed_pyproject => "bad-malformed-pyproject",
    gpu_torch_cuda => "gpu-torch-cuda",
    no_indicator => "no-indicator",
    injection_readme => "injection-readme",
    injection_package_json => "injection-package-json",
    injection_comments => "injection-comments",
    stated_compose_monorepo => "stated-compose-monorepo",
    stated_script => "stated-script",
    stated_makefile => "stated-makefile",
    stated_readme => "stated-readme",
    stated_entrypoint_wrapper => "stated-entrypoint-wrapper",
    stated_dockerfile_subdir => "stated-dockerfile-subdir",
    node_listen_port => "node-listen-port",
    node_telegraf_bot => "node-telegraf-bot",
    node_vite_dev_start => "node-vite-dev-start",
    node_ts_dist => "node-ts-dist",
    node_web_worker_files => "node-web-worker-files",
    bun_serve => "bun-serve",
    deno_serve => "deno-serve",
    ruby_rack_unicorn => "ruby-rack-unicorn",
    go_gopath_imports => "go-gopath-imports",
    go_cmd_serving => "go-cmd-serving",
    rust_discord_bot => "rust-discord-bot",
    rust_workspace_port => "rust-workspace-port",
    java_maven_multimodule => "java-maven-multimodule",
    java_maven_assembly_bot => "java-maven-assembly-bot",
    java_maven_classpath => "java-maven-classpath",
    java_spring_profiles => "java-spring-profiles",
    php_web_docroot => "php-web-docroot",
}

/// Every directory under fixtures/ has a test, and every test a directory.
#[test]
fn every_fixture_dir_is_tested() {
    let mut on_disk: Vec<String> = fs::read_dir(fixtures_dir())
        .expect("fixtures/")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "fixtures/ and the fixtures! list disagree");
    // Each fixture has its line in fixtures/README.md.
    let readme = fs::read_to_string(fixtures_dir().join("README.md")).expect("fixtures/README.md");
    for name in ALL {
        assert!(readme.contains(&format!("`{name}`")), "fixtures/README.md does not describe {name}");
    }
}

// ---- bad inputs built at run time --------------------------------------------------------

fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(p, content).expect("write");
}

fn flask_app(root: &Path) {
    write(root, "requirements.txt", "flask\ngunicorn\n");
    write(root, "app.py", "from flask import Flask\n\napp = Flask(__name__)\n");
}

fn runtime_case(name: &str, limits: Limits, build: impl FnOnce(&Path)) -> Plan {
    let tmp = tempfile::tempdir().expect("tempdir");
    build(tmp.path());
    let plan = scan_with(tmp.path(), limits);
    snapshot(name, &plan, tmp.path());
    invariants(name, &plan);
    plan
}

#[test]
fn empty_repo() {
    let plan = runtime_case("empty-repo", Limits::default(), |_| {});
    assert!(plan.language.is_none());
    assert!(plan.processes.is_empty());
    expect_question("empty-repo", &plan, QuestionCode::NoIndicator);
    assert_eq!(plan.status, Status::NeedsReview);
}

#[test]
fn bad_huge_file() {
    let plan = runtime_case("bad-huge-file", Limits::default(), |root| {
        // Valid JSON padded past the 1 MiB read limit: refused unread, not parsed.
        let mut pkg =
            String::from(r#"{"name":"huge","scripts":{"start":"node index.js"},"dependencies":{"express":"4"}"#);
        pkg.push_str(&" ".repeat((1 << 20) + 16));
        pkg.push_str("}\n");
        write(root, "package.json", pkg);
        write(root, "index.js", "require('express')().listen(process.env.PORT);\n");
    });
    expect_warning("bad-huge-file", &plan, WarningCode::FileTooLarge);
    let w = plan.warnings.iter().find(|w| w.code == WarningCode::FileTooLarge).expect("warning");
    assert_eq!(w.file.as_deref(), Some("package.json"));
}

#[test]
fn bad_huge_procfile() {
    let plan = runtime_case("bad-huge-procfile", Limits::default(), |root| {
        flask_app(root);
        let mut procfile = String::from("web: gunicorn app:app\n");
        while procfile.len() <= 1 << 20 {
            procfile.push_str("# padding padding padding padding padding padding padding padding\n");
        }
        write(root, "Procfile", procfile);
    });
    expect_warning("bad-huge-procfile", &plan, WarningCode::FileTooLarge);
    assert!(plan.processes.iter().all(|p| p.source != ProcessSource::Procfile));
}

#[test]
fn bad_deep_tree() {
    let limit = Limits::default().max_depth;
    let plan = runtime_case("bad-deep-tree", Limits::default(), |root| {
        flask_app(root);
        let deep: Vec<&str> = std::iter::repeat_n("d", limit + 6).collect();
        write(root, &format!("{}/leaf.txt", deep.join("/")), "x");
    });
    expect_warning("bad-deep-tree", &plan, WarningCode::DepthLimit);
    assert_eq!(lang(&plan), Some(LanguageName::Python), "the shallow part still scans");
}

#[test]
fn bad_file_limit() {
    let limits = Limits { max_files: 8, ..Limits::default() };
    let plan = runtime_case("bad-file-limit", limits, |root| {
        flask_app(root);
        for i in 0..20 {
            write(root, &format!("data/f{i:02}.txt"), "x");
        }
    });
    expect_warning("bad-file-limit", &plan, WarningCode::FileLimit);
}

#[cfg(unix)]
#[test]
fn bad_non_utf8_names() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let plan = runtime_case("bad-non-utf8-names", Limits::default(), |root| {
        flask_app(root);
        fs::write(root.join(OsStr::from_bytes(b"notes-\xff\xfe.txt")), "x").expect("write");
        fs::create_dir(root.join(OsStr::from_bytes(b"dir-\xff"))).expect("mkdir");
        fs::write(root.join(OsStr::from_bytes(b"dir-\xff")).join("requirements.txt"), "flask\n").expect("write");
    });
    expect_warning("bad-non-utf8-names", &plan, WarningCode::NonUtf8Path);
    assert_eq!(lang(&plan), Some(LanguageName::Python));
}

#[cfg(unix)]
#[test]
fn bad_symlink_escape() {
    let plan = runtime_case("bad-symlink-escape", Limits::default(), |root| {
        flask_app(root);
        std::os::unix::fs::symlink("/etc/passwd", root.join("Procfile")).expect("symlink");
    });
    expect_warning("bad-symlink-escape", &plan, WarningCode::SymlinkEscape);
    assert!(
        plan.processes.iter().all(|p| p.source != ProcessSource::Procfile),
        "an escaped Procfile is never read: {:?}",
        plan.processes
    );
    // Nothing of /etc/passwd's content reaches the plan.
    let json = serde_json::to_string(&plan).expect("json");
    assert!(!json.contains("root:x:0:0"), "{json}");
}

#[cfg(unix)]
#[test]
fn bad_symlink_escape_to_sibling() {
    let outer = tempfile::tempdir().expect("tempdir");
    let repo = outer.path().join("repo");
    write(outer.path(), "outside/package.json", r#"{"scripts":{"start":"node steal.js"}}"#);
    write(&repo, "index.js", "console.log(1);\n");
    std::os::unix::fs::symlink("../outside/package.json", repo.join("package.json")).expect("symlink");
    std::os::unix::fs::symlink("../outside", repo.join("linked-dir")).expect("symlink");
    std::os::unix::fs::symlink("../../nowhere/Procfile", repo.join("Procfile")).expect("symlink");
    std::os::unix::fs::symlink("index.js", repo.join("server.js")).expect("symlink");
    let plan = scan_with(&repo, Limits::default());
    snapshot("bad-symlink-escape-sibling", &plan, outer.path());
    invariants("bad-symlink-escape-sibling", &plan);
    let escaped: Vec<&str> = plan
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::SymlinkEscape)
        .filter_map(|w| w.file.as_deref())
        .collect();
    assert!(escaped.contains(&"package.json"), "{:?}", plan.warnings);
    assert!(escaped.contains(&"Procfile"), "{:?}", plan.warnings);
    assert!(!plan.processes.iter().any(|p| p.command.contains("steal")), "{:?}", plan.processes);
}

/// The contract's JSON Schema, pinned: a change to it shows up as a reviewed snapshot diff.
#[test]
fn plan_json_schema_snapshot() {
    let schema = repo_scanner::plan::json_schema();
    assert!(schema["properties"]["processes"].is_object(), "{schema}");
    insta::assert_json_snapshot!("plan-json-schema", schema);
}
