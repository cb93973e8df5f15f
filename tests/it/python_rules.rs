//! Python entry points inferred from what the code does (issue 11): each fixture under
//! `fixtures/python-*` states one pattern; these tests pin the command, its process type and
//! its confidence band (ready at `plan::READY_CONFIDENCE` or above, needs review below).

use std::path::Path;

use repo_scanner::plan::{Plan, Process, ProcessSource, WarningCode, READY_CONFIDENCE};
use repo_scanner::source::{self, Request};
use repo_scanner::view::Limits;

fn scan(name: &str) -> Plan {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    let loaded = source::load(&Request::Dir(dir), Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    repo_scanner::scan(&loaded.view, loaded.source)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Band {
    /// At or above the threshold: the plan may run unreviewed.
    Ready,
    /// Below it: a person (or the model) confirms.
    Review,
}

/// The only process of `kind`, inferred by the rules, with `command` and confidence in `band`.
fn expect(name: &str, kind: &str, command: &str, band: Band) -> Plan {
    let plan = scan(name);
    let found: Vec<&Process> = plan.processes.iter().filter(|p| p.kind == kind).collect();
    let [p] = found.as_slice() else { panic!("{name}: expected one {kind} process, got {:?}", plan.processes) };
    assert_eq!(p.command, command, "{name}: {kind} command");
    assert_eq!(p.source, ProcessSource::Rule, "{name}");
    let got = if p.confidence >= READY_CONFIDENCE { Band::Ready } else { Band::Review };
    assert_eq!(got, band, "{name}: confidence {} for {command}", p.confidence);
    assert!(!p.evidence.is_empty(), "{name}: a rule's process names its evidence");
    plan
}

fn kinds(plan: &Plan) -> Vec<&str> {
    plan.processes.iter().map(|p| p.kind.as_str()).collect()
}

fn warns(plan: &Plan, code: WarningCode, needle: &str) -> bool {
    plan.warnings.iter().any(|w| w.code == code && w.message.contains(needle))
}

#[test]
fn chat_bots_are_workers_not_web() {
    let plan = expect("python-discord-bot", "worker", "python bot.py", Band::Review);
    assert_eq!(kinds(&plan), ["worker"]);
    // A bot needs no web process: that is not an open question.
    assert!(plan.open_questions.is_empty(), "{:?}", plan.open_questions);
    let plan = expect("python-telegram-bot", "worker", "python monitor.py", Band::Review);
    assert_eq!(kinds(&plan), ["worker"]);
    expect("python-slack-socket-mode", "worker", "python app.py", Band::Review);
}

#[test]
fn asyncio_run_in_a_package_main_is_python_dash_m() {
    let plan = expect("python-aiogram-bot", "worker", "python -m bot", Band::Review);
    assert_eq!(kinds(&plan), ["worker"]);
}

#[test]
fn a_bot_that_serves_a_keep_alive_page_is_web_started_by_the_bot() {
    // Not `gunicorn keep_alive:app`: that would serve the page and never start the bot.
    let plan = expect("python-bot-keep-alive", "web", "python main.py", Band::Review);
    assert_eq!(kinds(&plan), ["web"]);
}

#[test]
fn a_scheduler_loop_is_a_worker() {
    expect("python-schedule-worker", "worker", "python jobs.py", Band::Review);
}

#[test]
fn framework_clis_serve_their_script_on_port() {
    let plan = expect(
        "python-streamlit",
        "web",
        "streamlit run dashboard.py --server.port $PORT --server.address 0.0.0.0",
        Band::Review,
    );
    assert_eq!(plan.language.as_ref().and_then(|l| l.framework.as_deref()), Some("streamlit"));
    expect("python-chainlit", "web", "chainlit run main.py --host 0.0.0.0 --port $PORT", Band::Review);
    expect("python-panel", "web", "panel serve explorer.py --address 0.0.0.0 --port $PORT", Band::Review);
    expect("python-gradio", "web", "python app.py", Band::Review);
}

#[test]
fn a_script_that_serves_itself_is_web() {
    expect("python-aiohttp-run-app", "web", "python server.py", Band::Review);
}

#[test]
fn without_its_server_the_repo_runs_what_it_can_and_says_what_to_add() {
    let plan = expect("python-flask-script-no-server", "web", "python server.py", Band::Review);
    assert!(warns(&plan, WarningCode::UnknownProgram, "gunicorn"), "{:?}", plan.warnings);
    let plan = expect("python-fastapi-no-uvicorn", "web", "uvicorn main:app --host 0.0.0.0 --port $PORT", Band::Review);
    assert!(warns(&plan, WarningCode::UnknownProgram, "uvicorn"), "{:?}", plan.warnings);
}

#[test]
fn flask_without_a_server_or_a_script_runs_its_own_cli() {
    let plan = expect("python-flask-run", "web", "flask --app hello:app run --host 0.0.0.0 --port $PORT", Band::Review);
    assert!(warns(&plan, WarningCode::UnknownProgram, "add gunicorn"), "{:?}", plan.warnings);
}

#[test]
fn django_without_a_manifest_is_python_and_needs_one() {
    let plan = expect("python-django-no-manifest", "web", "gunicorn shop.wsgi --bind 0.0.0.0:$PORT", Band::Review);
    assert_eq!(plan.language.as_ref().map(|l| l.name.as_str()), Some("python"));
    assert!(warns(&plan, WarningCode::UnknownProgram, "requirements.txt"), "{:?}", plan.warnings);
}

#[test]
fn django_in_a_subdirectory_runs_from_there() {
    expect("python-django-subdir", "web", "gunicorn --chdir backend shop.wsgi --bind 0.0.0.0:$PORT", Band::Review);
}

#[test]
fn flaskenv_names_the_app_among_several() {
    expect("python-flaskenv", "web", "gunicorn portal:app --bind 0.0.0.0:$PORT", Band::Review);
}

#[test]
fn confidence_bands_follow_the_measurements() {
    expect("python-django", "web", "gunicorn mysite.wsgi --bind 0.0.0.0:$PORT", Band::Ready);
    // An app object: 6 right of 6 measured, not yet enough to run unreviewed.
    expect("python-fastapi", "web", "uvicorn app.main:app --host 0.0.0.0 --port $PORT", Band::Review);
}

#[test]
fn dash_is_served_through_its_flask_server() {
    expect("python-dash", "web", "gunicorn app:server --bind 0.0.0.0:$PORT", Band::Review);
}

#[test]
fn a_root_wsgi_file_that_builds_the_app_is_what_gunicorn_loads() {
    expect("python-wsgi-reexport", "web", "gunicorn wsgi:app --bind 0.0.0.0:$PORT", Band::Review);
}

#[test]
fn socketio_without_an_async_worker_runs_its_own_server() {
    // A sync gunicorn worker would break the websockets.
    expect("python-socketio", "web", "python app.py", Band::Review);
}

#[test]
fn tornado_serves_itself() {
    expect("python-tornado", "web", "python server.py", Band::Review);
}
