//! Entry points inferred from what the code does (issue 11, every language but Python): each
//! fixture under fixtures/ states one pattern, and the test pins the inferred command, its
//! process type and its confidence band. The bands follow plan::READY_CONFIDENCE: a rule whose
//! measured precision is below it must never score `ready`.

use std::path::Path;

use repo_scanner::plan::{Plan, QuestionCode, READY_CONFIDENCE};
use repo_scanner::source::{self, Request};
use repo_scanner::view::Limits;

/// How far a process may be trusted.
#[derive(Debug, PartialEq)]
enum Band {
    /// Below 0.5: a guess that needs a person (a development server, an unbuilt start).
    Low,
    /// 0.5 up to READY_CONFIDENCE: a good inference, reviewed or confirmed by the model.
    Inferred,
    /// READY_CONFIDENCE and up: only rules that earned it in eval/calibration.md.
    Ready,
}

fn band(c: f32) -> Band {
    if c < 0.5 {
        Band::Low
    } else if c < READY_CONFIDENCE {
        Band::Inferred
    } else {
        Band::Ready
    }
}

fn scan(name: &str) -> Plan {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    let loaded = source::load(&Request::Dir(dir), Limits::default()).expect("fixture loads");
    repo_scanner::scan(&loaded.view, loaded.source)
}

/// Asserts the plan's `kind` process: its command, confidence band and evidence rule.
fn expect(plan: &Plan, kind: &str, command: &str, want: Band, rule: &str) {
    let p = plan.process(kind).unwrap_or_else(|| panic!("no {kind} process in {:?}", plan.processes));
    assert_eq!(p.command, command, "{kind} command");
    assert_eq!(band(p.confidence), want, "{kind} band ({})", p.confidence);
    assert!(p.evidence.iter().any(|e| e.rule == rule), "{kind}: evidence {:?} lacks {rule}", p.evidence);
}

fn no_web(plan: &Plan) {
    assert!(plan.process("web").is_none(), "unexpected web process: {:?}", plan.processes);
}

#[test]
fn node_file_that_listens_on_port() {
    let plan = scan("node-listen-port");
    expect(&plan, "web", "node src/server.js", Band::Inferred, "nodejs.listen_port");
}

#[test]
fn node_bot_is_a_worker() {
    let plan = scan("node-telegraf-bot");
    expect(&plan, "worker", "npm start", Band::Inferred, "nodejs.bot_start");
    no_web(&plan);
}

#[test]
fn node_dev_server_start_is_flagged() {
    let plan = scan("node-vite-dev-start");
    expect(&plan, "web", "npm start", Band::Low, "nodejs.scripts_start_dev");
    assert!(plan
        .open_questions
        .iter()
        .any(|q| q.code == QuestionCode::ConflictingSignals && q.detail.contains("vite")));
}

#[test]
fn node_typescript_start_after_build() {
    let plan = scan("node-ts-dist");
    expect(&plan, "web", "npm start", Band::Ready, "nodejs.scripts_start");
    assert!(plan.open_questions.is_empty(), "{:?}", plan.open_questions);
}

#[test]
fn node_web_and_worker_files() {
    let plan = scan("node-web-worker-files");
    expect(&plan, "web", "node bin/web.js", Band::Inferred, "nodejs.web_file");
    expect(&plan, "worker", "node bin/worker.js", Band::Inferred, "nodejs.worker_file");
}

#[test]
fn bun_serve_runs_under_bun() {
    let plan = scan("bun-serve");
    expect(&plan, "web", "bun index.ts", Band::Inferred, "nodejs.listen_port");
}

#[test]
fn deno_serve_without_config() {
    let plan = scan("deno-serve");
    expect(&plan, "web", "deno run --allow-net --allow-env --allow-read main.ts", Band::Inferred, "deno.serve");
    assert_eq!(plan.language.as_ref().map(|l| l.name.as_str()), Some("deno"));
}

#[test]
fn ruby_server_config_and_job_worker() {
    let plan = scan("ruby-rack-unicorn");
    expect(&plan, "web", "bundle exec unicorn -p $PORT -c ./config/unicorn.rb", Band::Inferred, "ruby.unicorn_config");
    expect(&plan, "worker", "bundle exec good_job start", Band::Inferred, "ruby.gemfile");
}

#[test]
fn rails_with_puma_config_uses_it() {
    let plan = scan("ruby-rails");
    expect(&plan, "web", "bundle exec puma -C config/puma.rb", Band::Inferred, "ruby.puma_config");
}

#[test]
fn go_gopath_binary_from_own_imports() {
    let plan = scan("go-gopath-imports");
    expect(&plan, "web", "shopd", Band::Inferred, "go.import_path");
}

#[test]
fn go_main_that_serves() {
    let plan = scan("go-cmd-serving");
    expect(&plan, "web", "gateway", Band::Inferred, "go.cmd_binary");
}

#[test]
fn rust_bot_is_a_worker() {
    let plan = scan("rust-discord-bot");
    expect(&plan, "worker", "quotebot", Band::Inferred, "rust.bot_bin");
    no_web(&plan);
}

#[test]
fn rust_workspace_member_that_binds() {
    let plan = scan("rust-workspace-port");
    expect(&plan, "web", "gateway", Band::Inferred, "rust.bin_binds_port");
}

#[test]
fn java_module_with_the_boot_plugin() {
    let plan = scan("java-maven-multimodule");
    let cmd = "java -Dserver.port=$PORT $JAVA_OPTS -jar api/target/shop-api-1.2.0.jar";
    expect(&plan, "web", cmd, Band::Inferred, "jvm.maven_module");
}

#[test]
fn java_bot_runs_its_assembly_jar_as_a_worker() {
    let plan = scan("java-maven-assembly-bot");
    expect(
        &plan,
        "worker",
        "java $JAVA_OPTS -jar target/modbot-2.0-jar-with-dependencies.jar",
        Band::Inferred,
        "jvm.bot",
    );
    no_web(&plan);
}

#[test]
fn java_thin_jar_runs_from_the_classpath() {
    let plan = scan("java-maven-classpath");
    let cmd = "java $JAVA_OPTS -cp target/classes:target/dependency/* forum.Main";
    expect(&plan, "web", cmd, Band::Inferred, "jvm.maven_classpath");
}

#[test]
fn java_spring_profiles_per_process() {
    let plan = scan("java-spring-profiles");
    let jar = "java -Dserver.port=$PORT $JAVA_OPTS -jar target/pricing-0.1.0.jar";
    expect(&plan, "web", &format!("{jar} --spring.profiles.active=web"), Band::Inferred, "jvm.spring_profile");
    expect(&plan, "worker", &format!("{jar} --spring.profiles.active=worker"), Band::Inferred, "jvm.spring_profile");
}

#[test]
fn php_document_root_web() {
    let plan = scan("php-web-docroot");
    expect(&plan, "web", "php -S 0.0.0.0:$PORT -t web", Band::Inferred, "php.docroot");
}
