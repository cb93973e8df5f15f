//! What the repository itself says about how it runs, before any language convention:
//! docker-compose services, Dockerfiles that do not build the image, start/entrypoint
//! scripts, Makefile targets and README code blocks.
//!
//! Why a separate source: these are the owner's own words, so they beat a rule's guess about
//! the same app; but none of them is addressed to the platform (compose and Makefiles are for
//! a laptop, a README is prose anyone can write), so each command is admitted through the
//! validator like a model's proposal and scored below [`crate::plan::READY_CONFIDENCE`]
//! unless the code corroborates it (a language rule names the same program and target).
//!
//! Every reader is pure over the [`RepoView`], reads a bounded number of bounded files, is
//! linear in what it reads and never panics on hostile input.

pub mod compose;
pub mod makefile;
pub mod readme;
pub mod scripts;

use super::{dockerfile, Candidate};
use crate::cascade::procfile;
use crate::command;
use crate::plan::{Evidence, LanguageName, WarningCode};
use crate::validate;
use crate::view::RepoView;

/// Where a stated command was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatedOrigin {
    Compose,
    /// A Dockerfile other than the one `docker build` uses (`docker/Dockerfile`, `Dockerfile.prod`).
    Dockerfile,
    Script,
    Makefile,
    Readme,
}

impl StatedOrigin {
    /// The rule name carried in the evidence.
    pub fn rule(self) -> &'static str {
        match self {
            StatedOrigin::Compose => "stated.compose",
            StatedOrigin::Dockerfile => "stated.dockerfile",
            StatedOrigin::Script => "stated.script",
            StatedOrigin::Makefile => "stated.makefile",
            StatedOrigin::Readme => "stated.readme",
        }
    }

    /// Who stated the command, in the plan's terms.
    pub fn source(self) -> crate::plan::ProcessSource {
        use crate::plan::ProcessSource as P;
        match self {
            StatedOrigin::Compose => P::Compose,
            StatedOrigin::Dockerfile => P::Dockerfile,
            StatedOrigin::Script => P::Script,
            StatedOrigin::Makefile => P::Makefile,
            StatedOrigin::Readme => P::Readme,
        }
    }

    /// Prior confidence of the origin: how deliberately it names the production command.
    /// Every origin is below READY_CONFIDENCE on its own (too few cases in the corpora to
    /// earn more; see eval/README.md); corroboration lifts it.
    fn confidence(self) -> f32 {
        match self {
            StatedOrigin::Compose => 0.85,
            StatedOrigin::Dockerfile => 0.8,
            StatedOrigin::Script => 0.8,
            StatedOrigin::Makefile => 0.7,
            StatedOrigin::Readme => 0.5,
        }
    }
}

/// A start command the repository states.
#[derive(Debug, Clone, PartialEq)]
pub struct Stated {
    pub kind: String,
    pub command: String,
    pub origin: StatedOrigin,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

/// What a reader found before admission: the kind if the source says it, else None.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Raw {
    pub kind: Option<String>,
    pub command: String,
    pub origin: StatedOrigin,
    /// From the repository root.
    pub file: String,
}

/// Confidence lost when the kind is guessed (defaulted to web) rather than stated or seen.
const GUESSED_KIND: f32 = 0.1;
/// Confidence lost by a development server or reloader.
const DEV_SERVER: f32 = 0.2;
/// Gained when a language rule independently names the same program and target.
const CORROBORATED: f32 = 0.1;
/// Ceiling for a corroborated stated command.
const MAX_CONFIDENCE: f32 = 0.95;

/// Programs that serve HTTP when they run.
const WEB_PROGRAMS: &[&str] = &[
    "gunicorn",
    "uvicorn",
    "hypercorn",
    "daphne",
    "waitress-serve",
    "granian",
    "streamlit",
    "chainlit",
    "panel",
    "bokeh",
    "puma",
    "unicorn",
    "thin",
    "rackup",
    "rails",
    "php-fpm",
    "heroku-php-apache2",
    "heroku-php-nginx",
    "next",
    "serve",
    "http-server",
];

/// Programs that run background workers.
const WORKER_PROGRAMS: &[&str] = &["celery", "rq", "sidekiq", "resque", "huey_consumer", "dramatiq", "arq"];

/// Services that are infrastructure, not the app: proxies and datastores built locally.
const INFRA_PROGRAMS: &[&str] =
    &["nginx", "caddy", "traefik", "haproxy", "postgres", "mysqld", "redis-server", "mongod", "envoy"];

/// Targets that are one-off tasks, not long-running processes.
const ONE_OFF_TARGETS: &[&str] = &[
    "migrate",
    "makemigrations",
    "collectstatic",
    "test",
    "tests",
    "install",
    "build",
    "lint",
    "shell",
    "createsuperuser",
    "seed",
    "setup",
    "db:migrate",
    "init",
];

/// Markers of a development server: fine on a laptop, not what a deploy runs.
fn is_dev(cmd: &str) -> bool {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    words.iter().any(|w| matches!(*w, "--reload" | "--debug" | "runserver" | "nodemon" | "vite" | "--watch"))
        || words.windows(2).any(|p| {
            matches!(
                p,
                ["next" | "nuxt" | "fastapi", "dev"]
                    | ["run", "dev"]
                    | ["npm" | "yarn", "dev"]
                    | ["go" | "cargo", "run"]
            )
        })
}

/// The kind a command shows by itself: web when it serves HTTP, worker for known queue
/// workers, None when only its code could tell.
pub(crate) fn kind_of(cmd: &str) -> Option<&'static str> {
    if command::mentions_port_var(cmd) || command::literal_port(cmd).is_some() {
        return Some("web");
    }
    let key = command::process_key(cmd)?;
    let target = key.target.as_deref().unwrap_or("");
    if WORKER_PROGRAMS.contains(&key.program.as_str()) || (key.program == "celery" && target == "worker") {
        return Some("worker");
    }
    let serves = WEB_PROGRAMS.contains(&key.program.as_str())
        || (key.target.as_deref() == Some("manage.py") && key.positionals.iter().any(|p| p == "runserver"))
        || (key.program == "flask" && target == "run")
        || (key.program == "php" && cmd.split_whitespace().any(|w| w == "-S"));
    serves.then_some("web")
}

/// True for a command that does not run the app: a one-off task or an infrastructure service.
pub(crate) fn is_not_app(cmd: &str) -> bool {
    let Some(key) = command::process_key(cmd) else { return true };
    if INFRA_PROGRAMS.contains(&key.program.as_str()) {
        return true;
    }
    let positional_one_off = key.positionals.iter().take(2).any(|p| ONE_OFF_TARGETS.contains(&p.as_str()));
    // Django's manage.py runs the app only with runserver; every other command is a task.
    let manage_task =
        key.target.as_deref() == Some("manage.py") && key.positionals.get(1).is_none_or(|c| c != "runserver");
    positional_one_off
        || manage_task
        || key.program.contains('=')
        || matches!(key.program.as_str(), "pytest" | "pip" | "pip3" | "make" | "docker" | "docker-compose" | "jest")
}

/// Words of an exec-form list joined into one command line, quoting words with spaces.
pub(crate) fn join_words<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words
        .into_iter()
        .map(|w| if w.contains(char::is_whitespace) { format!("{w:?}") } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Paths under the image's WORKDIR made relative: the buildpacks run the app from its own
/// directory, not from where the Dockerfile copied it.
fn strip_workdir(cmd: &str, workdir: Option<&str>) -> String {
    let Some(w) = workdir.map(|w| w.trim_end_matches('/')).filter(|w| w.starts_with('/') && w.len() > 1) else {
        return cmd.to_string();
    };
    let prefix = format!("{w}/");
    cmd.split(' ').map(|word| word.strip_prefix(&prefix).unwrap_or(word)).collect::<Vec<_>>().join(" ")
}

/// Every start command the repository states for the app at `view`, admitted and scored,
/// in reading order (compose, other Dockerfiles, scripts, Makefile, README).
pub fn commands(view: &RepoView, language: Option<LanguageName>) -> Vec<Stated> {
    let _span = tracing::debug_span!("stated", subdir = view.subdir()).entered();
    let mut raw = compose::read(view);
    for d in dockerfile::elsewhere(view) {
        if let Some(c) = &d.command {
            raw.push(Raw {
                kind: None,
                command: strip_workdir(c, d.workdir.as_deref()),
                origin: StatedOrigin::Dockerfile,
                file: view.repo_path(&d.path),
            });
        }
    }
    // A stated command that runs a start script of the repository: the script's server line.
    for r in raw.iter_mut() {
        if let Some(line) = scripts::resolve(view, &r.command) {
            r.command = line;
        }
    }
    raw.extend(scripts::read(view));
    raw.extend(makefile::read(view));
    raw.extend(readme::read(view));
    let read = raw.len();
    let admitted: Vec<Stated> = raw.into_iter().filter_map(|r| admit(view, language, r)).collect();
    tracing::debug!(read, admitted = admitted.len(), "stated commands");
    admitted
}

/// The admission of one stated command: the port made `$PORT`, the validator passed, the
/// confidence set. README commands must also name a program of the language or a file of the
/// repository: its text is untrusted.
fn admit(view: &RepoView, language: Option<LanguageName>, raw: Raw) -> Option<Stated> {
    let cmd = raw.command.split_whitespace().collect::<Vec<_>>().join(" ");
    if cmd.is_empty() || is_not_app(&cmd) {
        return None;
    }
    let seen = raw.kind.clone().or_else(|| kind_of(&cmd).map(str::to_string));
    let kind = seen.clone().unwrap_or_else(|| "web".to_string());
    let cmd = if kind == "web" { procfile::fix_port(&cmd).unwrap_or(cmd) } else { cmd };
    let problems = validate::check(&cmd, &kind, language, view);
    // Inline code is never a start command taken from text (DESIGN.md, admission).
    let inline = cmd.split_whitespace().any(|w| matches!(w, "-c" | "-e" | "--eval" | "--require" | "-r"));
    if raw.origin == StatedOrigin::Readme && inline {
        return None;
    }
    let blocking = |c: WarningCode| match raw.origin {
        StatedOrigin::Readme => c != WarningCode::HardcodedPort,
        _ => c == WarningCode::UnsafeCommand,
    };
    let relative_to_repo = matches!(raw.origin, StatedOrigin::Readme | StatedOrigin::Script | StatedOrigin::Makefile);
    if problems.iter().any(|p| blocking(p.code)) || (relative_to_repo && !script_exists(view, &cmd)) {
        tracing::debug!(command = %cmd, origin = raw.origin.rule(), "stated command not admitted");
        return None;
    }
    let mut confidence = raw.origin.confidence();
    if seen.is_none() {
        confidence -= GUESSED_KIND;
    }
    if is_dev(&cmd) {
        confidence -= DEV_SERVER;
    }
    Some(Stated {
        kind,
        command: cmd,
        origin: raw.origin,
        confidence: round(confidence),
        evidence: vec![Evidence::new(raw.file.clone(), raw.origin.rule())],
    })
}

/// Extensions of scripts an interpreter runs.
const SCRIPT_EXT: &[&str] = &[".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".php", ".jar", ".sh"];

/// An interpreter's script (`python app.py`, `node dist/server.js` excepted: built) is a file
/// of the app.
fn script_exists(view: &RepoView, cmd: &str) -> bool {
    const BUILT: &[&str] = &["dist/", "build/", "target/", "out/", ".next/", "lib/", "bin/"];
    let Some(target) = command::process_key(cmd).and_then(|k| k.target) else { return true };
    let path = target.trim_start_matches("./");
    !SCRIPT_EXT.iter().any(|x| path.ends_with(x)) || view.is_file(path) || BUILT.iter().any(|b| path.starts_with(b))
}

/// Two decimals: confidences are calibrated to that, and plans stay readable.
fn round(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

fn same_process(a: &str, b: &str) -> bool {
    match (command::process_key(a), command::process_key(b)) {
        (Some(x), Some(y)) => x.program == y.program && x.target == y.target,
        _ => false,
    }
}

/// The best command per kind, stated and inferred together. A stated command the rules
/// corroborate (same program and target) gains confidence and the rule's evidence; a README
/// command takes the rule's rendering (the rule knows the platform's flags). For each kind
/// the highest confidence wins; on a tie, what the repository states. Kinds keep the order
/// they first appear in, web first.
pub fn choose(stated: Vec<Stated>, rules: &[Candidate]) -> Vec<Stated> {
    let mut all: Vec<Stated> = Vec::new();
    for mut s in stated {
        if let Some(rule) = rules.iter().find(|c| same_process(&c.command, &s.command)) {
            s.confidence = round((s.confidence.max(rule.confidence) + CORROBORATED).min(MAX_CONFIDENCE));
            // A README line is a laptop's; the rule's rendering is the platform's, unless it
            // would drop the port the README passes.
            let keeps_port = command::mentions_port_var(&rule.command) || !command::mentions_port_var(&s.command);
            if s.origin == StatedOrigin::Readme && keeps_port {
                s.command = rule.command.clone();
            }
            if s.kind != rule.kind && kind_of(&s.command).is_none() {
                s.kind = rule.kind.clone(); // the code says what it is
            }
            s.evidence.extend(rule.evidence.iter().cloned());
        }
        all.push(s);
    }
    let mut kinds: Vec<String> = Vec::new();
    for k in all.iter().map(|s| s.kind.clone()) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    kinds.sort_by_key(|k| k != "web");
    kinds
        .into_iter()
        .filter_map(|k| {
            // max_by keeps the last of equals: iterate in reverse so the first stated wins.
            all.iter()
                .filter(|s| s.kind == k)
                .rev()
                .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
                .cloned()
                .filter(|best| rules.iter().filter(|c| c.kind == k).all(|c| c.confidence <= best.confidence))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_paths_become_relative() {
        assert_eq!(strip_workdir("python /srv/app.py --x /srv", Some("/srv/")), "python app.py --x /srv");
        assert_eq!(strip_workdir("python /app.py", Some("/")), "python /app.py");
    }

    #[test]
    fn kinds_from_the_command() {
        assert_eq!(kind_of("gunicorn app:app"), Some("web"));
        assert_eq!(kind_of("python bot.py"), None);
        assert_eq!(kind_of("python app.py --port $PORT"), Some("web"));
        assert_eq!(kind_of("celery -A proj worker"), Some("worker"));
        assert_eq!(kind_of("python manage.py runserver 0.0.0.0:8000"), Some("web"));
        assert!(is_not_app("python manage.py migrate"));
        assert!(is_not_app("nginx -g daemon off;"));
        assert!(!is_not_app("node server.js"));
        assert!(is_not_app("python manage.py setup_db"));
        assert!(!is_not_app("python manage.py runserver"));
        assert!(is_not_app("PORT=$PORT"));
    }

    #[test]
    fn corroboration_lifts_and_the_better_rule_wins() {
        let v = RepoView::from_memory([("app.py", "")]);
        let raw = |c: &str, origin| Raw { kind: None, command: c.into(), origin, file: "README.md".into() };
        let readme =
            admit(&v, Some(LanguageName::Python), raw("gunicorn app:app -b 0.0.0.0:8000", StatedOrigin::Readme));
        let readme = readme.expect("admitted");
        assert_eq!(readme.command, "gunicorn app:app -b 0.0.0.0:$PORT");
        assert!(readme.confidence < crate::plan::READY_CONFIDENCE);

        let rule = Candidate::new("web", "gunicorn app:app --bind 0.0.0.0:$PORT", 0.8, vec![]);
        let got = choose(vec![readme.clone()], std::slice::from_ref(&rule));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].command, rule.command);
        assert!(got[0].confidence >= crate::plan::READY_CONFIDENCE);

        // An uncorroborated README line loses to a more confident rule.
        let other = Candidate::new("web", "uvicorn main:app", 0.8, vec![]);
        assert!(choose(vec![readme], &[other]).is_empty());
    }

    #[test]
    fn readme_needs_a_real_program() {
        let v = RepoView::from_memory([("app.py", "")]);
        let raw =
            |c: &str| Raw { kind: None, command: c.into(), origin: StatedOrigin::Readme, file: "README.md".into() };
        assert!(admit(&v, Some(LanguageName::Python), raw("python missing.py")).is_none());
        assert!(admit(&v, Some(LanguageName::Python), raw("curl -s x | sh")).is_none());
        assert!(admit(&v, Some(LanguageName::Python), raw("python app.py")).is_some());
    }
}
