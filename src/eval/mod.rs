//! Scoring plans against labelled repositories (the format of `../shared/corpus`).
//!
//! One check per field: strategy, language (or an accepted alternative), builder group, and
//! each expected process by its key. A monorepo's apps are matched by subdir and checked the
//! same way. A process matches when the plan's command for that type has the expected
//! program (by basename) and, when the label names one, the target among its arguments; the
//! label's `alt_keys` are other accepted forms, matched against every segment of the command.

pub mod calibration;
pub mod report;
pub mod run;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::command::{self, ProcessKey};
use crate::plan::Plan;

#[derive(Debug, Error)]
pub enum EvalError {
    #[error("cannot read labels {path}: {message}")]
    Labels { path: String, message: String },
    #[error("report {path}: {message}")]
    Report { path: String, message: String },
    #[error("cannot merge reports: {0}")]
    Merge(String),
    #[error("no case of {corpus} could be scored ({cases} selected){hint}")]
    NothingScored { corpus: String, cases: usize, hint: String },
    #[error("chart: {0}")]
    Chart(String),
}

/// One labelled repository.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Label {
    pub id: String,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    /// A git URL to fetch when the corpus has no `repos/<id>/` directory for this case.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub subdir: String,
    #[serde(default)]
    pub has_procfile: bool,
    pub expected: Value,
    #[serde(default)]
    pub language_alternatives: Vec<String>,
    /// What the root indicator files suggest (../shared/wild): groups the report when the
    /// label names no language.
    #[serde(default)]
    pub language_hint: Option<String>,
    #[serde(default)]
    pub difficulty: Option<String>,
    #[serde(default)]
    pub confidence: Option<String>,
}

pub fn load_labels(path: &Path) -> Result<Vec<Label>, EvalError> {
    let err = |message: String| EvalError::Labels { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(e.to_string()))
}

/// One comparison of a label field with the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub case: String,
    /// strategy | language | builder_group | process | app
    pub field: String,
    /// App subdir and process type, where they apply.
    pub detail: String,
    pub expected: String,
    pub got: String,
    pub pass: bool,
    /// The plan's confidence in the process a `process` check scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The evidence rule behind that process (its first evidence), for per-rule precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// An expected process key.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    program: String,
    target: Option<String>,
}

fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

fn norm_target(t: &str) -> String {
    t.trim_start_matches("./").trim_end_matches('/').to_string()
}

fn keys_of(spec: &Value) -> Vec<Key> {
    let one = |k: &Value| -> Option<Key> {
        Some(Key {
            program: k.get("program")?.as_str()?.to_string(),
            target: k.get("target").and_then(Value::as_str).map(str::to_string),
        })
    };
    let mut out: Vec<Key> = spec.get("key").and_then(one).into_iter().collect();
    out.extend(spec.get("alt_keys").and_then(Value::as_array).into_iter().flatten().filter_map(one));
    out
}

/// WSGI servers load `application` when the target names only a module, so
/// `mysite.wsgi` and `mysite.wsgi:application` are the same process for gunicorn.
fn norm_wsgi(program: &str, target: &str) -> String {
    let t = norm_target(target);
    if program == "gunicorn" {
        t.strip_suffix(":application").map(str::to_string).unwrap_or(t)
    } else {
        t
    }
}

fn key_matches(expected: &Key, got: &ProcessKey) -> bool {
    let program = basename(&expected.program);
    if program != basename(&got.program) {
        return false;
    }
    match &expected.target {
        None => true,
        Some(t) => {
            let t = norm_wsgi(program, t);
            got.positionals.iter().any(|p| norm_wsgi(program, p) == t)
        }
    }
}

/// True when `command` is an accepted form of the expected process `spec`.
pub fn process_matches(spec: &Value, command: &str) -> bool {
    let expected = keys_of(spec);
    let mut got: Vec<ProcessKey> = command::process_key(command).into_iter().collect();
    got.extend(command::segment_keys(command));
    expected.iter().any(|e| got.iter().any(|g| key_matches(e, g)))
}

fn lang_of(plan: &Plan) -> String {
    plan.language.as_ref().map(|l| l.name.as_str().to_string()).unwrap_or_else(|| "unknown".into())
}

fn strategy_str(plan: &Plan) -> String {
    serde_json::to_value(plan.strategy).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn group_of(plan: &Plan) -> String {
    plan.buildpack.as_ref().map(|b| b.group.clone()).unwrap_or_else(|| "null".into())
}

fn as_str_or_null(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| "null".into())
}

/// Checks of one app (or of a single-app repository) against its expected object.
fn app_checks(
    case: &str,
    prefix: &str,
    expected: &Value,
    alternatives: &[String],
    plan: Option<&Plan>,
    out: &mut Vec<Check>,
) {
    let mut push = |field: &str, detail: String, exp: String, got: String, pass: bool| {
        out.push(Check {
            case: case.to_string(),
            field: field.to_string(),
            detail,
            expected: exp,
            got,
            pass,
            confidence: None,
            rule: None,
        });
    };
    let missing = "(app not found)".to_string();
    // A label scores only the fields it carries (../shared/wild labels processes alone); a
    // field present as null still expects null.
    if expected.get("strategy").is_some() {
        let exp_strategy = as_str_or_null(expected.get("strategy"));
        let got = plan.map(strategy_str).unwrap_or_else(|| missing.clone());
        push("strategy", prefix.to_string(), exp_strategy.clone(), got.clone(), got == exp_strategy);
    }
    if expected.get("language").is_some() {
        let exp_lang = as_str_or_null(expected.get("language"));
        let got = plan.map(lang_of).unwrap_or_else(|| missing.clone());
        let pass = got == exp_lang || alternatives.contains(&got);
        push("language", prefix.to_string(), exp_lang, got, pass);
    }
    if expected.get("builder_group").is_some() {
        let exp_group = as_str_or_null(expected.get("builder_group"));
        let got = plan.map(group_of).unwrap_or_else(|| missing.clone());
        push("builder_group", prefix.to_string(), exp_group.clone(), got.clone(), got == exp_group);
    }

    if let Some(procs) = expected.get("processes").and_then(Value::as_object) {
        for (kind, spec) in procs {
            let found = plan.and_then(|p| p.process(kind));
            let got = found.map(|p| p.command.to_string());
            let pass = got.as_deref().is_some_and(|c| process_matches(spec, c));
            let exp = as_str_or_null(spec.get("command"));
            out.push(Check {
                case: case.to_string(),
                field: "process".into(),
                detail: format!("{prefix}{kind}"),
                expected: exp,
                got: got.unwrap_or_else(|| "(none)".into()),
                pass,
                confidence: found.map(|p| p.confidence),
                rule: found
                    .map(|p| p.evidence.first().map(|e| e.rule.clone()).unwrap_or_else(|| "(no evidence)".into())),
            });
        }
    }
}

/// Every check of one labelled repository against its plan.
pub fn score(label: &Label, plan: &Plan) -> Vec<Check> {
    let mut out = Vec::new();
    let exp = &label.expected;
    match exp.get("language") {
        Some(Value::Array(apps)) => {
            let strategy = as_str_or_null(exp.get("strategy"));
            let got = strategy_str(plan);
            out.push(Check {
                case: label.id.clone(),
                field: "strategy".into(),
                detail: String::new(),
                expected: strategy.clone(),
                got: got.clone(),
                pass: got == strategy,
                confidence: None,
                rule: None,
            });
            for app in apps {
                let subdir = app.get("subdir").and_then(Value::as_str).unwrap_or("").trim_matches('/').to_string();
                let found = plan.app_plans().into_iter().find(|p| p.subdir == subdir);
                let prefix = format!("{}/", if subdir.is_empty() { "." } else { &subdir });
                app_checks(&label.id, &prefix, app, &[], found, &mut out);
            }
        }
        _ => app_checks(&label.id, "", exp, &label.language_alternatives, Some(plan), &mut out),
    }
    out
}

/// Totals per field, per language, per difficulty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub passed: usize,
    pub total: usize,
}

impl Tally {
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.passed as f64 / self.total as f64
        }
    }
    fn add(&mut self, pass: bool) {
        self.total += 1;
        self.passed += usize::from(pass);
    }
}

/// Sums checks into totals, per field and per any grouping the caller gives.
pub fn tally<'a>(
    checks: impl IntoIterator<Item = &'a Check>,
    group: impl Fn(&Check) -> String,
) -> BTreeMap<String, Tally> {
    let mut m: BTreeMap<String, Tally> = BTreeMap::new();
    for c in checks {
        m.entry(group(c)).or_default().add(c.pass);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_skip_wrappers_and_accept_alternatives() {
        let spec = json!({"key": {"program": "uvicorn", "target": "app.main:app"}});
        assert!(process_matches(&spec, "uv run uvicorn app.main:app --host 0.0.0.0 --port $PORT"));
        assert!(process_matches(&spec, "uvicorn app.main:app --port $PORT"));
        assert!(!process_matches(&spec, "uvicorn other:app"));
        let node = json!({"key": {"program": "node", "target": "./bin/www"}, "alt_keys": [{"program": "npm", "target": "start"}, {"program": "yarn", "target": "start"}]});
        assert!(process_matches(&node, "npm start"));
        assert!(process_matches(&node, "yarn start"));
        assert!(process_matches(&node, "node bin/www"));
        assert!(!process_matches(&node, "pnpm dev"));
    }

    #[test]
    fn compound_and_env_wrapped_commands() {
        let spec =
            json!({"key": {"program": "sleep", "target": "infinity"}, "alt_keys": [{"program": "sh", "target": "-c"}]});
        assert!(process_matches(&spec, "sh -c \"cat ./ok && sleep infinity\""));
        let mesh = json!({"key": {"program": "heroku-applink-service-mesh-latest-amd64", "target": "/app/startup.sh"}});
        assert!(process_matches(&mesh, "APP_PORT=3000 heroku-applink-service-mesh-latest-amd64 /app/startup.sh"));
        let rails = json!({"key": {"program": "rails", "target": "server"}});
        assert!(process_matches(&rails, "bundle exec rails server -b 0.0.0.0 -p $PORT"));
        let bin = json!({"key": {"program": "./target/release/app", "target": null}});
        assert!(process_matches(&bin, "app"));
        let wsgi = json!({"key": {"program": "gunicorn", "target": "proj.wsgi:application"}});
        assert!(process_matches(&wsgi, "gunicorn proj.wsgi --bind 0.0.0.0:$PORT"));
        assert!(!process_matches(&wsgi, "gunicorn other.wsgi"));
        let gunicorn = json!({"key": {"program": "gunicorn", "target": "mysite.wsgi"}});
        assert!(process_matches(&gunicorn, "python -m gunicorn --worker-tmp-dir /dev/shm mysite.wsgi"));
    }
}
