//! Node.js: package.json.
//!
//! A package.json is often a helper (a Django app's asset build, a Go app's frontend), so its
//! strength depends on what it declares: a start script or a server framework makes it an app.
//! Start commands: `scripts.start` through the repository's package manager (what the
//! buildpack runs), else Next.js, NestJS's build output, `main`, or a conventional entry file.

use serde_json::Value;

use super::{read_json, version_file, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode};
use crate::view::RepoView;

pub struct Node;

/// Dependencies that make a package.json a server app.
const SERVERS: &[&str] = &[
    "express",
    "fastify",
    "next",
    "@nestjs/core",
    "koa",
    "@hapi/hapi",
    "hapi",
    "nuxt",
    "@remix-run/serve",
    "@sveltejs/kit",
    "restify",
    "sails",
    "@adonisjs/core",
    "hono",
    "polka",
    "socket.io",
    "serve",
    "astro",
    "@tanstack/react-start",
    "http-server",
    "json-server",
    "loopback",
    "@feathersjs/feathers",
    "meteor-node-stubs",
];

/// (dependency, framework name), most specific first.
const FRAMEWORKS: &[(&str, &str)] = &[
    ("next", "nextjs"),
    ("@nestjs/core", "nestjs"),
    ("nuxt", "nuxt"),
    ("@remix-run/serve", "remix"),
    ("@sveltejs/kit", "sveltekit"),
    ("@tanstack/react-start", "tanstack-start"),
    ("astro", "astro"),
    ("fastify", "fastify"),
    ("koa", "koa"),
    ("@hapi/hapi", "hapi"),
    ("hono", "hono"),
    ("express", "express"),
    ("react-scripts", "create-react-app"),
    ("vite", "vite"),
];

/// Programs that run a Procfile locally: a start script using them says nothing of the web process.
const PROCFILE_RUNNERS: &[&str] = &["nf", "foreman", "heroku", "overmind", "honcho"];

pub fn has_dep(pkg: &Value, name: &str) -> bool {
    ["dependencies", "devDependencies", "peerDependencies"]
        .iter()
        .any(|k| pkg.get(k).and_then(|d| d.get(name)).is_some())
}

fn has_runtime_dep(pkg: &Value, name: &str) -> bool {
    pkg.get("dependencies").and_then(|d| d.get(name)).is_some()
}

pub fn script<'a>(pkg: &'a Value, name: &str) -> Option<&'a str> {
    pkg.get("scripts").and_then(|s| s.get(name)).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The package manager the repository uses: `packageManager`, then the nearest lockfile (a
/// workspace member's lockfile lives at the workspace root).
pub fn package_manager(view: &RepoView, pkg: &Value) -> &'static str {
    let declared = pkg.get("packageManager").and_then(Value::as_str).unwrap_or("");
    if declared.starts_with("pnpm") {
        return "pnpm";
    }
    if declared.starts_with("yarn") {
        return "yarn";
    }
    if declared.starts_with("bun") {
        return "bun";
    }
    for dir in view.ancestors() {
        if dir.is_file("bun.lockb") || dir.is_file("bun.lock") || dir.is_file("bunfig.toml") {
            return "bun";
        }
        if dir.is_file("pnpm-lock.yaml") || dir.is_file("pnpm-workspace.yaml") {
            return "pnpm";
        }
        if dir.is_file("yarn.lock") {
            return "yarn";
        }
        if dir.is_file("package-lock.json") {
            return "npm";
        }
    }
    "npm"
}

/// True when the package can run as a service (a start script or a server dependency).
pub fn is_runnable(pkg: &Value) -> bool {
    let start = script(pkg, "start").filter(|s| !runs_procfile(s));
    start.is_some() || SERVERS.iter().any(|d| has_runtime_dep(pkg, d) || (*d == "next" && has_dep(pkg, d)))
}

/// A mobile app (Expo, React Native): built for devices, not served.
pub fn is_mobile(pkg: &Value) -> bool {
    has_dep(pkg, "expo") || has_dep(pkg, "react-native")
}

fn runs_procfile(start: &str) -> bool {
    crate::command::process_key(start).is_some_and(|k| PROCFILE_RUNNERS.contains(&k.program.as_str()))
}

/// `main` pointing into a build output (`dist/index.js`) that `scripts.build` produces.
fn built_main(pkg: &Value) -> Option<String> {
    let main = pkg.get("main").and_then(Value::as_str)?.trim_start_matches("./");
    let built = ["dist/", "build/", "out/", "lib/"].iter().any(|d| main.starts_with(d));
    (built && script(pkg, "build").is_some() && super::is_plain_name(main) && main.ends_with("js"))
        .then(|| main.to_string())
}

/// Chat-bot libraries: a package built on one of these and serving no HTTP is a worker.
const BOTS: &[&str] = &["telegraf", "discord.js", "grammy", "node-telegram-bot-api", "eris", "@slack/bolt", "tmi.js"];

/// Development servers: a `start` script running one serves unbuilt code with file watching,
/// so it is proposed but never trusted.
const DEV_SERVERS: &[&str] = &[
    "nodemon",
    "react-scripts start",
    "vite",
    "next dev",
    "webpack serve",
    "webpack-dev-server",
    "ng serve",
    "parcel",
];

fn runs_dev_server(start: &str) -> bool {
    DEV_SERVERS
        .iter()
        .any(|d| start.split("&&").any(|seg| seg.trim_start().starts_with(d) || seg.contains(&format!(" {d}"))))
        || start.contains(" dev")
}

/// Files a server conventionally starts from: an entry name (server, index, app, main, web)
/// in an entry directory (ENTRY_DIRS, plus backend/ and api/ layouts). The code then decides
/// which of them serves; a file under any other name is not guessed at.
fn server_sources(view: &RepoView) -> Vec<String> {
    let dirs = ENTRY_DIRS.iter().copied().chain(["backend/", "backend/src/", "api/", "src/server/"]);
    let stems = ["server", "index", "app", "main", "web"];
    dirs.flat_map(|d| {
        stems.iter().flat_map(move |s| ["js", "mjs", "cjs", "ts"].iter().map(move |e| format!("{d}{s}.{e}")))
    })
    .filter(|f| view.is_file(f))
    .collect()
}

/// The file that binds `process.env.PORT` with a `listen(` call: what the code itself starts.
/// Several such files: the shallowest, and a tie between equally deep ones is no answer.
fn listening_file(view: &RepoView) -> Option<String> {
    let mut hits: Vec<String> =
        server_sources(view).into_iter().filter(|f| view.text(f).is_some_and(|t| binds_port(&t))).collect();
    hits.sort_by_key(|f| (f.matches('/').count(), f.clone()));
    match hits.as_slice() {
        [] => None,
        [only] => Some(only.clone()),
        [a, b, ..] if a.matches('/').count() < b.matches('/').count() => Some(a.clone()),
        _ => None,
    }
}

/// `listen(` on `process.env.PORT`, or `Bun.serve(` (which reads $PORT itself).
fn binds_port(text: &str) -> bool {
    (text.contains("listen(") && (text.contains("process.env.PORT") || text.contains("Bun.env.PORT")))
        || text.contains("Bun.serve(")
}

/// The build-output file a start script runs (`node dist/index.js`), if any.
fn runs_build_output(start: &str) -> Option<String> {
    let key = crate::command::process_key(start)?;
    if key.program != "node" {
        return None;
    }
    let file = key.positionals.first()?.trim_start_matches("./").to_string();
    ["dist/", "build/", "out/"].iter().any(|d| file.starts_with(d)).then_some(file)
}

/// `<dir>/web.js` beside `<dir>/worker.js`: the web/worker split of a Procfile, as files.
fn web_beside_worker(view: &RepoView) -> Option<String> {
    ENTRY_DIRS.iter().find_map(|dir| {
        ["js", "mjs", "cjs"].iter().find_map(|ext| {
            let web = format!("{dir}web.{ext}");
            (view.is_file(&web) && view.is_file(&format!("{dir}worker.{ext}"))).then_some(web)
        })
    })
}

/// Directories an entry file conventionally sits in, in order.
const ENTRY_DIRS: &[&str] = &["", "lib/", "src/", "server/", "bin/"];

/// The first `<dir><stem>.<js|mjs|cjs>` that exists, trying every stem in a directory before
/// the next directory.
fn entry_file(view: &RepoView, stems: &[&str]) -> Option<String> {
    ENTRY_DIRS.iter().find_map(|dir| {
        stems.iter().find_map(|stem| {
            ["js", "mjs", "cjs"].iter().map(|ext| format!("{dir}{stem}.{ext}")).find(|f| view.is_file(f))
        })
    })
}

impl Ecosystem for Node {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::NODE_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Nodejs
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        if !view.is_file("package.json") {
            return None;
        }
        let strength = match read_json(view, "package.json") {
            Ok(Some(pkg)) => {
                let deps = pkg.get("dependencies").and_then(Value::as_object).is_some_and(|d| !d.is_empty());
                let main =
                    pkg.get("main").and_then(Value::as_str).is_some_and(|m| view.is_file(m.trim_start_matches("./")));
                if is_runnable(&pkg) {
                    Strength::Strong
                } else if deps || main {
                    Strength::Normal
                } else {
                    Strength::Weak
                }
            }
            // Unreadable: still an indicator, but nothing says it is the app.
            _ => Strength::Weak,
        };
        Some(Detection {
            language: LanguageName::Nodejs,
            strength,
            evidence: vec![Evidence::new(view.repo_path("package.json"), "nodejs.package_json")],
        })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        let pkg = match read_json(view, "package.json") {
            Ok(Some(pkg)) => pkg,
            Ok(None) => Value::Null,
            Err(w) => {
                a.warnings.push(w);
                Value::Null
            }
        };
        let pj = view.repo_path("package.json");
        a.version = pkg
            .get("engines")
            .and_then(|e| e.get("node"))
            .and_then(Value::as_str)
            .map(|v| (v.to_string(), pj.clone()))
            .or_else(|| version_file(view, ".nvmrc"))
            .or_else(|| version_file(view, ".node-version"));
        a.framework = FRAMEWORKS.iter().find(|(dep, _)| has_dep(&pkg, dep)).map(|(_, f)| f.to_string());
        let pm = package_manager(view, &pkg);
        let ev = |rule: &str| vec![Evidence::new(pj.clone(), rule.to_string())];

        let is_bot = BOTS.iter().any(|b| has_runtime_dep(&pkg, b));
        // `npm start` / `yarn start` / `pnpm start`; Bun runs scripts with `bun run`.
        let start_cmd = if pm == "bun" { "bun run start".to_string() } else { format!("{pm} start") };
        let runner = |file: &str| if pm == "bun" { format!("bun {file}") } else { format!("node {file}") };
        let serves = SERVERS.iter().any(|d| has_runtime_dep(&pkg, d));
        // TypeScript runs as-is only under Bun; Node runs its build output (the start script).
        let listening = listening_file(view).filter(|f| pm == "bun" || !f.ends_with(".ts"));
        if let Some(start) = script(&pkg, "start").filter(|s| !runs_procfile(s)) {
            if runs_dev_server(start) {
                a.processes.push(Candidate::new("web", start_cmd.clone(), 0.4, ev("nodejs.scripts_start_dev")));
                // Not NoWebCommand: there is a web command, it is just not fit for production.
                a.questions.push(Question {
                    code: QuestionCode::ConflictingSignals,
                    detail: format!(
                        "scripts.start runs a development server ({start}); a production start command is needed"
                    ),
                });
            } else {
                let (kind, rule) = if is_bot && !serves && listening.is_none() {
                    ("worker", "nodejs.bot_start")
                } else {
                    ("web", "nodejs.scripts_start")
                };
                // `node dist/server.js` needs the build that makes dist/: without a build
                // script and with no dist/ committed, the start cannot work as it stands.
                let unbuilt =
                    runs_build_output(start).is_some_and(|f| !view.is_file(&f)) && script(&pkg, "build").is_none();
                // 9/9 on corpus + wild (eval/calibration.md): the one Node rule that earns `ready`.
                let confidence = match (unbuilt, rule) {
                    (true, _) => 0.4,
                    (false, "nodejs.scripts_start") => 0.91,
                    _ => 0.7,
                };
                a.processes.push(Candidate::new(kind, start_cmd.clone(), confidence, ev(rule)));
                if unbuilt {
                    a.questions.push(Question {
                        code: QuestionCode::ConflictingSignals,
                        detail: format!("scripts.start runs build output ({start}) but no build script produces it"),
                    });
                }
            }
        } else if has_dep(&pkg, "next") {
            a.processes.push(Candidate::new("web", "node_modules/.bin/next start -p $PORT", 0.8, ev("nodejs.nextjs")));
        } else if has_dep(&pkg, "@nestjs/core") {
            a.processes.push(Candidate::new("web", "node dist/main.js", 0.7, ev("nodejs.nestjs_dist")));
        } else if let Some(main) = pkg
            .get("main")
            .and_then(Value::as_str)
            .map(|m| m.trim_start_matches("./"))
            .filter(|m| view.is_file(m) && super::is_plain_name(m) && !m.ends_with(".ts"))
        {
            a.processes.push(Candidate::new("web", format!("node {main}"), 0.7, ev("nodejs.main")));
        } else if let Some(main) = built_main(&pkg) {
            a.processes.push(Candidate::new("web", format!("node {main}"), 0.6, ev("nodejs.main_built")));
        } else if let Some(file) = listening {
            let evidence = vec![Evidence::new(view.repo_path(&file), "nodejs.listen_port")];
            a.processes.push(Candidate::new("web", runner(&file), 0.7, evidence));
        } else if let Some(web) = web_beside_worker(view) {
            let evidence = vec![Evidence::new(view.repo_path(&web), "nodejs.web_file")];
            a.processes.push(Candidate::new("web", format!("node {web}"), 0.67, evidence));
        } else if let Some(entry) = entry_file(view, &["bot", "index", "main"]).filter(|_| is_bot && !serves) {
            let evidence = vec![Evidence::new(view.repo_path(&entry), "nodejs.bot_file")];
            a.processes.push(Candidate::new("worker", format!("node {entry}"), 0.7, evidence));
        } else if let Some(entry) = entry_file(view, &["server", "index", "app", "main"]) {
            a.processes.push(Candidate::new(
                "web",
                format!("node {entry}"),
                0.67,
                vec![Evidence::new(view.repo_path(&entry), "nodejs.entry_file")],
            ));
        } else {
            a.questions.push(Question {
                code: QuestionCode::NoWebCommand,
                detail:
                    "package.json has no start script, no server framework entry, and no main or server/index/app file"
                        .into(),
            });
        }
        let has_worker = a.processes.iter().any(|p| p.kind == "worker");
        if has_worker {
            // A bot's own start is its worker already.
        } else if script(&pkg, "worker").is_some() {
            let cmd = if pm == "npm" { "npm run worker".to_string() } else { format!("{pm} worker") };
            a.processes.push(Candidate::new("worker", cmd, 0.7, ev("nodejs.scripts_worker")));
        } else if let Some(worker) = entry_file(view, &["worker"]) {
            let evidence = vec![Evidence::new(view.repo_path(&worker), "nodejs.worker_file")];
            a.processes.push(Candidate::new("worker", format!("node {worker}"), 0.75, evidence));
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &[
            "node",
            "npm",
            "yarn",
            "pnpm",
            "npx",
            "next",
            "nest",
            "tsx",
            "ts-node",
            "serve",
            "bun",
            "vite",
            "nuxt",
            "remix-serve",
            "pm2-runtime",
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(files: &[(&str, &str)]) -> Analysis {
        Node.analyze(&RepoView::from_memory(files.iter().copied()))
    }

    #[test]
    fn start_script_through_the_package_manager() {
        let a = analyze(&[("package.json", r#"{"scripts":{"start":"node ./bin/www"}}"#), ("yarn.lock", "")]);
        assert_eq!(a.processes[0].command, "yarn start");
        let a = analyze(&[("package.json", r#"{"scripts":{"start":"node x"}, "engines":{"node":"22.x"}}"#)]);
        assert_eq!(a.processes[0].command, "npm start");
        assert_eq!(a.version.map(|v| v.0).as_deref(), Some("22.x"));
    }

    #[test]
    fn workspace_members_use_the_root_lockfile() {
        let v = RepoView::from_memory([
            ("pnpm-lock.yaml", ""),
            ("apps/web/package.json", r#"{"scripts":{"start":"next start"}}"#),
        ]);
        assert_eq!(Node.analyze(&v.subview("apps/web")).processes[0].command, "pnpm start");
    }

    #[test]
    fn foreman_start_is_not_the_web_command() {
        let a = analyze(&[("package.json", r#"{"scripts":{"start":"nf start"}}"#), ("server.js", "")]);
        assert_eq!(a.processes[0].command, "node server.js");
    }

    #[test]
    fn strength_tells_assets_from_apps() {
        let weak = RepoView::from_memory([("package.json", r#"{"devDependencies":{"webpack":"5"}}"#)]);
        assert_eq!(Node.detect(&weak).map(|d| d.strength), Some(Strength::Weak));
        let strong = RepoView::from_memory([("package.json", r#"{"dependencies":{"express":"5"}}"#)]);
        assert_eq!(Node.detect(&strong).map(|d| d.strength), Some(Strength::Strong));
    }

    #[test]
    fn malformed_and_binary_manifests_warn() {
        let a = analyze(&[("package.json", "{nope")]);
        assert_eq!(a.warnings.len(), 1);
        let v = RepoView::from_memory([("package.json", b"\x00\x01\x02".as_slice())]);
        assert_eq!(Node.detect(&v).map(|d| d.strength), Some(Strength::Weak));
        assert_eq!(Node.analyze(&v).warnings[0].code, crate::plan::WarningCode::ManifestBinary);
    }

    #[test]
    fn entry_and_worker_files_in_lib() {
        let a = analyze(&[
            ("package.json", r#"{"scripts":{"start":"nf start"}}"#),
            ("lib/server.js", ""),
            ("lib/worker.js", ""),
        ]);
        let got: Vec<_> = a.processes.iter().map(|p| (p.kind.as_str(), p.command.as_str())).collect();
        assert_eq!(got, vec![("web", "node lib/server.js"), ("worker", "node lib/worker.js")]);
    }

    #[test]
    fn nextjs_without_start() {
        let a = analyze(&[("package.json", r#"{"dependencies":{"next":"14"}}"#)]);
        assert_eq!(a.framework.as_deref(), Some("nextjs"));
        assert!(a.processes[0].command.contains("next start -p $PORT"));
    }
}
