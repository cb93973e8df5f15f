//! Rust: `Cargo.toml` at the root. The Rust buildpack (`cargo install`) puts every binary
//! target on the PATH under its target name, so the start command is that bare name.

use super::{is_plain_name, read_toml, version_file, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode};
use crate::view::RepoView;

pub struct Rust;

/// Web frameworks, in the order checked (hyper last: the others are built on it).
const FRAMEWORKS: &[&str] = &["actix-web", "axum", "rocket", "warp", "poem", "tide", "salvo", "hyper"];

/// Chat-bot and event-loop crates: a binary built on one of these, with no web framework, is
/// a worker.
const BOTS: &[&str] = &[
    "teloxide",
    "serenity",
    "poise",
    "twilight-gateway",
    "frankenstein",
    "telegram-bot",
    "tbot",
    "matrix-sdk",
    "songbird",
];

/// Source text that binds a listening socket.
const BINDS: &[&str] = &[
    "TcpListener::bind",
    ".bind(",
    "HttpServer::new",
    "axum::serve",
    "rocket::build",
    "#[launch]",
    "warp::serve",
    "Server::bind",
    "#[shuttle_runtime::main]",
];

/// Binary names preferred when a package has several.
const SERVER_NAMES: &[&str] = &["server", "web", "api"];

/// Workspace members globbed at most this many.
const MAX_MEMBERS: usize = 64;

fn str_at<'a>(t: &'a toml::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(t, |v, k| v.get(k)).and_then(|v| v.as_str())
}

/// Binary targets of one package: `[[bin]]` names, `src/main.rs` (named after the package),
/// `src/bin/<name>.rs` and `src/bin/<name>/main.rs`.
fn binaries(view: &RepoView, manifest: &toml::Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bins = manifest.get("bin").and_then(|b| b.as_array()).map(Vec::as_slice).unwrap_or_default();
    for b in bins {
        if let Some(n) = b.get("name").and_then(|n| n.as_str()) {
            out.push(n.to_string());
        }
    }
    let autobins = manifest.get("package").and_then(|p| p.get("autobins")).and_then(|a| a.as_bool()) != Some(false);
    let main_claimed = bins.iter().any(|b| b.get("path").and_then(|p| p.as_str()) == Some("src/main.rs"));
    if autobins && !main_claimed && view.is_file("src/main.rs") {
        if let Some(name) = str_at(manifest, &["package", "name"]) {
            out.push(name.to_string());
        }
    }
    if autobins {
        for (name, is_dir) in view.list_dir("src/bin") {
            let stem = if is_dir {
                view.is_file(&format!("src/bin/{name}/main.rs")).then_some(name.as_str())
            } else {
                name.strip_suffix(".rs")
            };
            if let Some(stem) = stem {
                out.push(stem.to_string());
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// The main source of binary `name` in the package at `view`'s root.
fn bin_source(view: &RepoView, manifest: &toml::Value, name: &str) -> Option<String> {
    let declared = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .and_then(|bins| bins.iter().find(|b| b.get("name").and_then(|n| n.as_str()) == Some(name)))
        .and_then(|b| b.get("path"))
        .and_then(|p| p.as_str())
        .map(str::to_string);
    let guesses = [
        declared,
        (str_at(manifest, &["package", "name"]) == Some(name)).then(|| "src/main.rs".to_string()),
        Some(format!("src/bin/{name}.rs")),
        Some(format!("src/bin/{name}/main.rs")),
    ];
    guesses.into_iter().flatten().find(|p| view.is_file(p)).map(|p| view.repo_path(&p))
}

/// Member directories of a workspace: literal paths and `dir/*` globs.
fn members(view: &RepoView, manifest: &toml::Value) -> Vec<String> {
    let list = manifest.get("workspace").and_then(|w| w.get("members")).and_then(|m| m.as_array());
    let mut out = Vec::new();
    for m in list.map(Vec::as_slice).unwrap_or_default().iter().filter_map(|m| m.as_str()) {
        if let Some(dir) = m.strip_suffix("/*") {
            out.extend(view.list_dir(dir).into_iter().filter(|(_, d)| *d).map(|(n, _)| format!("{dir}/{n}")));
        } else if !m.contains('*') {
            out.push(m.trim_end_matches('/').to_string());
        }
    }
    out.truncate(MAX_MEMBERS);
    out
}

/// The toolchain pinned by `rust-toolchain.toml` or `rust-toolchain` (plain or TOML).
fn toolchain(view: &RepoView) -> Option<(String, String)> {
    for file in ["rust-toolchain.toml", "rust-toolchain"] {
        if let Ok(Some(t)) = read_toml(view, file) {
            if let Some(ch) = str_at(&t, &["toolchain", "channel"]) {
                return Some((ch.to_string(), view.repo_path(file)));
            }
        }
    }
    version_file(view, "rust-toolchain").filter(|(v, _)| !v.starts_with('['))
}

/// A binary target and the manifest that declares it.
struct Bin {
    name: String,
    manifest: String,
    /// The binary's main source, relative to the repository root, when known.
    source: Option<String>,
}

/// The server among several binaries: `default-run`, the package's own name, then a
/// conventional server name. None when nothing stands out.
fn choose<'a>(bins: &'a [Bin], default_run: Option<&str>, package: Option<&str>) -> Option<&'a Bin> {
    if let [only] = bins {
        return Some(only);
    }
    let named = |n: Option<&str>| bins.iter().find(|b| Some(b.name.as_str()) == n);
    named(default_run).or_else(|| named(package)).or_else(|| SERVER_NAMES.iter().find_map(|s| named(Some(s))))
}

/// Direct dependency names: `[dependencies]` and `[workspace.dependencies]`.
fn dependencies(manifest: &toml::Value) -> impl Iterator<Item = &String> {
    let ws = manifest.get("workspace").and_then(|w| w.get("dependencies"));
    [manifest.get("dependencies"), ws].into_iter().flatten().filter_map(|t| t.as_table()).flat_map(|t| t.keys())
}

impl Ecosystem for Rust {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::RUST_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Rust
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        if !view.is_file("Cargo.toml") {
            return None;
        }
        let mut evidence = vec![Evidence::new(view.repo_path("Cargo.toml"), "rust.cargo")];
        let manifest = read_toml(view, "Cargo.toml").ok().flatten();
        let strength = match &manifest {
            Some(m) if m.get("package").is_some() && !binaries(view, m).is_empty() => Strength::Strong,
            Some(m) if m.get("package").is_none() && m.get("workspace").is_some() => {
                evidence.push(Evidence::new(view.repo_path("Cargo.toml"), "rust.workspace"));
                Strength::Normal
            }
            _ => Strength::Normal,
        };
        Some(Detection { language: LanguageName::Rust, strength, evidence })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        let cargo = view.repo_path("Cargo.toml");
        let manifest = match read_toml(view, "Cargo.toml") {
            Ok(Some(m)) => m,
            Ok(None) => return a,
            Err(w) => {
                a.warnings.push(w);
                a.questions.push(Question {
                    code: QuestionCode::NoWebCommand,
                    detail: format!("{cargo} could not be read, so its binary targets are unknown"),
                });
                return a;
            }
        };
        a.evidence.push(Evidence::new(cargo.clone(), "rust.cargo"));
        a.version = toolchain(view).or_else(|| {
            str_at(&manifest, &["package", "rust-version"])
                .or_else(|| str_at(&manifest, &["workspace", "package", "rust-version"]))
                .map(|v| (v.to_string(), cargo.clone()))
        });

        let mut deps: Vec<String> = dependencies(&manifest).cloned().collect();
        let mut bins: Vec<Bin> = binaries(view, &manifest)
            .into_iter()
            .map(|name| Bin { source: bin_source(view, &manifest, &name), name, manifest: cargo.clone() })
            .collect();
        // A virtual workspace: the buildpack installs every member's binaries.
        let workspace = manifest.get("package").is_none() && manifest.get("workspace").is_some();
        if workspace {
            a.evidence.push(Evidence::new(cargo.clone(), "rust.workspace"));
            for dir in members(view, &manifest) {
                let sub = view.subview(&dir);
                match read_toml(&sub, "Cargo.toml") {
                    Ok(Some(m)) => {
                        deps.extend(dependencies(&m).cloned());
                        let file = sub.repo_path("Cargo.toml");
                        bins.extend(binaries(&sub, &m).into_iter().map(|name| Bin {
                            source: bin_source(&sub, &m, &name),
                            name,
                            manifest: file.clone(),
                        }));
                    }
                    Ok(None) => {}
                    Err(w) => a.warnings.push(w),
                }
            }
        }
        a.framework = FRAMEWORKS.iter().find(|f| deps.iter().any(|d| d == *f)).map(|f| f.to_string());

        let package = str_at(&manifest, &["package", "name"]);
        let default_run = str_at(&manifest, &["package", "default-run"]);
        let binds = |b: &Bin| {
            b.source
                .as_deref()
                .and_then(|p| view.text(p.strip_prefix(&format!("{}/", view.subdir())).unwrap_or(p)))
                .is_some_and(|t| BINDS.iter().any(|m| t.contains(m)))
        };
        let binding: Vec<&Bin> = bins.iter().filter(|b| binds(b)).collect();
        let bot = a.framework.is_none() && deps.iter().any(|d| BOTS.contains(&d.as_str()));
        let chosen = match (choose(&bins, default_run, package), binding.as_slice()) {
            // Several binaries and only one binds a port: that one serves.
            (None, [only]) => Some((*only, "rust.bin_binds_port")),
            (Some(b), _) => Some((b, if binds(b) { "rust.bin_binds_port" } else { "rust.cargo_bin" })),
            (None, _) => None,
        };
        match chosen {
            Some((b, rule)) if is_plain_name(&b.name) && !b.name.contains('/') => {
                let (kind, rule) =
                    if bot && rule != "rust.bin_binds_port" { ("worker", "rust.bot_bin") } else { ("web", rule) };
                let confidence = match (rule, workspace) {
                    // Earned on corpus + wild (eval/calibration.md).
                    ("rust.bin_binds_port", _) => 0.75,
                    ("rust.bot_bin", _) => 0.67,
                    (_, true) => 0.6,
                    _ => 0.7,
                };
                let file = match (&b.source, rule) {
                    (Some(src), "rust.bin_binds_port") => src.clone(),
                    _ => b.manifest.clone(),
                };
                let ev = vec![Evidence::new(file, rule)];
                a.processes.push(Candidate::new(kind, b.name.clone(), confidence, ev));
            }
            Some((b, _)) => a.questions.push(Question {
                code: QuestionCode::NoWebCommand,
                detail: format!("the binary name {:?} in {} is not a plain command name", b.name, b.manifest),
            }),
            None if bins.is_empty() => a.questions.push(Question {
                code: QuestionCode::NoWebCommand,
                detail: format!(
                    "no binary target in {cargo}{}: no [[bin]], src/main.rs or src/bin/*.rs",
                    if workspace { " or its workspace members" } else { "" }
                ),
            }),
            None => {
                let names: Vec<&str> = bins.iter().map(|b| b.name.as_str()).collect();
                a.questions.push(Question {
                    code: QuestionCode::NoWebCommand,
                    detail: format!("several Rust binaries and none is obviously the server: {}", names.join(", ")),
                });
            }
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &["cargo"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::WarningCode;

    #[test]
    fn binary_package_is_strong() {
        let v = RepoView::from_memory([
            (
                "Cargo.toml",
                "[package]\nname = \"geo-ip\"\nrust-version = \"1.80\"\n[dependencies]\naxum = \"0.7\"\nhyper = \"1\"\n",
            ),
            ("src/main.rs", "fn main() {}"),
        ]);
        assert_eq!(Rust.detect(&v).unwrap().strength, Strength::Strong);
        let a = Rust.analyze(&v);
        assert_eq!(a.version, Some(("1.80".into(), "Cargo.toml".into())));
        assert_eq!(a.framework.as_deref(), Some("axum"));
        assert_eq!(a.processes[0].command, "geo-ip");
        assert!(a.questions.is_empty());
    }

    #[test]
    fn toolchain_files_win() {
        let files = [("Cargo.toml", "[package]\nname = \"a\"\nrust-version = \"1.70\"\n"), ("src/lib.rs", "")];
        let plain = RepoView::from_memory(files.iter().copied().chain([("rust-toolchain", "1.82.0\n")]));
        assert_eq!(Rust.analyze(&plain).version.unwrap().0, "1.82.0");
        let toml = RepoView::from_memory(
            files.iter().copied().chain([("rust-toolchain.toml", "[toolchain]\nchannel = \"stable\"\n")]),
        );
        assert_eq!(Rust.analyze(&toml).version, Some(("stable".into(), "rust-toolchain.toml".into())));
        let lib = RepoView::from_memory(files);
        assert_eq!(Rust.detect(&lib).unwrap().strength, Strength::Normal);
        assert_eq!(Rust.analyze(&lib).questions[0].code, QuestionCode::NoWebCommand);
    }

    #[test]
    fn several_bins_pick_the_server() {
        let v = RepoView::from_memory([
            ("Cargo.toml", "[package]\nname = \"tool\"\n[[bin]]\nname = \"migrate\"\npath = \"src/m.rs\"\n"),
            ("src/bin/server.rs", "fn main() {}"),
        ]);
        assert_eq!(Rust.analyze(&v).processes[0].command, "server");
        let v = RepoView::from_memory([
            ("Cargo.toml", "[package]\nname = \"tool\"\ndefault-run = \"b\"\n"),
            ("src/bin/a.rs", ""),
            ("src/bin/b/main.rs", ""),
        ]);
        assert_eq!(Rust.analyze(&v).processes[0].command, "b");
        let v = RepoView::from_memory([
            ("Cargo.toml", "[package]\nname = \"t\"\n"),
            ("src/bin/a.rs", ""),
            ("src/bin/b.rs", ""),
        ]);
        let a = Rust.analyze(&v);
        assert!(a.processes.is_empty());
        assert!(a.questions[0].detail.contains("a, b"));
    }

    #[test]
    fn workspace_root_is_normal_and_reads_members() {
        let v = RepoView::from_memory([
            ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
            ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
            ("crates/core/src/lib.rs", ""),
            ("crates/web/Cargo.toml", "[package]\nname = \"web-server\"\n[dependencies]\nactix-web = \"4\"\n"),
            ("crates/web/src/main.rs", "fn main() {}"),
        ]);
        let d = Rust.detect(&v).unwrap();
        assert_eq!(d.strength, Strength::Normal);
        assert!(d.evidence.iter().any(|e| e.rule == "rust.workspace"));
        let a = Rust.analyze(&v);
        assert_eq!(a.framework.as_deref(), Some("actix-web"));
        assert_eq!(a.processes[0].command, "web-server");
        assert_eq!(a.processes[0].evidence[0].file, "crates/web/Cargo.toml");
    }

    #[test]
    fn malformed_cargo_toml_is_a_warning() {
        let v = RepoView::from_memory([("Cargo.toml", "[package\nname = "), ("src/main.rs", "")]);
        assert_eq!(Rust.detect(&v).unwrap().strength, Strength::Normal);
        let a = Rust.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::ManifestMalformed);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
    }
}
