//! The suggested Procfile as a proposal to the repository's owner: its lines with the reason
//! for each, a unified diff, and the commit message and pull request body that carry it.
//!
//! What is proposed, per app:
//! - no Procfile and a buildpacks build: one line per process the plan is sure of. A process
//!   the plan leaves uncertain (confidence below [`MIN_CONFIDENCE`], an open question that
//!   concerns it, a validator warning about its command) is listed as not proposed, with why;
//! - a Procfile whose web line binds a literal port: that one line, with `$PORT` in place of
//!   the port. Every other byte of the file stays as it is (comments, order, line endings);
//! - anything else (a Procfile already right, a Dockerfile build whose CMD runs): nothing.
//!
//! A proposal never replaces a Procfile wholesale: that is what keeps the push from
//! overwriting a file the tool did not write.

use std::fmt::Write;

use crate::cascade::procfile;
use crate::command;
use crate::plan::{Evidence, Plan, Process, QuestionCode, Strategy, WarningCode};

/// Processes below this confidence are not proposed.
pub const MIN_CONFIDENCE: f32 = 0.6;

/// The trailer that marks a commit as written by this tool.
pub const TRAILER: &str = "Generated-by: repo-scanner";

/// A marker in pull request bodies.
pub const BODY_MARKER: &str = "<!-- repo-scanner:procfile -->";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new Procfile where there was none.
    Add,
    /// The web line of an existing Procfile, with `$PORT` for its literal port.
    FixPort,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProposedLine {
    pub kind: String,
    pub command: String,
    /// The command before the fix (port fix only).
    pub previous: Option<String>,
    pub explanation: String,
    pub evidence: Vec<Evidence>,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileChange {
    /// Path from the repository root (`Procfile`, `services/api/Procfile`).
    pub path: String,
    pub kind: ChangeKind,
    /// The file's content today (port fix only).
    pub original: Option<String>,
    /// The file's content after the change.
    pub content: String,
    pub lines: Vec<ProposedLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The app's directory, `""` for the root.
    pub app: String,
    pub kind: String,
    pub command: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Proposal {
    pub changes: Vec<FileChange>,
    /// Processes not proposed, with why.
    pub skipped: Vec<Skipped>,
    /// Per app with no change: why (`.: Procfile present, nothing to fix`).
    pub unchanged: Vec<String>,
}

impl Proposal {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The proposal for `plan`. `current` returns the text of a repository file (the Procfile a
/// port fix edits); `min_confidence` is usually [`MIN_CONFIDENCE`].
pub fn propose(plan: &Plan, current: &dyn Fn(&str) -> Option<String>, min_confidence: f32) -> Proposal {
    let mut out = Proposal::default();
    for app in plan.app_plans() {
        let where_ = if app.subdir.is_empty() { ".".to_string() } else { app.subdir.clone() };
        if let Some(path) = &app.procfile.path {
            match port_fix(app, path, current) {
                Some(change) => out.changes.push(change),
                None => out.unchanged.push(format!("{where_}: {path} is present and binds $PORT; nothing to change")),
            }
            continue;
        }
        match app.strategy {
            Strategy::Dockerfile => {
                out.unchanged.push(format!("{where_}: built from its Dockerfile, whose CMD runs; no Procfile needed"));
                continue;
            }
            Strategy::Unsupported => {
                out.unchanged.push(format!("{where_}: unsupported; add a Dockerfile first"));
                continue;
            }
            Strategy::Buildpacks => {}
        }
        let mut lines = Vec::new();
        for p in &app.processes {
            if let Some(reason) = uncertain(app, p, min_confidence) {
                out.skipped.push(Skipped {
                    app: app.subdir.clone(),
                    kind: p.kind.clone(),
                    command: p.command.to_string(),
                    reason,
                });
                continue;
            }
            let command = if p.kind == "web" {
                procfile::fix_port(&p.command).unwrap_or_else(|| p.command.to_string())
            } else {
                p.command.to_string()
            };
            lines.push(ProposedLine {
                kind: p.kind.clone(),
                explanation: explain_process(p, &command),
                command,
                previous: None,
                evidence: p.evidence.clone(),
                confidence: p.confidence,
            });
        }
        if lines.is_empty() {
            out.unchanged.push(format!("{where_}: no process is certain enough to propose"));
            continue;
        }
        let content = procfile::render(lines.iter().map(|l| (l.kind.as_str(), l.command.as_str())));
        let path = if app.subdir.is_empty() { "Procfile".to_string() } else { format!("{}/Procfile", app.subdir) };
        out.changes.push(FileChange { path, kind: ChangeKind::Add, original: None, content, lines });
    }
    out
}

/// Why `p` is not proposed, or None when it is.
fn uncertain(app: &Plan, p: &Process, min_confidence: f32) -> Option<String> {
    if p.confidence < min_confidence {
        return Some(format!("confidence {:.2} is below {min_confidence:.2}", p.confidence));
    }
    for q in &app.open_questions {
        let concerns = match q.code {
            QuestionCode::NoWebCommand => p.kind == "web",
            QuestionCode::LanguageTie | QuestionCode::NoIndicator | QuestionCode::ConflictingSignals => true,
            QuestionCode::Monorepo => false,
        };
        if concerns {
            return Some(format!("open question: {}", q.detail));
        }
    }
    let prefix = format!("{} process `", p.kind);
    app.warnings
        .iter()
        .find(|w| {
            w.message.starts_with(&prefix) && matches!(w.code, WarningCode::UnknownProgram | WarningCode::UnsafeCommand)
        })
        .map(|w| format!("needs review: {}", w.message))
}

/// The port fix of an existing Procfile: only its web line changes.
fn port_fix(app: &Plan, path: &str, current: &dyn Fn(&str) -> Option<String>) -> Option<FileChange> {
    let warning = app
        .warnings
        .iter()
        .find(|w| w.code == WarningCode::HardcodedPort && w.file.as_deref() == Some(path) && w.line.is_some())?;
    let line_no = usize::try_from(warning.line?).ok()?;
    let original = current(path)?;
    let mut lines: Vec<String> = original.split('\n').map(str::to_string).collect();
    let raw = lines.get(line_no.checked_sub(1)?)?.clone();
    let (name, after) = raw.split_once(':')?;
    if name.trim().trim_start_matches('\u{feff}') != "web" {
        return None;
    }
    let old = after.trim_end_matches('\r').trim();
    let fixed = procfile::fix_port(old)?;
    lines[line_no - 1] = format!("{name}:{}", after.replacen(old, &fixed, 1));
    let content = lines.join("\n");
    let process = app.process("web");
    let port = command::literal_port(old).map(|(_, p)| p.to_string()).unwrap_or_default();
    Some(FileChange {
        path: path.to_string(),
        kind: ChangeKind::FixPort,
        original: Some(original),
        content,
        lines: vec![ProposedLine {
            kind: "web".into(),
            explanation: format!(
                "Line {line_no} bound port {port}, but the platform assigns the port in $PORT and routes traffic \
                 there: the web process must listen on $PORT. Only this line changes."
            ),
            command: fixed,
            previous: Some(old.to_string()),
            evidence: vec![Evidence::new(path, "procfile.hardcoded_port")],
            confidence: process.map(|p| p.confidence).unwrap_or(1.0),
        }],
    })
}

/// What a rule id means, for people.
pub fn describe_rule(rule: &str) -> String {
    let known = match rule {
        "python.django_settings" | "python.django_manage" => "the Django project's WSGI application",
        "python.celery_app" => "the Celery application",
        "python.rq" => "an RQ worker",
        "python.main_script" => "the project's main script",
        "nodejs.scripts_start" => "package.json's `scripts.start`",
        "nodejs.scripts_worker" => "package.json's worker script",
        "nodejs.main" => "package.json's `main` file",
        "nodejs.main_built" => "package.json's `main`, built before start",
        "nodejs.entry_file" => "a conventional Node.js entry file",
        "nodejs.worker_file" => "a worker entry file",
        "nodejs.nextjs" => "Next.js's production server",
        "nodejs.nestjs_dist" => "the built NestJS application",
        "ruby.rails" => "Rails, served by Puma",
        "ruby.rackup" => "the Rack application in config.ru",
        "ruby.sidekiq" => "Sidekiq in the Gemfile",
        "ruby.sinatra_script" => "the Sinatra script",
        "go.module_binary" | "go.legacy_binary" => "the Go module's binary",
        "go.cmd_binary" => "a Go binary under cmd/",
        "rust.cargo_bin" | "rust.cargo" => "the Cargo package's binary",
        "php.docroot" | "php.index" => "PHP's built-in server on the document root",
        "dotnet.assembly" => "the project's published assembly",
        "dockerfile.cmd" => "the Dockerfile's CMD",
        "procfile" => "the Procfile",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    if let Some(fw) = rule.strip_prefix("python.").and_then(|r| r.strip_suffix("_app")) {
        return format!("the {fw} application object");
    }
    if rule.starts_with("jvm.") {
        return "the executable jar the build produces".to_string();
    }
    if rule.starts_with("deploy.") {
        return "the start command the deploy spec declares".to_string();
    }
    format!("rule `{rule}`")
}

/// One line's explanation: where the command comes from, and the `$PORT` rule.
fn explain_process(p: &Process, command: &str) -> String {
    let mut s = String::new();
    let what: Vec<String> = p.evidence.iter().map(|e| describe_rule(&e.rule)).collect();
    let files: Vec<&str> = p.evidence.iter().map(|e| e.file.as_str()).collect();
    let mut what_dedup: Vec<String> = Vec::new();
    for w in what {
        if !what_dedup.contains(&w) {
            what_dedup.push(w);
        }
    }
    let _ = write!(s, "From {}", what_dedup.join(" and "));
    if !files.is_empty() {
        let _ = write!(s, " ({})", files.join(", "));
    }
    let _ = write!(s, "; confidence {:.2}.", p.confidence);
    if p.kind == "web" {
        if command.contains("$PORT") || command.contains("${PORT") {
            s.push_str(" Listens on $PORT, the port the platform assigns and routes traffic to.");
        } else {
            s.push_str(" Must listen on $PORT: the app has to read PORT from its environment.");
        }
        if command != p.command {
            s.push_str(" The literal port the rules saw is replaced by $PORT.");
        }
    } else {
        s.push_str(" Runs as its own service from the same image; it receives no web traffic.");
    }
    s
}

/// The Procfile(s) with an explanation above each line: itself valid Procfile text.
pub fn annotated(proposal: &Proposal, plan: &Plan) -> String {
    let mut s = String::new();
    let src = match &plan.source.commit {
        Some(c) => format!("{} @ {}", plan.source.location, &c[..c.len().min(12)]),
        None => plan.source.location.clone(),
    };
    for change in &proposal.changes {
        let what = match change.kind {
            ChangeKind::Add => "suggested",
            ChangeKind::FixPort => "fixed",
        };
        // A comment is one line whatever the path holds (a directory named with a newline
        // would otherwise add a process line).
        let head = format!("{} ({what} by repo-scanner for {src})", change.path);
        let _ = writeln!(s, "# {}", super::escape::escape_log(&head));
        match change.kind {
            ChangeKind::Add => {
                for l in &change.lines {
                    let _ = writeln!(s, "# {}: {}", l.kind, super::escape::escape_log(&l.explanation));
                    let _ = writeln!(s, "{}: {}", l.kind, l.command);
                }
            }
            ChangeKind::FixPort => {
                for l in &change.lines {
                    let _ = writeln!(s, "# {}: {}", l.kind, super::escape::escape_log(&l.explanation));
                    if let Some(prev) = &l.previous {
                        let _ = writeln!(s, "# was: {}: {}", l.kind, super::escape::escape_log(prev));
                    }
                }
                s.push_str(change.content.trim_end_matches(['\n', '\r']));
                s.push('\n');
            }
        }
        s.push('\n');
    }
    for k in &proposal.skipped {
        let app = if k.app.is_empty() { String::new() } else { format!("{}: ", k.app) };
        let line = format!("{app}{}: {} ({})", k.kind, k.command, k.reason);
        let _ = writeln!(s, "# not proposed: {}", super::escape::escape_log(&line));
    }
    for u in &proposal.unchanged {
        let _ = writeln!(s, "# nothing to propose for {}", super::escape::escape_log(u));
    }
    super::escape::escape_control(s.trim_end()).into_owned() + "\n"
}

/// A unified diff (git style, `git apply` takes it) of every change against the repository.
pub fn patch(proposal: &Proposal) -> String {
    let mut out = String::new();
    for c in &proposal.changes {
        let old = c.original.as_deref().unwrap_or("");
        let _ = writeln!(out, "diff --git a/{p} b/{p}", p = c.path);
        let (from, to) = match c.kind {
            ChangeKind::Add => {
                out.push_str("new file mode 100644\n");
                ("/dev/null".to_string(), format!("b/{}", c.path))
            }
            ChangeKind::FixPort => (format!("a/{}", c.path), format!("b/{}", c.path)),
        };
        let diff = similar::TextDiff::from_lines(old, c.content.as_str());
        let text = diff.unified_diff().context_radius(3).header(&from, &to).to_string();
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Where evidence files link to: a repository's web URL and the commit scanned.
#[derive(Debug, Clone)]
pub struct Links {
    /// e.g. `https://github.com/owner/repo`.
    pub repo_url: String,
    pub commit: String,
}

impl Links {
    fn file(&self, path: &str) -> String {
        format!("[`{path}`]({}/blob/{}/{path})", self.repo_url, self.commit)
    }
}

pub fn title(proposal: &Proposal) -> String {
    if proposal.changes.iter().all(|c| c.kind == ChangeKind::FixPort) {
        "Procfile: listen on $PORT in the web process".to_string()
    } else if proposal.changes.len() == 1 {
        format!("Add a {} for the platform's process types", proposal.changes[0].path)
    } else {
        format!("Add Procfiles for {} apps", proposal.changes.len())
    }
}

/// The commit message: the title, one line per process, and the [`TRAILER`].
pub fn commit_message(proposal: &Proposal, plan: &Plan) -> String {
    let mut s = title(proposal);
    s.push_str("\n\n");
    for c in &proposal.changes {
        for l in &c.lines {
            let _ = writeln!(s, "{} {}: {}", c.path, l.kind, l.command);
        }
    }
    s.push('\n');
    if let Some(commit) = &plan.source.commit {
        let _ = writeln!(s, "Scanned-commit: {commit}");
    }
    let _ = writeln!(s, "{TRAILER}");
    super::escape::escape_control(&s).into_owned()
}

/// The pull request body: the file, a reason per line with links to the evidence, what was
/// left out and why.
pub fn pr_body(proposal: &Proposal, plan: &Plan, links: Option<&Links>) -> String {
    let file = |p: &str| links.map(|l| l.file(p)).unwrap_or_else(|| format!("`{p}`"));
    let mut s = String::new();
    let commit = plan.source.commit.as_deref().map(|c| &c[..c.len().min(12)]);
    let at = commit.map(|c| format!(" at `{c}`")).unwrap_or_default();
    let _ = writeln!(
        s,
        "repo-scanner read this repository{at} to decide how it is built and run. \
         The platform runs one service per Procfile line, all from the same image; the web process \
         receives the traffic on the port the platform puts in `$PORT`.\n"
    );
    for c in &proposal.changes {
        match c.kind {
            ChangeKind::Add => {
                let _ = writeln!(s, "### New `{}`\n", c.path);
                let _ = writeln!(s, "```Procfile\n{}```\n", c.content);
            }
            ChangeKind::FixPort => {
                let _ = writeln!(s, "### Fix in {}\n", file(&c.path));
                let _ = writeln!(
                    s,
                    "```diff\n{}```\n",
                    patch(&Proposal { changes: vec![c.clone()], ..Default::default() })
                );
            }
        }
        let _ = writeln!(s, "| process | command | why |\n|---|---|---|");
        for l in &c.lines {
            let evidence: Vec<String> =
                l.evidence.iter().map(|e| format!("{} (`{}`)", file(&e.file), e.rule)).collect();
            let why = if evidence.is_empty() {
                l.explanation.clone()
            } else {
                format!("{} Evidence: {}.", l.explanation, evidence.join(", "))
            };
            let _ = writeln!(s, "| `{}` | `{}` | {} |", l.kind, l.command.replace('|', "\\|"), why.replace('|', "\\|"));
        }
        s.push('\n');
    }
    if !proposal.skipped.is_empty() {
        let _ = writeln!(s, "**Not proposed** (left for you to decide):\n");
        for k in &proposal.skipped {
            let app = if k.app.is_empty() { String::new() } else { format!("{}: ", k.app) };
            let _ = writeln!(s, "- {app}`{}: {}`: {}", k.kind, k.command, k.reason);
        }
        s.push('\n');
    }
    if let Some(c) = commit {
        let _ = writeln!(
            s,
            "This branch holds a single commit on top of `{c}` and is rewritten when the scan is run again; \
             nothing else in the repository changes.\n"
        );
    }
    let _ = writeln!(s, "{BODY_MARKER}");
    super::escape::escape_control(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_have_descriptions() {
        assert_eq!(describe_rule("python.fastapi_app"), "the fastapi application object");
        assert!(describe_rule("deploy.render_yaml").contains("deploy spec"));
        assert_eq!(describe_rule("x.y"), "rule `x.y`");
    }
}
