//! Caps on a plan's size, applied in one place (the end of [`crate::scan::scan`]), so a
//! repository cannot make its plan megabytes: a 1 MiB Procfile of distinct names, a monorepo
//! of thousands of apps, a manifest that yields a warning per line.
//!
//! What is past a cap is dropped and said so in one `plan_capped` warning, and a plan that
//! lost anything is not `ready`: a person decides about a repository this unusual. A command
//! longer than [`MAX_COMMAND_CHARS`] is not shortened (a cut command is a different command):
//! its process is dropped.

use crate::plan::{Plan, Status, Warning, WarningCode};

pub const MAX_PROCESSES: usize = 64;
pub const MAX_COMMAND_CHARS: usize = 4096;
pub const MAX_WARNINGS: usize = 100;
pub const MAX_QUESTIONS: usize = 50;
pub const MAX_APPS: usize = 100;
pub const MAX_EVIDENCE: usize = 32;
pub const MAX_MESSAGE_CHARS: usize = 1024;
pub const MAX_SUGGESTED_BYTES: usize = 64 << 10;

/// Applies every cap to `plan` and its apps.
pub fn apply(plan: &mut Plan) {
    let mut dropped: Vec<String> = Vec::new();
    let long = plan.processes.iter().filter(|p| p.command.chars().count() > MAX_COMMAND_CHARS).count();
    if long > 0 {
        plan.processes.retain(|p| p.command.chars().count() <= MAX_COMMAND_CHARS);
        dropped.push(format!("{long} process(es) whose command is over {MAX_COMMAND_CHARS} characters"));
    }
    if plan.processes.len() > MAX_PROCESSES {
        dropped.push(format!("{} processes past the first {MAX_PROCESSES}", plan.processes.len() - MAX_PROCESSES));
        plan.processes.truncate(MAX_PROCESSES);
    }
    for p in &mut plan.processes {
        p.evidence.truncate(MAX_EVIDENCE);
    }
    if let Some(l) = &mut plan.language {
        l.evidence.truncate(MAX_EVIDENCE);
    }
    if plan.procfile.suggested.as_ref().is_some_and(|s| s.len() > MAX_SUGGESTED_BYTES) {
        plan.procfile.suggested = None;
        dropped.push(format!("the suggested Procfile (over {MAX_SUGGESTED_BYTES} bytes)"));
    }
    if plan.apps.len() > MAX_APPS {
        dropped.push(format!("{} apps past the first {MAX_APPS}", plan.apps.len() - MAX_APPS));
        plan.apps.truncate(MAX_APPS);
    }
    if plan.open_questions.len() > MAX_QUESTIONS {
        dropped.push(format!("{} open questions", plan.open_questions.len() - MAX_QUESTIONS));
        plan.open_questions.truncate(MAX_QUESTIONS);
    }
    if plan.rejected_proposals.len() > MAX_QUESTIONS {
        plan.rejected_proposals.truncate(MAX_QUESTIONS);
    }
    for w in &mut plan.warnings {
        cut(&mut w.message);
    }
    for q in &mut plan.open_questions {
        cut(&mut q.detail);
    }
    // One place left for the cap's own warning.
    if plan.warnings.len() > MAX_WARNINGS - 1 {
        dropped.push(format!("{} warnings", plan.warnings.len() - (MAX_WARNINGS - 1)));
        plan.warnings.truncate(MAX_WARNINGS - 1);
    }
    if !dropped.is_empty() {
        plan.warnings.push(Warning {
            code: WarningCode::PlanCapped,
            message: format!("the plan was cut to its size limits; left out: {}", dropped.join("; ")),
            file: None,
            line: None,
        });
        if plan.status == Status::Ready {
            plan.status = Status::NeedsReview;
        }
    }
    for app in &mut plan.apps {
        apply(app);
    }
}

fn cut(s: &mut String) {
    if let Some((i, _)) = s.char_indices().nth(MAX_MESSAGE_CHARS) {
        s.truncate(i);
        s.push_str("...");
    }
}
