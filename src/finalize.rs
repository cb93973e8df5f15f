//! Plan assembly's last step, in one place: the suggested Procfile, the web question once a
//! web process exists, each app's status and a monorepo's status.
//!
//! Every path that changes a plan's processes (the rules in [`crate::scan`], the model in
//! [`crate::resolver`]) ends here, so a plan's status means the same whoever decided it.
//! Idempotent: finalizing twice gives the same plan.

use crate::cascade::procfile;
use crate::plan::{Plan, ProcessSource, QuestionCode, Status, Strategy, WarningCode, READY_CONFIDENCE};

/// Warnings a person must look at before the plan is used.
const REVIEW_WARNINGS: &[WarningCode] = &[
    WarningCode::UnsafeCommand,
    WarningCode::LegacyLayout,
    WarningCode::HardcodedPort,
    WarningCode::LlmProposalRejected,
    // What Paketo cannot build as asked (crate::consumers).
    WarningCode::RuntimeUnavailable,
    WarningCode::PackageManagerUnsupported,
];

/// Finalizes `plan` and its apps.
pub fn finalize(plan: &mut Plan) {
    for app in &mut plan.apps {
        finalize_app(app);
    }
    if plan.apps.is_empty() {
        finalize_app(plan);
        return;
    }
    let any_review = plan.apps.iter().any(|a| a.status == Status::NeedsReview);
    plan.status = if plan.open_questions.is_empty() && !any_review { Status::Ready } else { Status::NeedsReview };
}

fn finalize_app(app: &mut Plan) {
    if app.processes.iter().any(|p| p.kind == "web") {
        app.open_questions.retain(|q| q.code != QuestionCode::NoWebCommand);
    }
    // Settled processes have no alternatives left to choose from.
    let unsure: Vec<String> = app.processes.iter().filter(|p| !confident(p)).map(|p| p.kind.clone()).collect();
    app.alternatives.retain(|a| unsure.contains(&a.kind));
    app.procfile.suggested = suggested_procfile(app);
    app.status = status(app);
}

/// A process the plan may run without review: its calibrated confidence reaches the threshold
/// (a Procfile line is 1.0; compose, scripts and Makefiles earn theirs like the rules), or it
/// is the model's grammar-admitted answer (the escalation is the last word; its rejections are
/// a review warning).
fn confident(p: &crate::plan::Process) -> bool {
    p.source == ProcessSource::Llm || p.confidence >= READY_CONFIDENCE
}

fn status(app: &Plan) -> Status {
    if app.strategy == Strategy::Unsupported && app.language.is_some() {
        return Status::Unsupported;
    }
    // The model's answer that the app runs no web process is for a person to confirm.
    let model_says_no_web = app.strategy == Strategy::Buildpacks
        && !app.processes.is_empty()
        && app.processes.iter().all(|p| p.source == ProcessSource::Llm && p.kind != "web");
    let review = !app.open_questions.is_empty()
        || app.warnings.iter().any(|w| REVIEW_WARNINGS.contains(&w.code))
        || !app.processes.iter().all(confident)
        || model_says_no_web;
    if review {
        Status::NeedsReview
    } else {
        Status::Ready
    }
}

/// The Procfile to propose: the present one with its hard-coded web port fixed, or (buildpacks,
/// none present) one line per process.
fn suggested_procfile(app: &Plan) -> Option<String> {
    let lines = |fix: bool| {
        let fixed: Vec<(String, String)> = app
            .processes
            .iter()
            .map(|p| {
                let c = if fix && p.kind == "web" { procfile::fix_port(&p.command) } else { None };
                (p.kind.clone(), c.unwrap_or_else(|| p.command.to_string()))
            })
            .collect();
        procfile::render(fixed.iter().map(|(k, c)| (k.as_str(), c.as_str())))
    };
    if app.procfile.path.is_some() {
        let from_procfile = app.processes.iter().all(|p| p.source == ProcessSource::Procfile);
        let hardcoded = app.warnings.iter().any(|w| w.code == WarningCode::HardcodedPort);
        return (hardcoded && from_procfile && !app.processes.is_empty()).then(|| lines(true));
    }
    (app.strategy == Strategy::Buildpacks && !app.processes.is_empty()).then(|| lines(false))
}
