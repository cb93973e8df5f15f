//! From a [`RepoView`] to a validated [`Plan`]: runs the cascade per app, decides where each
//! process comes from, validates every command and sets the status.
//!
//! Where processes come from, first match wins: the app's Procfile; a deploy spec's start
//! commands; the Dockerfile's CMD/ENTRYPOINT (dockerfile strategy only); the language rules.
//! A deploy spec may declare a service without a command (a worker on Render): its type is
//! kept and the command filled from the next source.

use tracing::{debug, info_span};

use crate::cascade::deploy::{self, Service, ServiceKind};
use crate::cascade::dockerfile::{self, Dockerfile};
use crate::cascade::procfile::{self, Procfile};
use crate::cascade::{self, choose_primary, detect_all, monorepo, programs_of, Analysis, Candidate, Strength};
use crate::plan::{
    Buildpack, DecidedBy, Evidence, Language, LanguageName, Plan, Process, ProcessSource, ProcfileInfo, Question,
    QuestionCode, Resolution, SecondaryLanguage, Source, Status, Strategy, Warning, WarningCode, DEFAULT_BUILDER,
    SCHEMA_VERSION,
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
    let (services, spec_warnings) = deploy::read(view);
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
        plan.status = monorepo_status(&plan);
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
        processes: Vec::new(),
        procfile: ProcfileInfo { path: None, suggested: None },
        monorepo: false,
        apps: Vec::new(),
        status: Status::Ready,
        open_questions: Vec::new(),
        warnings: Vec::new(),
        resolution: Resolution { decided_by: DecidedBy::Rules, llm: None },
        rejected_proposals: Vec::new(),
    }
}

fn monorepo_status(plan: &Plan) -> Status {
    if !plan.open_questions.is_empty() || plan.apps.iter().any(|a| a.status == Status::NeedsReview) {
        Status::NeedsReview
    } else {
        Status::Ready
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

    let from_rules = assign_processes(&mut plan, procfile.as_ref(), &services, docker.as_ref(), &analysis);
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
    validate_processes(&mut plan, view, lang_name);

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
    let needs_web = plan.strategy == Strategy::Buildpacks && !analysis.serves_itself && !declared_kinds;
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

    // The Procfile: present, or suggested.
    if let Some(p) = &procfile {
        plan.procfile.path = Some(p.path.clone());
        if p.warnings.iter().any(|w| w.code == WarningCode::HardcodedPort) {
            let fixed: Vec<(String, String)> = p
                .entries
                .iter()
                .map(|e| {
                    let c = if e.name == "web" {
                        procfile::fix_port(&e.command).unwrap_or(e.command.clone())
                    } else {
                        e.command.clone()
                    };
                    (e.name.clone(), c)
                })
                .collect();
            plan.procfile.suggested = Some(procfile::render(fixed.iter().map(|(n, c)| (n.as_str(), c.as_str()))));
        }
    } else if plan.strategy == Strategy::Buildpacks && !plan.processes.is_empty() {
        plan.procfile.suggested =
            Some(procfile::render(plan.processes.iter().map(|p| (p.kind.as_str(), p.command.as_str()))));
    }

    plan.status = if plan.strategy == Strategy::Unsupported && lang_name.is_some() {
        Status::Unsupported
    } else if !plan.open_questions.is_empty()
        || plan.warnings.iter().any(|w| {
            matches!(w.code, WarningCode::UnsafeCommand | WarningCode::LegacyLayout | WarningCode::HardcodedPort)
        })
    {
        Status::NeedsReview
    } else {
        Status::Ready
    };
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

fn process(kind: &str, command: &str, source: ProcessSource, confidence: f32, evidence: Vec<Evidence>) -> Process {
    Process { kind: kind.to_string(), command: command.to_string(), source, confidence, evidence }
}

fn from_candidate(c: &Candidate, kind: Option<&str>) -> Process {
    process(kind.unwrap_or(&c.kind), &c.command, ProcessSource::Rule, c.confidence, c.evidence.clone())
}

/// Fills `plan.processes`. Returns true when the language rules supplied them.
fn assign_processes(
    plan: &mut Plan,
    procfile: Option<&Procfile>,
    services: &[Service],
    docker: Option<&Dockerfile>,
    analysis: &Analysis,
) -> bool {
    if let Some(p) = procfile.filter(|p| !p.entries.is_empty()) {
        plan.processes = p
            .entries
            .iter()
            .map(|e| {
                process(
                    &e.name,
                    &e.command,
                    ProcessSource::Procfile,
                    1.0,
                    vec![Evidence::new(p.path.clone(), "procfile")],
                )
            })
            .collect();
        return false;
    }
    let docker_cmd = docker.and_then(|d| d.command.as_deref().map(|c| (d.path.clone(), c.to_string())));
    let fallback = |kind: &str| -> Option<Process> {
        if let Some((path, cmd)) = &docker_cmd {
            return Some(process(
                kind,
                cmd,
                ProcessSource::Dockerfile,
                0.9,
                vec![Evidence::new(path.clone(), "dockerfile.cmd")],
            ));
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
            if plan.processes.iter().any(|p| p.kind == kind) {
                continue;
            }
            let p = match &s.command {
                Some(cmd) => {
                    Some(process(&kind, cmd, ProcessSource::Rule, 0.95, vec![Evidence::new(s.file.clone(), s.rule)]))
                }
                None => fallback(&kind),
            };
            plan.processes.extend(p);
        }
        return false;
    }
    if services.iter().any(|s| matches!(s.kind, ServiceKind::Job | ServiceKind::Static)) {
        return false; // declared as a cron job or static site: no long-running process
    }
    if let Some((path, cmd)) = &docker_cmd {
        plan.processes.push(process(
            "web",
            cmd,
            ProcessSource::Dockerfile,
            0.9,
            vec![Evidence::new(path.clone(), "dockerfile.cmd")],
        ));
        return false;
    }
    if docker.is_some() {
        return false;
    }
    plan.processes = analysis.processes.iter().map(|c| from_candidate(c, None)).collect();
    true
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

/// Runs the validator over every process. Commands the repository states stay, with warnings;
/// commands the rules built and that fail are dropped.
fn validate_processes(plan: &mut Plan, view: &RepoView, language: Option<LanguageName>) {
    let mut kept = Vec::new();
    for p in std::mem::take(&mut plan.processes) {
        let mut problems = validate::check(&p.command, &p.kind, language, view);
        if plan.strategy == Strategy::Dockerfile {
            // The command runs inside the built image, where paths need not exist in the repo.
            problems.retain(|x| x.code != WarningCode::UnknownProgram);
        }
        let stated = matches!(p.source, ProcessSource::Procfile | ProcessSource::Dockerfile)
            || p.evidence.iter().any(|e| e.rule.starts_with("deploy."));
        let file = p.evidence.first().map(|e| e.file.clone());
        let rejected = !stated && problems.iter().any(|x| x.code == WarningCode::UnsafeCommand);
        for problem in problems {
            // The Procfile parser already reported its hard-coded ports.
            if problem.code == WarningCode::HardcodedPort && p.source == ProcessSource::Procfile {
                continue;
            }
            plan.warnings.push(Warning {
                code: problem.code,
                message: format!("{} process `{}`: {}", p.kind, p.command, problem.reason),
                file: file.clone(),
                line: None,
            });
        }
        if !rejected {
            kept.push(p);
        }
    }
    plan.processes = kept;
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
