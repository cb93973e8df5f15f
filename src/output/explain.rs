//! The human explanation of a plan: what was decided, why, and what needs a person.

use std::fmt::Write;

use crate::plan::{Plan, Status, Strategy};

/// Renders `plan` as text for a terminal. Repository content is escaped (see
/// [`super::escape`]), so the text cannot drive the terminal.
pub fn explain(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}{}",
        plan.source.location,
        plan.source.commit.as_deref().map(|c| format!(" @ {}", &c[..c.len().min(12)])).unwrap_or_default()
    );
    explain_app(plan, &mut s, "");
    for app in &plan.apps {
        let _ = writeln!(s);
        explain_app(app, &mut s, "  ");
    }
    super::escape::escape_control(&s).into_owned()
}

fn explain_app(plan: &Plan, s: &mut String, indent: &str) {
    let where_ = if plan.subdir.is_empty() { ".".to_string() } else { plan.subdir.clone() };
    let status = match plan.status {
        Status::Ready => "ready",
        Status::NeedsReview => "needs review",
        Status::Unsupported => "unsupported",
    };
    let _ = writeln!(s, "{indent}app {where_}: {status}");
    if plan.monorepo {
        let _ = writeln!(s, "{indent}  monorepo with {} apps", plan.apps.len());
    }
    let strategy = match plan.strategy {
        Strategy::Dockerfile => format!("docker build --file {}", plan.dockerfile.as_deref().unwrap_or("Dockerfile")),
        Strategy::Buildpacks => match &plan.buildpack {
            Some(b) => format!("buildpacks: {} with {}", b.group, b.builder),
            None => "buildpacks".into(),
        },
        Strategy::Unsupported => "unsupported: add a Dockerfile".into(),
    };
    let _ = writeln!(s, "{indent}  build: {strategy}");
    if let Some(l) = &plan.language {
        let mut line = format!("{indent}  language: {}", l.name);
        if let Some(v) = &l.version {
            let _ = write!(line, " {v}");
        }
        if let Some(f) = &l.framework {
            let _ = write!(line, " ({f})");
        }
        let files: Vec<&str> = l.evidence.iter().map(|e| e.file.as_str()).collect();
        if !files.is_empty() {
            let _ = write!(line, ", from {}", files.join(", "));
        }
        let _ = writeln!(s, "{line}");
    }
    for sec in &plan.secondary_languages {
        let _ = writeln!(s, "{indent}  also present: {} (secondary)", sec.name);
    }
    for p in &plan.processes {
        let src = serde_json::to_value(p.source).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let ev: Vec<String> = p.evidence.iter().map(|e| format!("{} [{}]", e.file, e.rule)).collect();
        let _ = writeln!(s, "{indent}  {}: {}", p.kind, p.command);
        let _ = writeln!(s, "{indent}    from {src}, confidence {:.2}; {}", p.confidence, ev.join(", "));
    }
    for q in &plan.open_questions {
        let code = serde_json::to_value(q.code).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let _ = writeln!(s, "{indent}  open question [{code}]: {}", q.detail);
    }
    for w in &plan.warnings {
        let code = serde_json::to_value(w.code).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let loc = match (&w.file, w.line) {
            (Some(f), Some(l)) => format!(" ({f}:{l})"),
            (Some(f), None) => format!(" ({f})"),
            _ => String::new(),
        };
        let _ = writeln!(s, "{indent}  warning [{code}]{loc}: {}", w.message);
    }
    if let Some(suggested) = &plan.procfile.suggested {
        let _ = writeln!(s, "{indent}  suggested Procfile:");
        for line in suggested.lines() {
            let _ = writeln!(s, "{indent}    {line}");
        }
    }
}
