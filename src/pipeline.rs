//! The one path from a request to a plan: load -> view -> cascade -> escalation -> finalize.
//!
//! `scan`, `procfile`, `render`, `serve` and `eval` all call [`run`] (or [`run_loaded`] when
//! they list the source themselves, as the server does behind its SSRF guard), so they agree:
//! the same repository gives the same plan whichever command asked. Admission
//! ([`crate::admit`]) happens where commands enter the plan: in the cascade's assembly for the
//! repository's and the rules' commands, in the resolver for the model's.

use tracing::info_span;

use crate::cancel::{Cancel, Cancelled};
use crate::plan::{Plan, Source};
use crate::source::{self, Loaded, Request, SourceError};
use crate::view::{Limits, RepoView};

/// Settles what the rules left open or were unsure of; once per repository.
pub trait Escalate: Sync {
    fn escalate(&self, plan: Plan, view: &RepoView) -> Plan;
}

impl<F: Fn(Plan, &RepoView) -> Plan + Sync> Escalate for F {
    fn escalate(&self, plan: Plan, view: &RepoView) -> Plan {
        self(plan, view)
    }
}

/// The model resolver driven on a runtime, for synchronous callers (CLI, eval workers, the
/// server's blocking pool).
pub struct Model {
    pub resolver: crate::resolver::Resolver,
    pub runtime: tokio::runtime::Handle,
}

impl Escalate for Model {
    fn escalate(&self, plan: Plan, view: &RepoView) -> Plan {
        self.runtime.block_on(self.resolver.resolve(plan, view))
    }
}

/// How to run the pipeline.
#[derive(Clone, Default)]
pub struct Options<'a> {
    pub limits: Limits,
    /// Scan only this directory of the repository.
    pub subdir: Option<String>,
    /// Files hidden from the rules and the model (the evaluation hides the Procfile).
    pub hide: Vec<String>,
    /// None: rules only (the plan says `needs_review` where the rules are unsure).
    pub escalation: Option<&'a dyn Escalate>,
    /// Checked between stages and passed to the loaders.
    pub cancel: Cancel,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// What a run produced: the plan, and the repository's root view (the hand-off reads the
/// current Procfile from it).
pub struct Outcome {
    pub plan: Plan,
    pub root: RepoView,
}

/// Loads `request` and runs the pipeline over it.
pub fn run(request: &Request, options: &Options<'_>) -> Result<Outcome, PipelineError> {
    options.cancel.check()?;
    let loaded = source::load_with(request, options.limits, &options.cancel)?;
    run_loaded(loaded, options)
}

/// The pipeline over a source already listed.
pub fn run_loaded(loaded: Loaded, options: &Options<'_>) -> Result<Outcome, PipelineError> {
    let span = info_span!("pipeline", location = %loaded.source.location);
    let _enter = span.enter();
    options.cancel.check()?;
    let root = loaded.view;
    let view = match &options.subdir {
        Some(d) => source::subdir_view(&root, d)?,
        None => root.clone(),
    };
    let hidden: Vec<&str> = options.hide.iter().map(String::as_str).collect();
    let view = if hidden.is_empty() { view } else { view.without(&hidden) };
    let plan = stages(&view, loaded.source, options.escalation, &options.cancel)?;
    Ok(Outcome { plan, root })
}

/// The stages after listing, for callers that list views themselves and cannot be cancelled
/// (the evaluation's workers).
pub fn plan_view(view: &RepoView, source: Source, escalation: Option<&dyn Escalate>) -> Plan {
    let never = Cancel::new();
    match stages(view, source, escalation, &never) {
        Ok(plan) => plan,
        // `never` is never cancelled; the scan itself cannot fail.
        Err(Cancelled) => unreachable!("a fresh Cancel flag was cancelled"),
    }
}

/// cascade -> escalation -> finalize.
fn stages(
    view: &RepoView,
    source: Source,
    escalation: Option<&dyn Escalate>,
    cancel: &Cancel,
) -> Result<Plan, Cancelled> {
    let mut plan = crate::scan::scan(view, source);
    cancel.check()?;
    if let Some(e) = escalation {
        if crate::resolver::needs_llm(&plan) {
            plan = e.escalate(plan, view);
            cancel.check()?;
        }
    }
    crate::plan::finalize(&mut plan);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{SourceKind, Status};

    fn loaded() -> Loaded {
        let view = RepoView::from_memory([
            ("requirements.txt", "flask\ngunicorn\n"),
            ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ]);
        Loaded { view, source: Source { kind: SourceKind::Dir, location: "mem".into(), git_ref: None, commit: None } }
    }

    #[test]
    fn a_cancelled_run_stops_before_the_cascade() {
        let options = Options::default();
        options.cancel.cancel();
        assert!(matches!(run_loaded(loaded(), &options), Err(PipelineError::Cancelled(_))));
        assert!(matches!(run(&Request::Dir("/nonexistent".into()), &options), Err(PipelineError::Cancelled(_))));
    }

    #[test]
    fn an_unsure_process_goes_to_the_escalation_once() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let escalate = |plan: Plan, _: &RepoView| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            plan
        };
        let options = Options { escalation: Some(&escalate), ..Options::default() };
        let out = run_loaded(loaded(), &options).expect("runs");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The escalation changed nothing: the unsure rule's plan needs review.
        assert_eq!(out.plan.status, Status::NeedsReview);
        assert!(!out.plan.alternatives.is_empty());
    }

    #[test]
    fn a_subdir_outside_the_repository_is_refused() {
        let options = Options { subdir: Some("../x".into()), ..Options::default() };
        assert!(matches!(run_loaded(loaded(), &options), Err(PipelineError::Source(SourceError::InvalidSubdir(_)))));
    }
}
