//! The LLM resolver: settles the questions the rules left open, once per repository.
//!
//! Called only when a plan (or an app of a monorepo) has a question a model can answer: no
//! web command, no indicator, a language tie. All such apps go in one conversation. The model
//! sees a context chosen by priority and cut to a token budget ([`context`]); it may ask for
//! more through tools (`list_dir`, `read_file`, `search`) answered from the same [`RepoView`]
//! with the same secret filter, for a bounded number of rounds ([`agent`]). Its answer is
//! parsed and checked locally whatever the server promised, then every proposed command goes
//! through [`crate::validate::check`], the same boundary as the rules' commands: a rejected
//! proposal gets one repair round, then stays out of `processes` and is kept in
//! `rejected_proposals` for a person. Faults never fail a scan: the rules' plan comes back
//! with a `llm_unavailable` warning.

mod agent;
pub mod cache;
pub mod context;

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{info, info_span, warn, Instrument};

use crate::admit::{App, SafeCommand};
use crate::config::{LlmConfig, Provider};
use crate::llm::anthropic::AnthropicBackend;
use crate::llm::openai::OpenAiBackend;
use crate::llm::retry::RetryPolicy;
use crate::llm::{ChatBackend, LlmError};
use crate::plan::{
    Buildpack, DecidedBy, Evidence, Language, LanguageName, LlmUsage, Plan, Process, ProcessSource, QuestionCode,
    RejectedProposal, Strategy, Warning, WarningCode, DEFAULT_BUILDER,
};
use crate::view::RepoView;

/// The prompt's template, compiled in; its version goes into every plan the model helped decide.
const TEMPLATE: &str = include_str!("../../prompts/resolve.v2.md");
pub const PROMPT_VERSION: &str = "resolve.v2";

/// The prompt: the template with the languages, their programs and the allowed environment
/// filled in from the ecosystems and the admission tables, so a new language needs no edit here.
pub fn prompt() -> &'static str {
    static PROMPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let programs: Vec<String> = crate::cascade::ecosystems()
            .iter()
            .map(|e| {
                let names: Vec<&str> =
                    crate::admit::tables::table(e.language()).programs.iter().map(|p| p.name).collect();
                let names =
                    if names.is_empty() { "none (served by the buildpack)".to_string() } else { names.join(", ") };
                format!("  - {}: {names}", e.language())
            })
            .collect();
        TEMPLATE
            .replace("{{programs}}", &programs.join("\n"))
            .replace("{{languages}}", &languages().join(", "))
            .replace("{{env}}", &crate::admit::grammar::ALLOWED_ENV.join(", "))
    });
    &PROMPT
}

/// The language names the model may answer with: every ecosystem's, and `unknown`.
pub fn languages() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = crate::cascade::ecosystems().iter().map(|e| e.language().as_str()).collect();
    names.push("unknown");
    names
}
/// Confidence of a command the model proposed and the validator accepted.
pub const LLM_CONFIDENCE: f32 = 0.6;

/// Questions a model can settle. A monorepo's "which apps" and a Procfile naming a missing
/// file are for a person.
const ANSWERABLE: &[QuestionCode] = &[QuestionCode::NoWebCommand, QuestionCode::NoIndicator, QuestionCode::LanguageTie];

/// The model's answer, as the schema describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub apps: Vec<AppAnswer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppAnswer {
    #[serde(default)]
    pub subdir: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub processes: Vec<Proposed>,
    #[serde(default)]
    pub rationale: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposed {
    #[serde(rename = "type")]
    pub kind: String,
    pub command: String,
}

/// The JSON Schema of [`Answer`], in the subset every server's structured output takes.
pub fn answer_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["apps"],
        "properties": {"apps": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["subdir", "language", "processes", "rationale"],
            "properties": {
                "subdir": {"type": "string"},
                "language": {"type": "string", "enum": languages()},
                "processes": {"type": "array", "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["type", "command"],
                    "properties": {"type": {"type": "string"}, "command": {"type": "string"}}
                }},
                "rationale": {"type": "string"}
            }
        }}}
    })
}

/// Why an answer is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Fault {
    #[error(transparent)]
    Call(#[from] LlmError),
    #[error("the answer was cut at the output-token limit")]
    Truncated,
    #[error("the answer is not JSON: {0}")]
    Garbage(String),
    #[error("the answer does not follow the schema: {0}")]
    Schema(String),
}

/// Parses and checks an answer locally: JSON (fences and prose around it tolerated), the
/// schema's shape, process types as a Procfile allows them.
pub fn parse_answer(text: &str) -> Result<Answer, Fault> {
    let start = text.find('{');
    let end = text.rfind('}');
    let (Some(s), Some(e)) = (start, end) else {
        return Err(Fault::Garbage(crate::llm::truncate(text.trim(), 120)));
    };
    if e < s {
        return Err(Fault::Garbage(crate::llm::truncate(text.trim(), 120)));
    }
    let value: Value = serde_json::from_str(&text[s..=e]).map_err(|err| Fault::Garbage(err.to_string()))?;
    if !value.get("apps").is_some_and(Value::is_array) {
        return Err(Fault::Schema("no `apps` array".into()));
    }
    let answer: Answer = serde_json::from_value(value).map_err(|e| Fault::Schema(e.to_string()))?;
    for app in &answer.apps {
        for p in &app.processes {
            let ok = !p.kind.is_empty()
                && p.kind.len() <= 40
                && p.kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(Fault::Schema(format!("process type {:?} is not a Procfile name", p.kind)));
            }
        }
    }
    Ok(answer)
}

/// Whether `plan` has a question the model can answer or a process the rules are unsure of.
pub fn needs_llm(plan: &Plan) -> bool {
    plan.app_plans().iter().chain(std::iter::once(&plan)).any(|p| wants_model(p))
}

/// A process the rules inferred below [`crate::plan::READY_CONFIDENCE`]: the model may replace it.
fn unsure(p: &Process) -> bool {
    p.source == ProcessSource::Rule && p.confidence < crate::plan::READY_CONFIDENCE
}

fn wants_model(app: &Plan) -> bool {
    app.open_questions.iter().any(|q| ANSWERABLE.contains(&q.code)) || app.processes.iter().any(unsure)
}

pub struct Resolver {
    backend: Arc<dyn ChatBackend>,
    pub config: LlmConfig,
    pub retry: RetryPolicy,
}

/// What one resolution cost and read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub answers: Vec<Answer>,
    pub files_read: Vec<String>,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

impl Resolver {
    pub fn new(backend: Arc<dyn ChatBackend>, config: LlmConfig) -> Self {
        let retry = RetryPolicy { max_attempts: config.max_attempts.max(1), ..RetryPolicy::default() };
        Resolver { backend, config, retry }
    }

    /// The resolver the configuration asks for; None when no model is configured (rules only).
    pub fn from_config(config: &LlmConfig) -> Result<Option<Self>, LlmError> {
        if !config.enabled() {
            return Ok(None);
        }
        let backend: Arc<dyn ChatBackend> = match config.provider {
            Provider::Openai => {
                let base = config.base_url.as_deref().unwrap_or("https://api.openai.com/v1");
                Arc::new(OpenAiBackend::new(base, config.api_key.as_ref().map(|k| k.expose()), config.timeout)?)
            }
            Provider::Anthropic => {
                let key = config.api_key.clone().ok_or_else(|| LlmError::Transport("no API key".into()))?;
                Arc::new(AnthropicBackend::new(config.base_url.as_deref(), key, config.timeout)?)
            }
        };
        Ok(Some(Resolver::new(backend, config.clone())))
    }

    /// Settles what the model can of `plan`'s open questions. Never fails: on any fault the
    /// plan comes back as the rules made it, with a warning.
    pub async fn resolve(&self, plan: Plan, view: &RepoView) -> Plan {
        if !needs_llm(&plan) {
            return plan;
        }
        let span = info_span!("llm.resolve", location = %plan.source.location, model = %self.config.model,
            provider = self.backend.provider());
        self.resolve_inner(plan, view).instrument(span).await
    }

    async fn resolve_inner(&self, plan: Plan, view: &RepoView) -> Plan {
        let started = Instant::now();
        // The view the model explores: the app's own directory for a single app.
        let ctx_view = if plan.apps.is_empty() { app_view(view, &plan.subdir) } else { view.clone() };
        let targets = targets(&plan, &ctx_view);
        // The budget covers the whole first request: prompt, tools and schema come off it.
        let overhead = context::count_tokens(prompt())
            + context::count_tokens(&serde_json::to_string(&agent::tools()).unwrap_or_default())
            + context::count_tokens(&answer_schema().to_string())
            + 60 * targets.len().max(1);
        let (ctx, ctx_files) = context::build(&ctx_view, self.config.token_budget.saturating_sub(overhead).max(300));
        let user = agent::first_message(&plan, &targets, &ctx);
        let conversation = agent::Conversation::new(self, &ctx_view, user);
        let key = cache::key(&[
            PROMPT_VERSION,
            &self.config.model,
            self.backend.provider(),
            &serde_json::to_string(&conversation.first_request()).unwrap_or_default(),
        ]);
        let cached = self.config.cache_dir.as_deref().and_then(|d| cache::get(d, &key));
        let cache_hit = cached.is_some();
        let outcome = match cached {
            Some(e) => {
                info!("answer from the cache");
                Ok(Outcome {
                    answers: e.answers,
                    files_read: e.files_read,
                    tokens_in: e.tokens_in,
                    tokens_out: e.tokens_out,
                })
            }
            None => conversation.run(|answer| rejections_of(&plan, answer, view)).await,
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err((fault, spent)) => {
                warn!(error = %fault, "LLM resolution failed; keeping the rules' plan");
                let mut plan = plan;
                plan.warnings.push(Warning {
                    code: WarningCode::LlmUnavailable,
                    message: format!(
                        "the model could not settle the open questions ({fault}); plan from the rules alone"
                    ),
                    file: None,
                    line: None,
                });
                if spent.tokens_in > 0 {
                    plan.resolution.llm = Some(self.usage(&spent, started, false));
                }
                return plan;
            }
        };
        if !cache_hit {
            if let Some(dir) = &self.config.cache_dir {
                let entry = cache::Entry {
                    answers: outcome.answers.clone(),
                    files_read: outcome.files_read.clone(),
                    tokens_in: outcome.tokens_in,
                    tokens_out: outcome.tokens_out,
                };
                if let Err(e) = cache::put(dir, &key, &entry) {
                    warn!(error = %e, "could not write the LLM cache");
                }
            }
        }
        let mut evidence: Vec<Evidence> = Vec::new();
        for f in &outcome.files_read {
            evidence.push(Evidence::new(ctx_view.repo_path(f), "llm.read_file"));
        }
        for f in &ctx_files {
            if !outcome.files_read.contains(f) {
                evidence.push(Evidence::new(ctx_view.repo_path(f), "llm.context"));
            }
        }
        let mut plan = apply(plan, &outcome.answers, view, &ctx_view, &evidence);
        plan.resolution.llm = Some(self.usage(&outcome, started, cache_hit));
        plan
    }

    fn usage(&self, o: &Outcome, started: Instant, cache_hit: bool) -> LlmUsage {
        LlmUsage {
            model: self.config.model.clone(),
            prompt_version: PROMPT_VERSION.to_string(),
            tokens_in: o.tokens_in,
            tokens_out: o.tokens_out,
            latency_ms: started.elapsed().as_millis() as u64,
            cost_usd: if cache_hit { 0.0 } else { self.config.cost(o.tokens_in, o.tokens_out) },
            cache_hit,
        }
    }
}

/// The view of the app at repository path `subdir`, given the view the scan had.
fn app_view(view: &RepoView, subdir: &str) -> RepoView {
    let base = view.subdir();
    let rel = if base.is_empty() { subdir } else { subdir.strip_prefix(base).unwrap_or("").trim_start_matches('/') };
    view.subview(rel)
}

/// A plan (or app) with an answerable question: its path relative to the explored view.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub rel: String,
    pub repo_path: String,
}

fn targets(plan: &Plan, ctx_view: &RepoView) -> Vec<Target> {
    let base = ctx_view.subdir();
    plan.app_plans()
        .into_iter()
        .filter(|p| wants_model(p))
        .map(|p| {
            let rel = if base.is_empty() { p.subdir.as_str() } else { p.subdir.strip_prefix(base).unwrap_or("") };
            Target { rel: rel.trim_matches('/').to_string(), repo_path: p.subdir.clone() }
        })
        .collect()
}

fn norm(s: &str) -> String {
    s.trim().trim_start_matches("./").trim_matches('/').trim_start_matches('.').to_string()
}

/// The answer for the app at `rel`, with a lone answer accepted for a lone target.
fn answer_for<'a>(answer: &'a Answer, rel: &str, lone: bool) -> Option<&'a AppAnswer> {
    answer.apps.iter().find(|a| norm(&a.subdir) == rel).or_else(|| if lone { answer.apps.first() } else { None })
}

/// Admits a model's proposal through the strict grammar, or says why not.
fn check(app: &Plan, p: &Proposed, view: &RepoView) -> Result<SafeCommand, Vec<String>> {
    let target = App {
        view,
        language: app.language.as_ref().map(|l| l.name),
        kind: &p.kind,
        dockerfile: app.strategy == Strategy::Dockerfile,
    };
    SafeCommand::admit(&p.command, ProcessSource::Llm, &target).map_err(|r| vec![r.to_string()])
}

/// The proposals of `answer` the validator rejects, with reasons; empty when all pass.
fn rejections_of(plan: &Plan, answer: &Answer, view: &RepoView) -> Vec<(String, Proposed, Vec<String>)> {
    let lone = plan.app_plans().len() == 1;
    let ctx_view = if plan.apps.is_empty() { app_view(view, &plan.subdir) } else { view.clone() };
    let mut out = Vec::new();
    for t in targets(plan, &ctx_view) {
        let Some(app) = plan.app_plans().into_iter().find(|p| p.subdir == t.repo_path) else { continue };
        let Some(a) = answer_for(answer, &t.rel, lone) else { continue };
        let av = app_view(view, &app.subdir);
        for p in &a.processes {
            if let Err(reasons) = check(app, p, &av) {
                out.push((t.repo_path.clone(), p.clone(), reasons));
            }
        }
    }
    out
}

/// Applies the answers (the first, and the repair round's) to the plan.
fn apply(mut plan: Plan, answers: &[Answer], view: &RepoView, ctx_view: &RepoView, evidence: &[Evidence]) -> Plan {
    let targets = targets(&plan, ctx_view);
    let lone = plan.app_plans().len() == 1;
    let mut decided = false;
    let monorepo = !plan.apps.is_empty();
    for t in &targets {
        let app: &mut Plan = if monorepo {
            match plan.apps.iter_mut().find(|a| a.subdir == t.repo_path) {
                Some(a) => a,
                None => continue,
            }
        } else {
            &mut plan
        };
        let av = app_view(view, &app.subdir);
        let mut rejected: Vec<RejectedProposal> = Vec::new();
        for (round, answer) in answers.iter().enumerate() {
            let Some(a) = answer_for(answer, &t.rel, lone) else { continue };
            if round == 0 {
                decided |= apply_language(app, a, evidence);
            }
            for p in &a.processes {
                // The model settles what is open or unsure; it never overrides what is settled.
                if app.processes.iter().any(|x| x.kind == p.kind && !unsure(x)) {
                    continue;
                }
                match check(app, p, &av) {
                    Ok(command) => {
                        rejected.retain(|r| r.kind != p.kind);
                        app.processes.retain(|x| x.kind != p.kind);
                        app.processes.push(Process {
                            kind: p.kind.clone(),
                            command,
                            source: ProcessSource::Llm,
                            confidence: LLM_CONFIDENCE,
                            evidence: evidence.to_vec(),
                        });
                        decided = true;
                    }
                    Err(reasons) if !rejected.iter().any(|r| r.kind == p.kind && r.command == p.command) => {
                        rejected.retain(|r| r.kind != p.kind);
                        rejected.push(RejectedProposal {
                            kind: p.kind.clone(),
                            command: p.command.clone(),
                            reasons,
                            rationale: a.rationale.clone(),
                        });
                    }
                    Err(_) => {}
                }
            }
        }
        let serves_itself = app.language.as_ref().is_some_and(|l| l.name == LanguageName::Static);
        if app.strategy == Strategy::Buildpacks
            && !serves_itself
            && app.processes.is_empty()
            && app.open_questions.iter().all(|q| q.code != QuestionCode::NoWebCommand)
        {
            // A language the model named is not a start command: that question is still open.
            app.open_questions.push(crate::plan::Question {
                code: QuestionCode::NoWebCommand,
                detail: "no web process: the rules inferred none and the model proposed none".into(),
            });
        }
        if app.processes.iter().any(|p| p.kind == "web") {
            app.open_questions.retain(|q| q.code != QuestionCode::NoWebCommand);
        } else if !app.processes.is_empty() && app.processes.iter().all(|p| p.source == ProcessSource::Llm) {
            // The model says this app runs no web process (a worker, a bot): the question is
            // answered, and a person still reviews it (status below).
            app.open_questions.retain(|q| q.code != QuestionCode::NoWebCommand);
        }
        for r in &rejected {
            app.warnings.push(Warning {
                code: WarningCode::LlmProposalRejected,
                message: format!("the model proposed {} `{}`, rejected: {}", r.kind, r.command, r.reasons.join("; ")),
                file: None,
                line: None,
            });
        }
        app.rejected_proposals.extend(rejected);
    }
    crate::plan::finalize(&mut plan);
    if monorepo && decided {
        for a in plan.apps.iter_mut().filter(|a| targets.iter().any(|t| t.repo_path == a.subdir)) {
            a.resolution.decided_by = DecidedBy::Llm;
        }
    }
    if decided {
        plan.resolution.decided_by = DecidedBy::Llm;
    }
    plan
}

fn parse_language(s: &str) -> Option<LanguageName> {
    serde_json::from_value(Value::String(s.trim().to_ascii_lowercase())).ok()
}

/// Settles a missing or tied language from the answer. Returns true when it changed the plan.
fn apply_language(app: &mut Plan, a: &AppAnswer, evidence: &[Evidence]) -> bool {
    let Some(name) = a.language.as_deref().and_then(parse_language) else { return false };
    let open: Vec<QuestionCode> = app.open_questions.iter().map(|q| q.code).collect();
    if open.contains(&QuestionCode::NoIndicator) && app.language.is_none() {
        app.language = Some(Language {
            name,
            version: None,
            version_source: None,
            framework: None,
            evidence: evidence.iter().map(|e| Evidence::new(e.file.clone(), "llm.language")).collect(),
        });
        if app.strategy == Strategy::Unsupported && app.dockerfile.is_none() {
            if let Some(group) = name.buildpack_group() {
                app.strategy = Strategy::Buildpacks;
                app.buildpack = Some(Buildpack { group: group.to_string(), builder: DEFAULT_BUILDER.to_string() });
            }
        }
        app.open_questions.retain(|q| q.code != QuestionCode::NoIndicator);
        return true;
    }
    if open.contains(&QuestionCode::LanguageTie) {
        let current = app.language.as_ref().map(|l| l.name);
        if current == Some(name) {
            app.open_questions.retain(|q| q.code != QuestionCode::LanguageTie);
            return true;
        }
        if let Some(i) = app.secondary_languages.iter().position(|s| s.name == name) {
            let second = app.secondary_languages.remove(i);
            if let Some(old) = app.language.take() {
                app.secondary_languages
                    .push(crate::plan::SecondaryLanguage { name: old.name, evidence: old.evidence.clone() });
            }
            app.language = Some(Language {
                name,
                version: None,
                version_source: None,
                framework: None,
                evidence: second.evidence,
            });
            if app.strategy == Strategy::Buildpacks {
                if let Some(group) = name.buildpack_group() {
                    app.buildpack = Some(Buildpack { group: group.to_string(), builder: DEFAULT_BUILDER.to_string() });
                }
            }
            app.open_questions.retain(|q| q.code != QuestionCode::LanguageTie);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_answers_in_fences_and_rejects_garbage() {
        let a = parse_answer("```json\n{\"apps\":[{\"subdir\":\"\",\"language\":\"python\",\"processes\":[{\"type\":\"web\",\"command\":\"gunicorn app:app\"}],\"rationale\":\"r\"}]}\n```")
            .expect("answer");
        assert_eq!(a.apps[0].processes[0].command, "gunicorn app:app");
        assert!(matches!(parse_answer("I think gunicorn"), Err(Fault::Garbage(_))));
        assert!(matches!(parse_answer("{\"foo\": 1}"), Err(Fault::Schema(_))));
        assert!(matches!(
            parse_answer("{\"apps\": [{\"processes\": [{\"type\": \"web; rm\", \"command\": \"x\"}]}]}"),
            Err(Fault::Schema(_))
        ));
        assert!(matches!(parse_answer("{\"apps\": [{\"processes\": [{\"type\": \"web\""), Err(Fault::Garbage(_))));
    }
}
