//! From a [`RepoView`] to a validated [`Plan`]: runs the cascade per app, decides where each
//! process comes from, validates every command and sets the status.
//!
//! Where processes come from, first match wins: the app's Procfile; a deploy spec's start
//! commands; the Dockerfile's CMD/ENTRYPOINT (dockerfile strategy only); the language rules.
//! A deploy spec may declare a service without a command (a worker on Render): its type is
//! kept and the command filled from the next source.

use tracing::{debug, info_span};

use crate::admit::{App, SafeCommand};
use crate::cascade::deploy::{self, Service, ServiceKind};
use crate::cascade::dockerfile::{self, Dockerfile};
use crate::cascade::procfile::{self, Procfile};
use crate::cascade::stated::{self, Stated, StatedOrigin};
use crate::cascade::{self, choose_primary, detect_all, monorepo, programs_of, Analysis, Candidate, Strength};
use crate::plan::{
    Alternative, Buildpack, DecidedBy, Evidence, Language, LanguageName, Plan, Process, ProcessSource, ProcfileInfo,
    Question, QuestionCode, Resolution, SecondaryLanguage, Source, Status, Strategy, Warning, WarningCode,
    DEFAULT_BUILDER, SCHEMA_VERSION,
};
use crate::validate;
use crate::view::{ListingNote, RepoView};

/// Scans a listed repository (or the `--subdir` view of one) into a plan, within the plan's
/// size caps ([`crate::caps`]).
pub fn scan(view: &RepoView, source: Source) -> Plan {
    let mut plan = scan_uncapped(view, source);
    crate::caps::apply(&mut plan);
    plan
}

fn scan_uncapped(view: &RepoView, source: Source) -> Plan {
    let span = info_span!("scan", location = %source.location, subdir = view.subdir(), files = view.len());
    let _enter = span.enter();
    let (mut services, spec_warnings) = deploy::read(view);
    services.extend(compose_apps(view));
    let root_services: Vec<Service> = services.iter().filter(|s| s.dir.is_empty()).cloned().collect();
    let mut root = app_plan(view, &root_services, &source);
    let root_is_app = is_app(view, &root);
    let dirs = monorepo::discover(view, &services, root_is_app);
    debug!(apps = dirs.len(), root_is_app, "apps discovered");
    let listing = listing_warnings(view);

    if dirs.len() >= 2 {
        let declared = dirs.iter().filter(|d| d.rule.starts_with("deploy.")).count() >= 2;
        let apps: Vec<Plan> = dirs
            .iter()
            .map(|d| {
                if d.dir.is_empty() {
                    return root.clone();
                }
                let sub = view.subview(&d.dir);
                let mut svcs: Vec<Service> = services.iter().filter(|s| s.dir == d.dir).cloned().collect();
                for s in &mut svcs {
                    s.dir = String::new();
                    s.file = format!("{}{}", view.repo_path(""), s.file);
                }
                let mut app = app_plan(&sub, &svcs, &source);
                inherit_root_language(&mut app, root.language.as_ref());
                app
            })
            .collect();
        let mut plan = empty_plan(view, &source);
        plan.monorepo = true;
        plan.strategy = if view.is_file("Dockerfile") { Strategy::Dockerfile } else { Strategy::Buildpacks };
        plan.dockerfile = view.is_file("Dockerfile").then(|| view.repo_path("Dockerfile"));
        let names: Vec<String> =
            dirs.iter().map(|d| format!("{} [{}]", if d.dir.is_empty() { "." } else { &d.dir }, d.rule)).collect();
        if !declared {
            plan.open_questions.push(Question {
                code: QuestionCode::Monorepo,
                detail: format!(
                    "{} apps found ({}); which ones to deploy is for a person to confirm",
                    dirs.len(),
                    names.join(", ")
                ),
            });
        }
        plan.warnings = listing;
        plan.warnings.extend(spec_warnings);
        plan.apps = apps;
        crate::plan::finalize(&mut plan);
        return plan;
    }
    if let [only] = dirs.as_slice() {
        if !only.dir.is_empty() {
            let sub = view.subview(&only.dir);
            let mut plan =
                app_plan(&sub, &services.iter().filter(|s| s.dir == only.dir).cloned().collect::<Vec<_>>(), &source);
            let mut warnings = listing;
            warnings.extend(spec_warnings);
            warnings.extend(plan.warnings);
            plan.warnings = warnings;
            return plan;
        }
    }
    let mut warnings = listing;
    warnings.extend(spec_warnings);
    warnings.extend(root.warnings);
    root.warnings = warnings;
    root
}

/// The apps a docker-compose file builds from subdirectories, as services without a command
/// (the command comes from `stated` when the app is planned).
fn compose_apps(view: &RepoView) -> Vec<Service> {
    stated::compose::app_dirs(view)
        .into_iter()
        .map(|c| Service {
            name: c.name,
            dir: c.dir,
            kind: if c.serves { ServiceKind::Web } else { ServiceKind::Worker },
            command: None,
            dockerfile: c.dockerfile,
            file: c.file,
            rule: StatedOrigin::Compose.rule(),
        })
        .collect()
}

/// An app directory with a Dockerfile but no manifest of its own (built with the repository
/// root as context, using the root's package.json) is written in the root's language.
fn inherit_root_language(app: &mut Plan, root: Option<&Language>) {
    if app.language.is_some() || app.strategy != Strategy::Dockerfile {
        return;
    }
    if let Some(root) = root {
        let mut lang = root.clone();
        lang.evidence = root.evidence.iter().map(|e| Evidence::new(e.file.clone(), "monorepo.root_language")).collect();
        app.language = Some(lang);
    }
}

/// The root is an app of its own when it has a Dockerfile, a Procfile or a real indicator.
fn is_app(view: &RepoView, root: &Plan) -> bool {
    view.is_file("Dockerfile")
        || root.procfile.path.is_some()
        || detect_all(view).iter().any(|d| d.strength >= Strength::Normal)
        || !root.processes.is_empty()
}

fn listing_warnings(view: &RepoView) -> Vec<Warning> {
    view.notes()
        .into_iter()
        .map(|n| match n {
            ListingNote::SymlinkEscape { path, target } => Warning {
                code: WarningCode::SymlinkEscape,
                message: format!("symlink points outside the repository (to {target}); not followed"),
                file: Some(path),
                line: None,
            },
            ListingNote::NonUtf8Path { path } => Warning {
                code: WarningCode::NonUtf8Path,
                message: "file name is not valid UTF-8; shown with replacement characters".into(),
                file: Some(path),
                line: None,
            },
            ListingNote::FileLimit { limit } => Warning {
                code: WarningCode::FileLimit,
                message: format!("more than {limit} files: the rest were not listed"),
                file: None,
                line: None,
            },
            ListingNote::DepthLimit { path, limit } => Warning {
                code: WarningCode::DepthLimit,
                message: format!("directory deeper than {limit} levels not listed"),
                file: Some(path),
                line: None,
            },
        })
        .collect()
}

fn empty_plan(view: &RepoView, source: &Source) -> Plan {
    Plan {
        schema_version: SCHEMA_VERSION.to_string(),
        source: source.clone(),
        subdir: view.subdir().to_string(),
        strategy: Strategy::Buildpacks,
        dockerfile: None,
        language: None,
        secondary_languages: Vec::new(),
        buildpack: None,
        build: Default::default(),
        processes: Vec::new(),
        procfile: ProcfileInfo { path: None, suggested: None },
        monorepo: false,
        apps: Vec::new(),
        status: Status::Ready,
        open_questions: Vec::new(),
        warnings: Vec::new(),
        resolution: Resolution { decided_by: DecidedBy::Rules, llm: None },
        rejected_proposals: Vec::new(),
        alternatives: Vec::new(),
    }
}

/// One app's plan: the cascade over `view` (the app's directory).
pub fn app_plan(view: &RepoView, services: &[Service], source: &Source) -> Plan {
    let mut plan = empty_plan(view, source);
    let (docker, docker_warnings) = dockerfile::detect(view);
    let (procfile, procfile_warnings) = procfile::read(view);
    plan.warnings.extend(docker_warnings);
    plan.warnings.extend(procfile_warnings);
    if let Some(p) = &procfile {
        plan.warnings.extend(p.warnings.iter().cloned());
    }
    let mut services = services.to_vec();
    if !view.subdir().is_empty() {
        // Specs inside the app's own directory (fly.toml, railway.toml, ...).
        let (own, w) = deploy::read(view);
        services.extend(own.into_iter().filter(|s| s.dir.is_empty()));
        plan.warnings.extend(w);
    }

    // Programs the repository's own commands run: they settle language ties.
    let mut stated: Vec<String> = Vec::new();
    if let Some(p) = &procfile {
        stated.extend(p.entries.iter().flat_map(|e| programs_of(&e.command)));
    }
    stated.extend(services.iter().filter_map(|s| s.command.as_deref()).flat_map(programs_of));
    if let Some(c) = docker.as_ref().and_then(|d| d.command.as_deref()) {
        stated.extend(programs_of(c));
    }
    let choice = choose_primary(detect_all(view), &stated);
    let analysis = choice
        .primary
        .as_ref()
        .and_then(|d| cascade::ecosystem(d.language))
        .map(|e| e.analyze(view))
        .unwrap_or_default();
    let lang_name = choice.primary.as_ref().map(|d| d.language);

    if let Some(primary) = &choice.primary {
        let mut evidence = primary.evidence.clone();
        evidence.extend(analysis.evidence.iter().cloned());
        plan.language = Some(Language {
            name: primary.language,
            version: analysis.version.as_ref().map(|v| v.0.clone()),
            version_source: analysis.version.as_ref().map(|v| v.1.clone()),
            framework: analysis.framework.clone(),
            evidence,
        });
    }
    plan.secondary_languages =
        choice.secondary.iter().map(|d| SecondaryLanguage { name: d.language, evidence: d.evidence.clone() }).collect();
    if let Some(q) = choice.tie.clone() {
        plan.open_questions.push(q);
    }

    // Strategy and builder.
    let group = lang_name.and_then(LanguageName::buildpack_group);
    if let Some(d) = &docker {
        plan.strategy = Strategy::Dockerfile;
        plan.dockerfile = Some(view.repo_path(&d.path));
    } else if let Some(group) = group {
        plan.strategy = Strategy::Buildpacks;
        plan.buildpack = Some(Buildpack { group: group.to_string(), builder: DEFAULT_BUILDER.to_string() });
    } else {
        plan.strategy = Strategy::Unsupported;
        match lang_name {
            Some(l) if !analysis.warnings.iter().any(|w| w.code == WarningCode::UnsupportedLanguage) => {
                plan.warnings.push(Warning {
                    code: WarningCode::UnsupportedLanguage,
                    message: format!("{l} has no Paketo buildpack: add a Dockerfile to build it"),
                    file: None,
                    line: None,
                })
            }
            Some(_) => {}
            None if services.iter().any(|s| s.kind == ServiceKind::Static) => {}
            None => plan.open_questions.push(Question {
                code: QuestionCode::NoIndicator,
                detail: "no Dockerfile and no language indicator (package.json, requirements.txt, go.mod, ...) found"
                    .into(),
            }),
        }
    }
    if docker.is_none() {
        plan.warnings.extend(gpu_base_image(view));
    }

    let repo_says = stated::commands(view, lang_name);
    let (drafts, from_rules) = assign_processes(procfile.as_ref(), &services, docker.as_ref(), &analysis, repo_says);
    // With a Dockerfile, GPU advice is moot and "add a Dockerfile" advice is already taken;
    // advice about the rules' own guesses applies only when the guesses are used.
    let analysis_warnings = analysis.warnings.iter().filter(|w| {
        let moot = docker.is_some() && matches!(w.code, WarningCode::GpuLibraries | WarningCode::UnsupportedLanguage);
        !moot && (from_rules || w.code != WarningCode::UnknownProgram)
    });
    for w in analysis_warnings {
        if !plan.warnings.contains(w) {
            plan.warnings.push(w.clone());
        }
    }
    admit_processes(&mut plan, drafts, view, lang_name);
    plan.alternatives = alternatives(&plan, &analysis, from_rules);

    // Questions: the rules' own only when the rules supplied the processes.
    let has_web = plan.processes.iter().any(|p| p.kind == "web");
    let declared_kinds =
        services.iter().any(|s| s.kind != ServiceKind::Web) && !services.iter().any(|s| s.kind == ServiceKind::Web);
    if from_rules {
        for q in &analysis.questions {
            if q.code != QuestionCode::NoWebCommand || !has_web {
                plan.open_questions.push(q.clone());
            }
        }
    }
    // Rules that found only workers (a chat bot) decided the app serves no HTTP.
    let rules_found_workers_only = from_rules && plan.processes.iter().any(|p| p.kind == "worker") && !has_web;
    let needs_web = plan.strategy == Strategy::Buildpacks
        && !analysis.serves_itself
        && !declared_kinds
        && !rules_found_workers_only;
    if needs_web && !has_web && !plan.open_questions.iter().any(|q| q.code == QuestionCode::NoWebCommand) {
        plan.open_questions.push(Question {
            code: QuestionCode::NoWebCommand,
            detail: "no web process: the Procfile and deploy specs name none and the rules inferred none".into(),
        });
    }
    if let Some(p) = &procfile {
        conflicting_procfile(view, p, &mut plan);
        if p.unreadable {
            plan.open_questions.push(Question {
                code: QuestionCode::ConflictingSignals,
                detail: format!("{} exists but could not be read; its processes are unknown", p.path),
            });
        }
    }

    if let Some(p) = &procfile {
        plan.procfile.path = Some(p.path.clone());
    }
    crate::consumers::apply(&mut plan, view, docker.as_ref());
    crate::plan::finalize(&mut plan);
    plan
}

/// A Dockerfile under another name (Dockerfile.gpu, docker/Dockerfile) built FROM an NVIDIA
/// CUDA image: the app needs GPU libraries the buildpacks' images lack.
fn gpu_base_image(view: &RepoView) -> Option<Warning> {
    let candidates = view.find_files(2, |name| {
        let lower = name.to_ascii_lowercase();
        lower.contains("dockerfile") || lower.contains("containerfile")
    });
    candidates.into_iter().take(20).find_map(|f| {
        let d = dockerfile::parse(&view.text(&f)?, &f);
        let base = d.bases.into_iter().find(|b| b.starts_with("nvidia/") || b.contains("/nvidia/") || b.contains("cuda"))?;
        Some(Warning {
            code: WarningCode::GpuLibraries,
            message: format!("{f} builds FROM {base}: GPU libraries the buildpacks do not provide; build with a root Dockerfile instead"),
            file: Some(view.repo_path(&f)),
            line: None,
        })
    })
}

/// A process before admission: who stated which command.
struct Draft {
    kind: String,
    command: String,
    source: ProcessSource,
    confidence: f32,
    evidence: Vec<Evidence>,
    /// What to admit instead when this draft is refused: a README line's grammar is strict,
    /// and the rule it corroborates may still be right.
    instead: Option<Box<Draft>>,
}

fn draft(kind: &str, command: &str, source: ProcessSource, confidence: f32, evidence: Vec<Evidence>) -> Draft {
    Draft { kind: kind.to_string(), command: command.to_string(), source, confidence, evidence, instead: None }
}

/// A command the repository states outside Procfile, deploy specs and the root Dockerfile.
fn from_stated(s: &Stated) -> Draft {
    draft(&s.kind, &s.command, s.origin.source(), s.confidence, s.evidence.clone())
}

fn from_candidate(c: &Candidate, kind: Option<&str>) -> Draft {
    draft(kind.unwrap_or(&c.kind), &c.command, ProcessSource::Rule, c.confidence, c.evidence.clone())
}

/// The processes, before admission. The flag is true when the language rules supplied them.
fn assign_processes(
    procfile: Option<&Procfile>,
    services: &[Service],
    docker: Option<&Dockerfile>,
    analysis: &Analysis,
    repo_says: Vec<Stated>,
) -> (Vec<Draft>, bool) {
    if let Some(p) = procfile.filter(|p| !p.entries.is_empty()) {
        let drafts = p
            .entries
            .iter()
            .map(|e| {
                draft(
                    &e.name,
                    &e.command,
                    ProcessSource::Procfile,
                    1.0,
                    vec![Evidence::new(p.path.clone(), "procfile")],
                )
            })
            .collect();
        return (drafts, false);
    }
    let mut drafts: Vec<Draft> = Vec::new();
    let docker_cmd = docker.and_then(|d| d.command.as_deref().map(|c| (d.path.clone(), c.to_string())));
    // What the repository states outside Procfile, deploy specs and the root Dockerfile,
    // weighed per kind against the language rules.
    let chosen = stated::choose(repo_says, &analysis.processes);
    let fallback = |kind: &str| -> Option<Draft> {
        let said = chosen.iter().find(|s| s.kind == kind);
        if let Some(s) = said.filter(|s| s.origin == StatedOrigin::Compose) {
            return Some(from_stated(s)); // compose's `command` overrides the image's CMD
        }
        if let Some((path, cmd)) = &docker_cmd {
            return Some(draft(
                kind,
                cmd,
                ProcessSource::Dockerfile,
                0.9,
                vec![Evidence::new(path.clone(), "dockerfile.cmd")],
            ));
        }
        if let Some(s) = said.filter(|_| docker.is_none()) {
            return Some(from_stated(s));
        }
        if docker.is_some() {
            return None; // the image's own default runs; the rules' guesses would not apply
        }
        let c = analysis.processes.iter().find(|c| c.kind == kind).or(analysis.processes.first())?;
        Some(from_candidate(c, Some(kind)))
    };
    let runnable: Vec<&Service> =
        services.iter().filter(|s| matches!(s.kind, ServiceKind::Web | ServiceKind::Worker)).collect();
    if !runnable.is_empty() {
        let workers = runnable.iter().filter(|s| s.kind == ServiceKind::Worker).count();
        for s in runnable {
            let kind = match s.kind {
                ServiceKind::Web => "web".to_string(),
                _ if workers == 1 => "worker".to_string(),
                _ => sanitize_kind(&s.name),
            };
            if drafts.iter().any(|p| p.kind == kind) {
                continue;
            }
            let p = match &s.command {
                Some(cmd) => Some(draft(
                    &kind,
                    cmd,
                    ProcessSource::DeploySpec,
                    0.95,
                    vec![Evidence::new(s.file.clone(), s.rule)],
                )),
                None => fallback(&kind),
            };
            drafts.extend(p);
        }
        return (drafts, false);
    }
    if services.iter().any(|s| matches!(s.kind, ServiceKind::Job | ServiceKind::Static)) {
        return (drafts, false); // declared as a cron job or static site: no long-running process
    }
    if let Some((path, cmd)) = &docker_cmd {
        drafts.push(draft(
            "web",
            cmd,
            ProcessSource::Dockerfile,
            0.9,
            vec![Evidence::new(path.clone(), "dockerfile.cmd")],
        ));
        return (drafts, false);
    }
    if docker.is_some() {
        // The image's own default runs unless compose overrides it for this build.
        let drafts = chosen.iter().filter(|s| s.origin == StatedOrigin::Compose).map(from_stated).collect();
        return (drafts, false);
    }
    let mut drafts: Vec<Draft> = chosen
        .iter()
        .map(|s| {
            let mut d = from_stated(s);
            if s.origin == StatedOrigin::Readme {
                let rule = analysis.processes.iter().find(|c| c.kind == s.kind);
                d.instead = rule.map(|c| Box::new(from_candidate(c, None)));
            }
            d
        })
        .collect();
    let covered: Vec<String> = chosen.iter().map(|s| s.kind.clone()).collect();
    let rules: Vec<Draft> =
        analysis.processes.iter().filter(|c| !covered.contains(&c.kind)).map(|c| from_candidate(c, None)).collect();
    let from_rules = !rules.is_empty() || chosen.is_empty();
    drafts.extend(rules);
    (drafts, from_rules)
}

fn sanitize_kind(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    if s.is_empty() {
        "worker".into()
    } else {
        s
    }
}

/// Admits every draft ([`SafeCommand::admit`]). What the repository states stays, with its
/// concerns as warnings; a rule's command the validator calls unsafe is dropped, with them.
fn admit_processes(plan: &mut Plan, drafts: Vec<Draft>, view: &RepoView, language: Option<LanguageName>) {
    let mut queue: std::collections::VecDeque<Draft> = drafts.into();
    while let Some(mut d) = queue.pop_front() {
        let app = App { view, language, kind: &d.kind, dockerfile: plan.strategy == Strategy::Dockerfile };
        let file = d.evidence.first().map(|e| e.file.clone());
        let (command, concerns) = match SafeCommand::admit(&d.command, d.source, &app) {
            Ok(c) => {
                let concerns = c.concerns().to_vec();
                (Some(c), concerns)
            }
            Err(refusal) if d.instead.is_some() => {
                debug!(kind = %d.kind, rule = ?refusal.rule, "stated command refused; the rule it corroborates is admitted instead");
                if let Some(instead) = d.instead.take() {
                    queue.push_front(*instead);
                }
                continue;
            }
            Err(refusal) => {
                let mut problems = validate::check(&d.command, &d.kind, language, view);
                if problems.is_empty() {
                    problems.push(validate::Problem { code: WarningCode::UnsafeCommand, reason: refusal.detail });
                }
                (None, problems)
            }
        };
        for problem in concerns {
            // The Procfile parser already reported its hard-coded ports.
            if problem.code == WarningCode::HardcodedPort && d.source == ProcessSource::Procfile {
                continue;
            }
            plan.warnings.push(Warning {
                code: problem.code,
                message: format!("{} process `{}`: {}", d.kind, d.command, problem.reason),
                file: file.clone(),
                line: None,
            });
        }
        if let Some(command) = command {
            plan.processes.push(Process {
                kind: d.kind,
                command,
                source: d.source,
                confidence: d.confidence,
                evidence: d.evidence,
            });
        }
    }
}

/// The rules' candidates, best first, for each process they supplied below the threshold.
fn alternatives(plan: &Plan, analysis: &Analysis, from_rules: bool) -> Vec<Alternative> {
    let unsure: Vec<&Process> = plan
        .processes
        .iter()
        .filter(|p| p.source == ProcessSource::Rule && p.confidence < crate::plan::READY_CONFIDENCE)
        .collect();
    let mut out: Vec<Alternative> = Vec::new();
    for p in unsure {
        let mut of_kind: Vec<&Candidate> = analysis.processes.iter().filter(|c| c.kind == p.kind).collect();
        if of_kind.is_empty() || !from_rules {
            out.push(Alternative {
                kind: p.kind.clone(),
                command: p.command.to_string(),
                confidence: p.confidence,
                evidence: p.evidence.clone(),
            });
            continue;
        }
        of_kind.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        for c in of_kind {
            out.push(Alternative {
                kind: p.kind.clone(),
                command: c.command.clone(),
                confidence: c.confidence,
                evidence: c.evidence.clone(),
            });
        }
    }
    out
}

/// A Procfile that runs a script the repository does not have.
fn conflicting_procfile(view: &RepoView, p: &Procfile, plan: &mut Plan) {
    const SCRIPT_EXT: &[&str] = &[".py", ".js", ".mjs", ".cjs", ".rb", ".php", ".sh", ".ts"];
    const BUILT: &[&str] = &["dist/", "build/", "target/", "out/", ".next/", "lib/"];
    for e in &p.entries {
        let Some(key) = crate::command::process_key(&e.command) else { continue };
        let Some(target) = key.target.as_deref() else { continue };
        let path = target.trim_start_matches("./");
        let looks_like_script = SCRIPT_EXT.iter().any(|x| path.ends_with(x)) && !path.starts_with('/');
        if looks_like_script && !view.is_file(path) && !BUILT.iter().any(|b| path.starts_with(b)) {
            plan.open_questions.push(Question {
                code: QuestionCode::ConflictingSignals,
                detail: format!("Procfile {} runs {path}, which is not in the repository", e.name),
            });
        }
    }
}
