//! Python: requirements.txt, pyproject.toml, setup.py, Pipfile.
//!
//! Start commands, most specific first: Django's WSGI module (from settings), an ASGI/WSGI app
//! object (`app = FastAPI()`, `app = Flask(__name__)`, a `create_app` factory), a framework's
//! own CLI (`streamlit run`, `chainlit run`, `panel serve`, Gradio's `launch()`), then the
//! scripts `python FILE` starts, typed by what they block on ([`entry`]): HTTP is `web`, a
//! chat bot or scheduler is `worker`. Workers for Celery (and beat) and RQ.
//! `[project.scripts]` entries are not guessed at: a CLI entry point is rarely the server.
//! Confidences are measured, not chosen: see [`calibration`].

pub mod calibration;
pub mod entry;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex_lite::Regex;

use super::{read_toml, source_files, version_file, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode, Warning, WarningCode};
use crate::view::RepoView;

pub struct Python;

const INDICATORS: &[&str] = &["requirements.txt", "pyproject.toml", "setup.py", "Pipfile"];

/// A Django project without any manifest is still a Python app (it cannot build until one is
/// added, which the analysis says).
const PROJECT_INDICATORS: &[&str] = &["manage.py"];

/// Dependencies that make a Python manifest an app rather than a library or a helper.
const SERVER_DEPS: &[&str] = &[
    "django",
    "flask",
    "fastapi",
    "starlette",
    "gunicorn",
    "uvicorn",
    "celery",
    "aiohttp",
    "sanic",
    "quart",
    "litestar",
    "tornado",
    "bottle",
    "falcon",
    "hypercorn",
    "daphne",
    "streamlit",
    "gradio",
    "langserve",
];

/// `[project.scripts]` names that start the app rather than a tool.
const SERVER_SCRIPTS: &[&str] = &["serve", "server", "start", "web", "run-server", "runserver", "app"];

const FRAMEWORKS: &[&str] = &[
    "django",
    "fastapi",
    "flask",
    "starlette",
    "quart",
    "sanic",
    "litestar",
    "aiohttp",
    "tornado",
    "bottle",
    "falcon",
    "streamlit",
];

impl Ecosystem for Python {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::PYTHON_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Python
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        let mut present: Vec<&str> = INDICATORS.iter().copied().filter(|f| view.is_file(f)).collect();
        if present.is_empty() {
            present = PROJECT_INDICATORS.iter().copied().filter(|f| view.is_file(f)).collect();
        }
        if present.is_empty() {
            return None;
        }
        let deps = dependencies(view).0;
        let strong = view.is_file("manage.py") || SERVER_DEPS.iter().any(|d| deps.contains(*d));
        Some(Detection {
            language: LanguageName::Python,
            strength: if strong { Strength::Strong } else { Strength::Normal },
            evidence: present.iter().map(|f| Evidence::new(view.repo_path(f), "python.indicator")).collect(),
        })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        let (deps, warnings) = dependencies(view);
        a.warnings.extend(warnings);
        a.version = version(view);
        a.framework = FRAMEWORKS.iter().find(|f| deps.contains(**f)).map(|f| f.to_string());
        gpu_warning(view, &deps, &mut a);

        let scripts = entry::scripts(view);
        if let Some(web) = django(view, &deps).or_else(|| django_below(view, &deps)) {
            a.framework = Some("django".into());
            a.processes.push(web);
        } else if let Some(found) = app_object(view, &deps, &scripts) {
            a.framework.get_or_insert(found.framework);
            a.processes.push(found.web);
            a.warnings.extend(found.warning);
            a.questions.extend(found.question);
        } else if let Some((web, framework)) = entry::framework_cli(view, &scripts, &deps) {
            a.framework = Some(framework);
            a.processes.push(web);
        } else if let Some(web) = entry::gradio(view, &scripts) {
            a.framework = Some("gradio".into());
            let file = web.command.trim_start_matches("python ").to_string();
            if !view.text(&file).is_some_and(|t| t.contains("PORT")) {
                a.warnings.push(Warning {
                    code: WarningCode::HardcodedPort,
                    message: format!("{file} launches Gradio on its default port 7860: set GRADIO_SERVER_NAME=0.0.0.0 and GRADIO_SERVER_PORT=$PORT, or pass server_port from $PORT"),
                    file: Some(view.repo_path(&file)),
                    line: None,
                });
            }
            a.processes.push(web);
        } else if view.is_file("manage.py") {
            a.framework = Some("django".into());
        }
        for c in entry::started(view, &scripts) {
            if !a.processes.iter().any(|p| p.kind == c.kind) {
                a.processes.push(c);
            }
        }
        if !INDICATORS.iter().any(|f| view.is_file(f)) {
            a.warnings.push(Warning {
                code: WarningCode::UnknownProgram,
                message: "no requirements.txt, pyproject.toml or Pipfile: the buildpack installs nothing; add one that lists the app's dependencies and its server".into(),
                file: None,
                line: None,
            });
        }
        for (program, dep) in [("gunicorn", "gunicorn"), ("uvicorn", "uvicorn")] {
            let uses = a.processes.iter().any(|p| p.command.starts_with(program));
            if uses && !deps.contains(dep) && !deps.is_empty() {
                a.warnings.push(Warning {
                    code: WarningCode::UnknownProgram,
                    message: format!(
                        "the suggested web command runs {program}, which is not in the dependencies: add it"
                    ),
                    file: None,
                    line: None,
                });
            }
        }
        a.processes.extend(workers(view, &deps));
        let scripts = project_scripts(view);
        // A console script named like a server (`serve`, `start`, ...) is what `pip install`
        // puts on PATH to run the app; other names (`hello`, `migrate`) are CLIs, not assumed.
        if !a.processes.iter().any(|p| p.kind == "web") {
            let server = scripts.iter().find(|s| SERVER_SCRIPTS.contains(&s.as_str()) && super::is_plain_name(s));
            if let Some(name) = server {
                let ev = vec![Evidence::new(view.repo_path("pyproject.toml"), "python.project_script")];
                a.processes.insert(0, Candidate::new("web", name.clone(), calibration::PROJECT_SCRIPT, ev));
            }
        }
        // A bot or a loop started by its own script is the whole app: no web process is
        // missing. (A Celery worker serves some other app's web, which is still asked for.)
        let started_worker = a.processes.iter().any(|p| p.kind == "worker" && p.command.starts_with("python"));
        if !a.processes.iter().any(|p| p.kind == "web") && !started_worker {
            let mut detail = "no Django project, ASGI/WSGI app object or serving script found".to_string();
            if !scripts.is_empty() {
                detail.push_str(&format!(
                    "; [project.scripts] has {} (not assumed to be the server)",
                    scripts.join(", ")
                ));
            }
            a.questions.push(Question { code: QuestionCode::NoWebCommand, detail });
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &[
            "python",
            "python3",
            "gunicorn",
            "uvicorn",
            "hypercorn",
            "daphne",
            "celery",
            "rq",
            "fastapi",
            "flask",
            "streamlit",
            "waitress-serve",
            "uwsgi",
            "sanic",
            "litestar",
            "granian",
            "dramatiq",
            "huey_consumer",
            "gradio",
            "chainlit",
            "panel",
            "bokeh",
            "uv",
            "poetry",
            "pipenv",
        ]
    }
}

/// Normalized (lower-case, `_` as `-`) names of the declared dependencies.
fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

fn requirement_name(line: &str) -> Option<String> {
    let line = line.split('#').next()?.trim();
    if line.is_empty() || line.starts_with('-') {
        return None;
    }
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(line.len());
    let name = &line[..end];
    (!name.is_empty()).then(|| normalize(name))
}

/// Dependencies from every manifest present, plus warnings for the ones that do not parse.
pub fn dependencies(view: &RepoView) -> (BTreeSet<String>, Vec<Warning>) {
    let mut deps = BTreeSet::new();
    let mut warnings = Vec::new();
    for file in view.root_files_ending(".txt").iter().filter(|f| f.starts_with("requirements")) {
        match view.read_text(file) {
            Ok(text) => deps.extend(text.lines().filter_map(requirement_name)),
            Err(e) => warnings.push(super::manifest_warning(view, file, &e)),
        }
    }
    match read_toml(view, "pyproject.toml") {
        Ok(Some(doc)) => {
            let strings = |v: Option<&toml::Value>| -> Vec<String> {
                v.and_then(toml::Value::as_array)
                    .map(|a| a.iter().filter_map(|d| d.as_str().and_then(requirement_name)).collect())
                    .unwrap_or_default()
            };
            deps.extend(strings(doc.get("project").and_then(|p| p.get("dependencies"))));
            if let Some(groups) = doc.get("dependency-groups").and_then(toml::Value::as_table) {
                for g in groups.values() {
                    deps.extend(strings(Some(g)));
                }
            }
            if let Some(opt) =
                doc.get("project").and_then(|p| p.get("optional-dependencies")).and_then(toml::Value::as_table)
            {
                for g in opt.values() {
                    deps.extend(strings(Some(g)));
                }
            }
            let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
            if let Some(t) = poetry.and_then(|p| p.get("dependencies")).and_then(toml::Value::as_table) {
                deps.extend(t.keys().map(|k| normalize(k)).filter(|k| k != "python"));
            }
        }
        Ok(None) => {}
        Err(w) => warnings.push(w),
    }
    match read_toml(view, "Pipfile") {
        Ok(Some(doc)) => {
            if let Some(t) = doc.get("packages").and_then(toml::Value::as_table) {
                deps.extend(t.keys().map(|k| normalize(k)));
            }
        }
        Ok(None) => {}
        Err(w) => warnings.push(w),
    }
    if let Some(text) = view.text("setup.py") {
        // install_requires is code, not data: take quoted names that look like requirements.
        static RE: OnceLock<Option<Regex>> = OnceLock::new();
        if let Some(re) = RE.get_or_init(|| Regex::new(r#"["']([A-Za-z0-9_.\-]+)\s*(?:[<>=~!\[;][^"']*)?["']"#).ok()) {
            if let Some(start) = text.find("install_requires") {
                let tail = &text[start..];
                let block = &tail[..tail.find(']').unwrap_or(tail.len())];
                deps.extend(re.captures_iter(block).filter_map(|c| c.get(1)).map(|m| normalize(m.as_str())));
            }
        }
    }
    (deps, warnings)
}

fn version(view: &RepoView) -> Option<(String, String)> {
    if let Some(v) = version_file(view, ".python-version") {
        return Some(v);
    }
    if let Some((v, f)) = version_file(view, "runtime.txt") {
        return Some((v.trim_start_matches("python-").to_string(), f));
    }
    if let Ok(Some(doc)) = read_toml(view, "pyproject.toml") {
        let req = doc.get("project").and_then(|p| p.get("requires-python")).and_then(toml::Value::as_str);
        let poetry = doc
            .get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(|p| p.get("dependencies"))
            .and_then(|d| d.get("python"))
            .and_then(toml::Value::as_str);
        if let Some(v) = req.or(poetry) {
            return Some((v.to_string(), view.repo_path("pyproject.toml")));
        }
    }
    if let Ok(Some(doc)) = read_toml(view, "Pipfile") {
        if let Some(v) = doc.get("requires").and_then(|r| r.get("python_version")).and_then(toml::Value::as_str) {
            return Some((v.to_string(), view.repo_path("Pipfile")));
        }
    }
    None
}

fn gpu_warning(view: &RepoView, deps: &BTreeSet<String>, a: &mut Analysis) {
    let gpu_dep = deps.iter().find(|d| d.starts_with("cupy") || d.starts_with("nvidia-") || *d == "tensorflow-gpu");
    let cuda_index = view
        .root_files_ending(".txt")
        .iter()
        .filter(|f| f.starts_with("requirements"))
        .find(|f| view.text(f).is_some_and(|t| t.contains("download.pytorch.org/whl/cu") || t.contains("+cu1")))
        .cloned();
    let cause = gpu_dep.map(|d| format!("dependency {d}")).or(cuda_index.map(|f| format!("CUDA wheels in {f}")));
    if let Some(cause) = cause {
        a.warnings.push(Warning {
            code: WarningCode::GpuLibraries,
            message: format!(
                "{cause} needs CUDA libraries the buildpacks' run image does not provide: add a Dockerfile FROM an nvidia/cuda image"
            ),
            file: None,
            line: None,
        });
    }
}

/// The lines of `text` that hold one of `needles`: regexes then run over a few lines instead
/// of whole files (regex-lite has no literal prefilter of its own).
fn keep_lines(text: &str, needles: &[&str]) -> String {
    text.lines().filter(|l| needles.iter().any(|n| l.contains(n))).collect::<Vec<_>>().join("\n")
}

fn re(pattern: &'static str, cell: &'static OnceLock<Option<Regex>>) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

/// `"name"` or `'name'` at the start of `s` (after spaces): a dotted Python name.
fn quoted_name(s: &str) -> Option<&str> {
    let body = s.trim_start().strip_prefix(['"', '\''])?;
    let end = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))?;
    (end > 0 && body[end..].starts_with(['"', '\''])).then(|| &body[..end])
}

/// The settings module in manage.py's `setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")`.
/// Matched by hand, like the two below: every Django repository runs them, and compiling
/// their regexes was a fifth of a scan's instructions.
fn settings_module(manage: &str) -> Option<&str> {
    manage.lines().find_map(|line| {
        line.match_indices("DJANGO_SETTINGS_MODULE").find_map(|(i, key)| {
            let rest = line[i + key.len()..].strip_prefix(['"', '\''])?;
            quoted_name(rest.trim_start().strip_prefix(',')?)
        })
    })
}

/// The value of a line `KEY = "dotted.name"` (not commented out) in settings.
fn setting<'t>(settings: &'t str, key: &str) -> Option<&'t str> {
    settings.lines().find_map(|line| quoted_name(line.trim_start().strip_prefix(key)?.trim_start().strip_prefix('=')?))
}

/// Django: the WSGI (or ASGI) module named in settings, found through manage.py.
fn django(view: &RepoView, deps: &BTreeSet<String>) -> Option<Candidate> {
    let settings_module = settings_module(&view.text("manage.py")?)?.to_string();
    let mut evidence = vec![Evidence::new(view.repo_path("manage.py"), "python.django_manage")];
    // `mysite.settings` or `mysite.settings.production`: try the module file, then the package.
    let base = settings_module.replace('.', "/");
    let settings_file = [format!("{base}.py"), format!("{base}/__init__.py")].into_iter().find(|f| view.is_file(f));
    let settings_text = settings_file.as_deref().and_then(|f| view.text(f)).unwrap_or_default();
    if let Some(f) = &settings_file {
        evidence.push(Evidence::new(view.repo_path(f), "python.django_settings"));
    }
    let module_of = |key: &str| -> Option<String> {
        let target = setting(&settings_text, key)?;
        Some(target.rsplit_once('.').map(|(m, _)| m.to_string()).unwrap_or_else(|| target.to_string()))
    };
    let wsgi = module_of("WSGI_APPLICATION");
    let asgi = module_of("ASGI_APPLICATION");
    let package = settings_module.split('.').next().unwrap_or("").to_string();
    // Settings not found: the conventional `<package>/wsgi.py` next to them.
    let wsgi = wsgi.or_else(|| view.is_file(&format!("{package}/wsgi.py")).then(|| format!("{package}.wsgi")));
    let asgi_only = asgi.is_some() && (deps.contains("channels") || wsgi.is_none());
    let (cmd, conf) = if asgi_only {
        let m = asgi?;
        if deps.contains("daphne") {
            (format!("daphne {m}:application --bind 0.0.0.0 --port $PORT"), calibration::DJANGO_NO_SERVER)
        } else {
            let conf =
                if deps.contains("uvicorn") { calibration::DJANGO_NO_SERVER } else { calibration::SERVER_MISSING };
            (format!("uvicorn {m}:application --host 0.0.0.0 --port $PORT"), conf)
        }
    } else {
        let m = wsgi?;
        if super::is_plain_name(&m) {
            let conf = if deps.contains("gunicorn") { calibration::DJANGO } else { calibration::DJANGO_NO_SERVER };
            (format!("gunicorn {m} --bind 0.0.0.0:$PORT"), conf)
        } else {
            return None;
        }
    };
    if !super::is_plain_name(cmd.split_whitespace().nth(1).unwrap_or("")) {
        return None;
    }
    Some(Candidate::new("web", cmd, conf, evidence))
}

/// A Django project one directory down (`backend/manage.py`) of a repository whose manifest
/// is at the root: gunicorn runs it from there with `--chdir`.
fn django_below(view: &RepoView, deps: &BTreeSet<String>) -> Option<Candidate> {
    let mut dirs: Vec<String> = view
        .find_files(1, |name| name == "manage.py")
        .into_iter()
        .filter_map(|f| f.strip_suffix("/manage.py").map(str::to_string))
        .filter(|d| !d.contains('/') && super::is_plain_name(d))
        .collect();
    dirs.sort();
    let [dir] = dirs.as_slice() else { return None };
    let mut c = django(&view.subview(dir), deps)?;
    let rest = c.command.strip_prefix("gunicorn ")?;
    c.command = format!("gunicorn --chdir {dir} {rest}");
    c.confidence = c.confidence.min(calibration::DJANGO_BELOW);
    Some(c)
}

/// Python module path of a file: `app/main.py` -> `app.main`, `pkg/__init__.py` -> `pkg`.
fn module_path(file: &str) -> String {
    let stem = file.trim_end_matches(".py");
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    stem.replace('/', ".")
}

/// Files an app object usually lives in, best first.
const ENTRY_NAMES: &[&str] = &["main", "app", "server", "application", "api", "wsgi", "asgi", "run", "__init__", "web"];

fn entry_rank(file: &str) -> (usize, usize) {
    let name = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".py");
    let by_name = ENTRY_NAMES.iter().position(|n| *n == name).unwrap_or(ENTRY_NAMES.len());
    (file.matches('/').count(), by_name)
}

/// The app object a file defines: (variable or `factory()`, framework).
fn app_in(text: &str) -> Option<(String, String)> {
    static OBJ: OnceLock<Option<Regex>> = OnceLock::new();
    static FACTORY: OnceLock<Option<Regex>> = OnceLock::new();
    let obj = re(
        r"(?m)^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[A-Za-z_.]+\s*)?=\s*(?:[A-Za-z_]+\.)?(FastAPI|Starlette|Flask|Quart|Sanic|Litestar|Bottle|App|Application)\(",
        &OBJ,
    )?;
    let factory = re(r"(?m)^def\s+(create_app|make_app|app_factory)\s*\(", &FACTORY)?;
    let imports = |m: &str| text.contains(&format!("import {m}")) || text.contains(&format!("from {m}"));
    // Dash: gunicorn serves the Flask server the app exposes (`server = app.server`).
    if imports("dash") {
        static SERVER: OnceLock<Option<Regex>> = OnceLock::new();
        let server = re(r"(?m)^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[A-Za-z_][A-Za-z0-9_]*\.server\s*$", &SERVER)?;
        let lines = keep_lines(text, &[".server"]);
        return server.captures(&lines).and_then(|c| c.get(1)).map(|m| (m.as_str().to_string(), "dash".to_string()));
    }
    const CLASSES: &[&str] =
        &["FastAPI(", "Starlette(", "Flask(", "Quart(", "Sanic(", "Litestar(", "Bottle(", "App(", "Application("];
    let candidates = keep_lines(text, CLASSES);
    let found = obj.captures_iter(&candidates).find_map(|c| {
        let var = c.get(1)?.as_str().to_string();
        let class = c.get(2)?.as_str();
        let framework = match class {
            "FastAPI" => "fastapi",
            "Starlette" => "starlette",
            "Flask" => "flask",
            "Quart" => "quart",
            "Sanic" => "sanic",
            "Litestar" => "litestar",
            "Bottle" => "bottle",
            "App" if imports("falcon") => "falcon",
            "Application" if imports("tornado") => return None, // tornado serves itself
            _ => return None,
        };
        Some((var, framework.to_string()))
    });
    if found.is_some() {
        return found;
    }
    let defs = keep_lines(text, &["def create_app", "def make_app", "def app_factory"]);
    let c = factory.captures(&defs)?;
    let fw = if imports("flask") {
        "flask"
    } else if imports("fastapi") {
        "fastapi"
    } else {
        return None;
    };
    Some((format!("{}()", c.get(1).map(|m| m.as_str()).unwrap_or("create_app")), fw.to_string()))
}

/// What [`app_object`] found: the web process, and what a person should know about it.
struct AppObject {
    web: Candidate,
    framework: String,
    /// The server the command needs is missing.
    warning: Option<Warning>,
    /// Several files define an app: the candidates, best first.
    question: Option<Question>,
}

impl AppObject {
    fn new(web: Candidate, framework: String) -> Self {
        AppObject { web, framework, warning: None, question: None }
    }
}

/// A root `wsgi.py` / `asgi.py` that imports the app (`from app import app`) or builds it
/// (`app = create_app()`): the file written for the server to load, so the server loads it.
fn reexport(view: &RepoView, module: &str, target: &str) -> Option<(String, String)> {
    static BUILT: OnceLock<Option<Regex>> = OnceLock::new();
    let built = re(r"(?m)^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:create_app|make_app|app_factory)\(", &BUILT)?;
    ["wsgi.py", "asgi.py"].into_iter().filter(|f| module != f.trim_end_matches(".py")).find_map(|f| {
        let text = view.text(f)?;
        let var = target.strip_suffix("()");
        let from = format!("from {module} import");
        let imports_it = text.lines().any(|l| {
            l.trim_start().starts_with(&from)
                && l.split("import").nth(1).is_some_and(|names| {
                    names.split(',').any(|n| n.trim().split(' ').next() == Some(var.unwrap_or(target)))
                })
        });
        if !imports_it {
            return None;
        }
        let name = match var {
            Some(_) => built.captures(&keep_lines(&text, &["="]))?.get(1)?.as_str().to_string(),
            None => target.to_string(),
        };
        Some((f.to_string(), name))
    })
}

/// The module `FLASK_APP` names in `.flaskenv` (the file `flask run` itself reads).
fn flask_app_env(view: &RepoView) -> Option<String> {
    let text = view.text(".flaskenv")?;
    let line = text.lines().find_map(|l| l.trim().strip_prefix("FLASK_APP="))?;
    let module = line.trim().trim_matches(['"', '\'']).split(':').next()?.trim_end_matches(".py").replace('/', ".");
    super::is_plain_name(&module).then_some(module)
}

/// `app = FastAPI(...)`, `app = Flask(__name__)`, `def create_app(...)`, served by the server
/// the dependencies declare. Without one, a script that runs the app itself is what the repo
/// can run; otherwise the server is proposed with a warning (added in `analyze`).
fn app_object(view: &RepoView, deps: &BTreeSet<String>, scripts: &[entry::Script]) -> Option<AppObject> {
    let mut files = source_files(view, ".py", 3, 400);
    files.sort_by_key(|f| entry_rank(f));
    let mut named = None;
    if let Some(m) = flask_app_env(view) {
        let f = format!("{}.py", m.replace('.', "/"));
        if let Some(i) = files.iter().position(|x| *x == f) {
            let f = files.remove(i);
            files.insert(0, f.clone());
            named = Some(f);
        }
    }
    let mut hits = files.iter().filter_map(|f| {
        let text = view.text(f)?;
        let (target, framework) = app_in(&text)?;
        let stem = f.rsplit('/').next().unwrap_or(f).trim_end_matches(".py");
        // A bot's keep-alive server is started by the bot, not by a WSGI server (which would
        // block importing the bot's module-level `bot.run(TOKEN)`).
        let own_bot = scripts.iter().any(|s| s.file == *f && entry::is_bot(s));
        if own_bot || entry::starter_of(stem, scripts).is_some() {
            return None;
        }
        Some((f.clone(), target, framework))
    });
    let (file, target, framework) = hits.next()?;
    drop(hits);
    let found_module = module_path(file.strip_prefix("src/").unwrap_or(&file));
    if let Some((wsgi_file, var)) = reexport(view, &found_module, &target) {
        let server = if matches!(framework.as_str(), "fastapi" | "starlette" | "quart" | "litestar") {
            "uvicorn"
        } else {
            "gunicorn"
        };
        let module = module_path(&wsgi_file);
        let cmd = match server {
            "uvicorn" => format!("uvicorn {module}:{var} --host 0.0.0.0 --port $PORT"),
            _ => format!("gunicorn {module}:{var} --bind 0.0.0.0:$PORT"),
        };
        let conf = if deps.contains(server) { calibration::WSGI_FILE } else { calibration::SERVER_MISSING };
        let ev = vec![
            Evidence::new(view.repo_path(&wsgi_file), "python.wsgi_file"),
            Evidence::new(view.repo_path(&file), format!("python.{framework}_app")),
        ];
        return Some(AppObject::new(Candidate::new("web", cmd, conf, ev), framework));
    }
    let mut hits = files.iter().skip_while(|f| **f != file).skip(1).filter_map(|f| {
        let text = view.text(f)?;
        app_in(&text).map(|_| f.clone())
    });
    let depth = file.matches('/').count();
    let named = named.as_ref() == Some(&file);
    let rivals: Vec<String> = hits.by_ref().filter(|f| f.matches('/').count() == depth).take(5).collect();
    let several = !named && !rivals.is_empty();
    let question = several.then(|| Question {
        code: QuestionCode::ConflictingSignals,
        detail: format!(
            "several files define a web app: {} (used), then {}; which one the owner serves is a guess",
            view.repo_path(&file),
            rivals.iter().map(|f| view.repo_path(f)).collect::<Vec<_>>().join(", ")
        ),
    });
    let (app_dir, rel) = match file.strip_prefix("src/") {
        Some(rest) => (Some("src"), rest.to_string()),
        None => (None, file.clone()),
    };
    let module = module_path(&rel);
    if !super::is_plain_name(&module) {
        return None;
    }
    let asgi = matches!(framework.as_str(), "fastapi" | "starlette" | "quart" | "litestar");
    let spec = format!("{module}:{target}");
    let server = if framework == "sanic" {
        "sanic"
    } else if asgi && (deps.contains("uvicorn") || !deps.contains("gunicorn")) {
        "uvicorn"
    } else {
        "gunicorn"
    };
    let has_server = deps.contains(server);
    let started = scripts.iter().find(|s| s.file == file && entry::kind_of(s, scripts) == Some(entry::Kind::Web));
    let rule = format!("python.{framework}_app");
    // Flask-SocketIO needs an async worker; without eventlet, its own `socketio.run` is the server.
    let socketio = scripts.iter().find(|s| s.file == file && s.calls(&["socketio.run("]));
    if let Some(s) = socketio {
        let ev = vec![Evidence::new(view.repo_path(&s.file), "python.socketio_app")];
        let cmd = if deps.contains("eventlet") && has_server {
            format!("gunicorn --worker-class eventlet -w 1 {spec} --bind 0.0.0.0:$PORT")
        } else {
            format!("python {}", s.file)
        };
        return Some(AppObject::new(Candidate::new("web", cmd, calibration::SOCKETIO, ev), framework));
    }
    if !has_server {
        if let Some(s) = started {
            // `python app.py` runs the app with what is installed; the warning says what to add.
            let ev = vec![Evidence::new(view.repo_path(&s.file), format!("{rule}_script"))];
            let warning = Warning {
                code: WarningCode::UnknownProgram,
                message: format!(
                    "{server} is not in the dependencies, so the web command runs {} with its built-in server: add {server} and run `{server} {spec}`",
                    s.file
                ),
                file: Some(view.repo_path(&s.file)),
                line: None,
            };
            let web = Candidate::new("web", format!("python {}", s.file), calibration::SERVER_MISSING, ev);
            return Some(AppObject { web, framework, warning: Some(warning), question });
        }
    }
    // Flask with no server declared and no script that runs it: Flask's own CLI is what the
    // repository can run (the warning added in `analyze` says to add gunicorn).
    if framework == "flask" && deps.contains("flask") && !has_server && !target.ends_with("()") {
        let ev = vec![Evidence::new(view.repo_path(&file), "python.flask_run")];
        let cmd = format!("flask --app {spec} run --host 0.0.0.0 --port $PORT");
        let warning = Warning {
            code: WarningCode::UnknownProgram,
            message: format!("gunicorn is not in the dependencies, so the web command runs Flask's development server: add gunicorn and run `gunicorn {spec}`"),
            file: Some(view.repo_path(&file)),
            line: None,
        };
        let web = Candidate::new("web", cmd, calibration::SERVER_MISSING, ev);
        return Some(AppObject { web, framework, warning: Some(warning), question });
    }
    let cmd = match server {
        "sanic" => format!("sanic {spec} --host 0.0.0.0 --port $PORT"),
        "uvicorn" => {
            let dir = app_dir.map(|d| format!(" --app-dir {d}")).unwrap_or_default();
            format!("uvicorn {spec} --host 0.0.0.0 --port $PORT{dir}")
        }
        _ => {
            let dir = app_dir.map(|d| format!(" --chdir {d}")).unwrap_or_default();
            let spec = if target.ends_with("()") { format!("'{spec}'") } else { spec };
            format!("gunicorn {spec} --bind 0.0.0.0:$PORT{dir}")
        }
    };
    let conf = if several {
        calibration::SEVERAL
    } else if named {
        calibration::FLASK_ENV
    } else if !has_server {
        calibration::SERVER_MISSING
    } else if target.ends_with("()") {
        calibration::FACTORY
    } else if framework == "dash" {
        calibration::DASH
    } else {
        calibration::APP_OBJECT
    };
    let rule = if several {
        "python.app_object_several".to_string()
    } else if named {
        "python.flaskenv_app".to_string()
    } else {
        rule
    };
    let evidence = vec![Evidence::new(view.repo_path(&file), rule)];
    Some(AppObject { web: Candidate::new("web", cmd, conf, evidence), framework, warning: None, question })
}

/// Celery worker (and beat), RQ worker.
fn workers(view: &RepoView, deps: &BTreeSet<String>) -> Vec<Candidate> {
    let mut out = Vec::new();
    if deps.contains("celery") {
        let files = source_files(view, ".py", 2, 400);
        let app = files.iter().find_map(|f| {
            let text = view.text(f)?;
            if !text.contains("Celery(") {
                return None;
            }
            let module = module_path(f);
            // `pkg/celery.py` is found by `-A pkg` (Django's layout).
            let module = module.strip_suffix(".celery").map(str::to_string).unwrap_or(module);
            super::is_plain_name(&module).then(|| (module, f.clone(), text))
        });
        if let Some((module, file, text)) = app {
            let ev = vec![Evidence::new(view.repo_path(&file), "python.celery_app")];
            out.push(Candidate::new(
                "worker",
                format!("celery -A {module} worker -l info"),
                calibration::CELERY,
                ev.clone(),
            ));
            let has_beat = deps.contains("django-celery-beat")
                || text.contains("beat_schedule")
                || files.iter().any(|f| view.text(f).is_some_and(|t| t.contains("CELERY_BEAT_SCHEDULE")));
            if has_beat {
                out.push(Candidate::new(
                    "beat",
                    format!("celery -A {module} beat -l info"),
                    calibration::CELERY_BEAT,
                    ev,
                ));
            }
        }
    }
    if deps.contains("rq") && !out.iter().any(|c| c.kind == "worker") {
        out.push(Candidate::new(
            "worker",
            "rq worker",
            calibration::RQ,
            vec![Evidence::new("requirements", "python.rq")],
        ));
    }
    out
}

fn project_scripts(view: &RepoView) -> Vec<String> {
    let Ok(Some(doc)) = read_toml(view, "pyproject.toml") else { return Vec::new() };
    doc.get("project")
        .and_then(|p| p.get("scripts"))
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn django_names_are_matched_as_the_settings_write_them() {
        use super::{setting, settings_module};
        let manage = "import os\n    os.environ.setdefault( 'DJANGO_SETTINGS_MODULE' ,  \"mysite.settings.prod\")\n";
        assert_eq!(settings_module(manage), Some("mysite.settings.prod"));
        assert_eq!(settings_module("os.environ['DJANGO_SETTINGS_MODULE'] = 'a.settings'"), None);
        assert_eq!(settings_module("setdefault(\"DJANGO_SETTINGS_MODULE\", settings_name())"), None);
        assert_eq!(settings_module("setdefault(\"DJANGO_SETTINGS_MODULE\", \"\")"), None);
        let settings = "# WSGI_APPLICATION = 'old.wsgi.application'\nWSGI_APPLICATION_X = 'x.y'\n  WSGI_APPLICATION='site.wsgi.application'\n";
        assert_eq!(setting(settings, "WSGI_APPLICATION"), Some("site.wsgi.application"));
        assert_eq!(setting("WSGI_APPLICATION = get_wsgi()", "WSGI_APPLICATION"), None);
        assert_eq!(setting("ASGI_APPLICATION = \"a.asgi:app\"", "ASGI_APPLICATION"), None);
    }

    use super::*;

    fn web(files: &[(&str, &str)]) -> Option<String> {
        let a = Python.analyze(&RepoView::from_memory(files.iter().copied()));
        a.processes.into_iter().find(|p| p.kind == "web").map(|p| p.command)
    }

    #[test]
    fn django_module_from_settings() {
        let files = [
            ("requirements.txt", "Django==4.2\ngunicorn\n"),
            ("manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"),
            ("mysite/settings.py", "WSGI_APPLICATION = 'mysite.wsgi.application'\n"),
            ("mysite/wsgi.py", ""),
            ("mysite/asgi.py", ""),
        ];
        assert_eq!(web(&files).as_deref(), Some("gunicorn mysite.wsgi --bind 0.0.0.0:$PORT"));
    }

    #[test]
    fn fastapi_and_flask_objects() {
        let fastapi = [
            ("requirements.txt", "fastapi\nuvicorn\n"),
            ("app/main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
        ];
        assert_eq!(web(&fastapi).as_deref(), Some("uvicorn app.main:app --host 0.0.0.0 --port $PORT"));
        let flask =
            [("requirements.txt", "flask\ngunicorn\n"), ("app.py", "from flask import Flask\napp = Flask(__name__)\n")];
        assert_eq!(web(&flask).as_deref(), Some("gunicorn app:app --bind 0.0.0.0:$PORT"));
        let factory =
            [("requirements.txt", "flask\n"), ("wsgi.py", "from flask import Flask\ndef create_app():\n  pass\n")];
        assert_eq!(web(&factory).as_deref(), Some("gunicorn 'wsgi:create_app()' --bind 0.0.0.0:$PORT"));
    }

    #[test]
    fn a_bot_with_its_keep_alive_app_in_the_same_file_is_started_by_python() {
        let files = [
            ("requirements.txt", "discord.py\nflask\ngunicorn\n"),
            (
                "main.py",
                "import discord\nfrom flask import Flask\nfrom threading import Thread\napp = Flask('')\ndef run():\n    app.run(host='0.0.0.0')\nThread(target=run).start()\nclient.run(TOKEN)\n",
            ),
        ];
        assert_eq!(web(&files).as_deref(), Some("python main.py"));
    }

    #[test]
    fn several_app_files_are_a_question_listing_them() {
        let app = "from flask import Flask\napp = Flask(__name__)\n";
        let v = RepoView::from_memory([("requirements.txt", "flask\ngunicorn\n"), ("main.py", app), ("calc.py", app)]);
        let a = Python.analyze(&v);
        assert!(a.processes[0].confidence < crate::plan::READY_CONFIDENCE);
        let q = a.questions.iter().find(|q| q.code == QuestionCode::ConflictingSignals).expect("a question");
        assert!(q.detail.contains("main.py (used), then calc.py"), "{}", q.detail);
    }

    #[test]
    fn celery_worker_and_beat() {
        let v = RepoView::from_memory([
            ("requirements.txt", "celery\ndjango-celery-beat\n"),
            ("proj/celery.py", "app = Celery('proj')\n"),
        ]);
        let a = Python.analyze(&v);
        let kinds: Vec<_> = a.processes.iter().map(|p| (p.kind.as_str(), p.command.as_str())).collect();
        assert!(kinds.contains(&("worker", "celery -A proj worker -l info")));
        assert!(kinds.contains(&("beat", "celery -A proj beat -l info")));
    }

    #[test]
    fn versions_and_questions() {
        let v = RepoView::from_memory([("runtime.txt", "python-3.7.3\n"), ("requirements.txt", "")]);
        let a = Python.analyze(&v);
        assert_eq!(a.version.map(|v| v.0).as_deref(), Some("3.7.3"));
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
    }

    #[test]
    fn malformed_pyproject_is_a_warning() {
        let v = RepoView::from_memory([("pyproject.toml", "[project\nname=")]);
        assert!(Python.detect(&v).is_some());
        let a = Python.analyze(&v);
        assert!(a.warnings.iter().any(|w| w.code == WarningCode::ManifestMalformed));
    }

    #[test]
    fn server_named_project_scripts_only() {
        let serve = [("pyproject.toml", "[project]\nname='x'\n[project.scripts]\nserve = 'x.main:run'\n")];
        assert_eq!(web(&serve).as_deref(), Some("serve"));
        let cli = [("pyproject.toml", "[project]\nname='x'\n[project.scripts]\nhello = 'x:hello'\n")];
        assert_eq!(web(&cli), None);
    }

    #[test]
    fn gpu_dependencies_warn() {
        let v = RepoView::from_memory([("requirements.txt", "cupy-cuda12x\n")]);
        assert!(Python.analyze(&v).warnings.iter().any(|w| w.code == WarningCode::GpuLibraries));
    }
}
