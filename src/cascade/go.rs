//! Go: `go.mod` at the root. Paketo's Go buildpack compiles the app and puts the binary on the
//! PATH under the name `go build` gives it (a package directory's name, or the module path's
//! last segment for the root package), so the start command is that bare name.

use super::{is_plain_name, read_json, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode, Warning, WarningCode};
use crate::view::RepoView;

pub struct Go;

/// Pre-modules dependency manifests; Paketo's Go buildpack expects go.mod instead.
const LEGACY: &[(&str, &str)] = &[
    ("Gopkg.toml", "go.dep"),
    ("glide.yaml", "go.glide"),
    ("Godeps/Godeps.json", "go.godeps"),
    ("vendor/vendor.json", "go.govendor"),
];

/// (module path prefix, framework) read from go.mod's require lines.
const FRAMEWORKS: &[(&str, &str)] = &[
    ("github.com/gin-gonic/gin", "gin"),
    ("github.com/labstack/echo", "echo"),
    ("github.com/gofiber/fiber", "fiber"),
    ("github.com/go-chi/chi", "chi"),
    ("github.com/gorilla/mux", "gorilla"),
];

/// Binary names preferred when several `cmd/<name>` packages exist.
const SERVER_NAMES: &[&str] = &["server", "web", "api", "app"];

/// What go.mod says that the rules use.
#[derive(Default)]
struct GoMod {
    module: Option<String>,
    go: Option<String>,
    toolchain: Option<String>,
    requires: Vec<String>,
}

fn parse_go_mod(text: &str) -> GoMod {
    let mut m = GoMod::default();
    let mut in_require = false;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if in_require {
            if line.starts_with(')') {
                in_require = false;
            } else if let Some(path) = line.split_whitespace().next() {
                m.requires.push(path.to_string());
            }
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(key), value) = (words.next(), words.next()) else {
            continue;
        };
        let value = value.map(|v| v.trim_matches('"').to_string());
        match key {
            "module" => m.module = value,
            "go" => m.go = value,
            "toolchain" => m.toolchain = value.map(|v| v.trim_start_matches("go").to_string()),
            "require" if value.as_deref() == Some("(") => in_require = true,
            "require" => m.requires.extend(value),
            _ => {}
        }
    }
    m
}

/// The binary `go build` names after an import path: its last segment, `/vN` dropped.
fn binary_of(path: &str) -> Option<String> {
    let mut segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let is_major = |s: &str| s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit());
    if segs.len() > 1 && segs.last().is_some_and(|s| is_major(s)) {
        segs.pop();
    }
    segs.last().map(|s| s.to_string())
}

/// True when a directory holds Go sources of `package main`.
fn has_main(view: &RepoView, dir: &str) -> bool {
    view.list_dir(dir).iter().any(|(name, is_dir)| {
        !is_dir && name.ends_with(".go") && !name.ends_with("_test.go") && {
            let path = if dir.is_empty() { name.clone() } else { format!("{dir}/{name}") };
            view.text(&path).is_some_and(|t| t.lines().any(|l| l.trim() == "package main"))
        }
    })
}

/// Calls that start a network server in Go source.
const SERVES: &[&str] = &["ListenAndServe", "net.Listen(", ".Run(\":", ".Start(\":", "os.Getenv(\"PORT\")"];

/// The single element of `v`, or None.
fn only<T>(mut v: Vec<T>) -> Option<T> {
    if v.len() == 1 {
        v.pop()
    } else {
        None
    }
}

/// True when a directory's Go sources start a server.
fn serves(view: &RepoView, dir: &str) -> bool {
    view.list_dir(dir).iter().any(|(name, is_dir)| {
        !is_dir && name.ends_with(".go") && !name.ends_with("_test.go") && {
            let path = if dir.is_empty() { name.clone() } else { format!("{dir}/{name}") };
            view.text(&path).is_some_and(|t| SERVES.iter().any(|m| t.contains(m)))
        }
    })
}

/// `cmd/<name>` directories holding a main package.
fn cmd_binaries(view: &RepoView) -> Vec<String> {
    view.list_dir("cmd")
        .into_iter()
        .filter(|(n, d)| *d && has_main(view, &format!("cmd/{n}")))
        .map(|(n, _)| n)
        .collect()
}

/// The import path a legacy manifest declares, with the file it came from.
fn legacy_import_path(view: &RepoView, warnings: &mut Vec<Warning>) -> Option<(String, String)> {
    for (file, key) in [("Godeps/Godeps.json", "ImportPath"), ("vendor/vendor.json", "rootPath")] {
        match read_json(view, file) {
            Ok(Some(j)) => {
                if let Some(p) = j.get(key).and_then(|v| v.as_str()) {
                    return Some((p.to_string(), file.to_string()));
                }
            }
            Ok(None) => {}
            Err(w) => warnings.push(w),
        }
    }
    let glide = view.text("glide.yaml")?;
    glide.lines().find_map(|l| {
        let p = l.strip_prefix("package:")?.trim().trim_matches(|c| c == '"' || c == '\'');
        (!p.is_empty()).then(|| (p.to_string(), "glide.yaml".to_string()))
    })
}

/// A GOPATH repository's own import path, from the root main package importing one of its
/// own subdirectories (`github.com/u/repo/handlers` with a `handlers/` directory here): the
/// path minus that suffix. Only used when no manifest names the path.
fn import_path_from_imports(view: &RepoView) -> Option<(String, String)> {
    for file in view.root_files_ending(".go").into_iter().filter(|f| !f.ends_with("_test.go")) {
        let Some(text) = view.text(&file) else { continue };
        for import in quoted_imports(&text) {
            let segs: Vec<&str> = import.split('/').collect();
            // The longest local suffix wins: `a/b/pkg/sub` with pkg/sub here is `a/b`.
            for cut in 1..segs.len() {
                let local = segs[cut..].join("/");
                if cut >= 2 && view.is_dir(&local) && !view.root_files_ending(".go").is_empty() {
                    return Some((segs[..cut].join("/"), file.clone()));
                }
            }
        }
    }
    None
}

/// The quoted import paths of a Go file's import declarations.
fn quoted_imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("func ") || line.starts_with("type ") {
            break;
        }
        let spec = if in_block {
            if line.starts_with(')') {
                in_block = false;
                continue;
            }
            line
        } else if let Some(rest) = line.strip_prefix("import") {
            let rest = rest.trim();
            if rest.starts_with('(') {
                in_block = true;
                continue;
            }
            rest
        } else {
            continue;
        };
        if let Some(path) = spec.split('"').nth(1).filter(|p| p.contains('.') && p.contains('/')) {
            out.push(path.to_string());
        }
    }
    out
}

impl Ecosystem for Go {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::GO_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Go
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        if view.is_file("go.mod") {
            let evidence = vec![Evidence::new(view.repo_path("go.mod"), "go.mod")];
            return Some(Detection { language: LanguageName::Go, strength: Strength::Strong, evidence });
        }
        let mut evidence: Vec<Evidence> =
            LEGACY.iter().filter(|(f, _)| view.is_file(f)).map(|(f, r)| Evidence::new(view.repo_path(f), *r)).collect();
        if let Some(f) = view.root_files_ending(".go").first() {
            evidence.push(Evidence::new(view.repo_path(f), "go.source"));
        }
        (!evidence.is_empty()).then_some(Detection { language: LanguageName::Go, strength: Strength::Normal, evidence })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        let modfile = view.repo_path("go.mod");
        let gomod = if view.is_file("go.mod") {
            match view.read_text("go.mod") {
                Ok(t) => Some(parse_go_mod(&t)),
                Err(e) => {
                    a.warnings.push(super::manifest_warning(view, "go.mod", &e));
                    Some(GoMod::default())
                }
            }
        } else {
            a.warnings.push(Warning {
                code: WarningCode::LegacyLayout,
                message: "no go.mod: Paketo's Go buildpack expects Go modules; run `go mod init <module>` and commit \
                          go.mod and go.sum"
                    .into(),
                file: None,
                line: None,
            });
            None
        };

        if let Some(m) = &gomod {
            a.evidence.push(Evidence::new(modfile.clone(), "go.mod"));
            a.version = m.go.clone().or_else(|| m.toolchain.clone()).map(|v| (v, modfile.clone()));
            a.framework = FRAMEWORKS
                .iter()
                .find(|(p, _)| m.requires.iter().any(|r| r == p || r.starts_with(&format!("{p}/"))))
                .map(|(_, f)| f.to_string());
        } else if let Some(Ok(Some(j))) =
            view.is_file("Godeps/Godeps.json").then(|| read_json(view, "Godeps/Godeps.json"))
        {
            a.version = j
                .get("GoVersion")
                .and_then(|v| v.as_str())
                .map(|v| (v.trim_start_matches("go").to_string(), view.repo_path("Godeps/Godeps.json")));
        }

        let root_main = has_main(view, "");
        let cmds = cmd_binaries(view);
        let module = gomod.as_ref().and_then(|m| m.module.clone());
        let module_name = module.as_deref().and_then(binary_of);
        // The root package first: it is what Paketo builds when BP_GO_TARGETS is unset.
        let found: Option<(String, Evidence)> = if root_main {
            let from = match (&gomod, module_name) {
                (Some(_), Some(name)) => Some((name, Evidence::new(modfile.clone(), "go.module_binary"))),
                (Some(_), None) => None,
                (None, _) => legacy_import_path(view, &mut a.warnings)
                    .and_then(|(p, f)| {
                        binary_of(&p).map(|n| (n, Evidence::new(view.repo_path(&f), "go.legacy_binary")))
                    })
                    .or_else(|| {
                        import_path_from_imports(view).and_then(|(p, f)| {
                            binary_of(&p).map(|n| (n, Evidence::new(view.repo_path(&f), "go.import_path")))
                        })
                    }),
            };
            if from.is_none() {
                a.questions.push(Question {
                    code: QuestionCode::NoWebCommand,
                    detail: "the root is a Go main package but no module path names its binary (go.mod `module`, \
                             Godeps.json ImportPath, glide.yaml package, vendor.json rootPath)"
                        .into(),
                });
            }
            from
        } else if cmds.len() == 1 {
            Some((cmds[0].clone(), Evidence::new(view.repo_path(&format!("cmd/{}", cmds[0])), "go.cmd_binary")))
        } else if cmds.len() > 1 {
            // By name first, then by what the code does, then the daemon naming (`*d`).
            let pick = cmds
                .iter()
                .find(|c| module_name.as_deref() == Some(c.as_str()))
                .or_else(|| SERVER_NAMES.iter().find_map(|s| cmds.iter().find(|c| c == s)))
                .or_else(|| only(cmds.iter().filter(|c| serves(view, &format!("cmd/{c}"))).collect()))
                .or_else(|| only(cmds.iter().filter(|c| c.len() > 2 && c.ends_with('d')).collect()));
            if pick.is_none() {
                a.questions.push(Question {
                    code: QuestionCode::NoWebCommand,
                    detail: format!(
                        "several Go binaries under cmd/ and none is obviously the server: {}",
                        cmds.join(", ")
                    ),
                });
            }
            pick.map(|c| (c.clone(), Evidence::new(view.repo_path(&format!("cmd/{c}")), "go.cmd_binary")))
        } else {
            a.questions.push(Question {
                code: QuestionCode::NoWebCommand,
                detail: "no Go main package at the root or under cmd/<name>".into(),
            });
            None
        };

        match found {
            Some((name, ev)) if is_plain_name(&name) && !name.contains('/') => {
                // Earned confidences, eval/calibration.md; rules without data keep 0.7.
                let confidence = match ev.rule.as_str() {
                    "go.module_binary" => 0.83,
                    "go.legacy_binary" | "go.import_path" => 0.67,
                    _ => 0.7,
                };
                a.processes.push(Candidate::new("web", name, confidence, vec![ev]));
            }
            Some((name, ev)) => a.questions.push(Question {
                code: QuestionCode::NoWebCommand,
                detail: format!("the Go binary name {name:?} (from {}) is not a plain command name", ev.file),
            }),
            None => {}
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &["go"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = "package main\n\nfunc main() {}\n";

    #[test]
    fn module_binary_from_root_main() {
        let v = RepoView::from_memory([
            (
                "go.mod",
                "module github.com/x/sample-golang\n\ngo 1.22\ntoolchain go1.22.3\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.1 // indirect\n)\n",
            ),
            ("main.go", MAIN),
        ]);
        assert_eq!(Go.detect(&v).unwrap().strength, Strength::Strong);
        let a = Go.analyze(&v);
        assert_eq!(a.version, Some(("1.22".into(), "go.mod".into())));
        assert_eq!(a.framework.as_deref(), Some("gin"));
        assert_eq!(a.processes[0].command, "sample-golang");
        assert_eq!(a.processes[0].evidence[0].rule, "go.module_binary");
        assert!(a.questions.is_empty() && a.warnings.is_empty());
    }

    #[test]
    fn major_version_suffix_and_single_line_require() {
        let v = RepoView::from_memory([
            ("go.mod", "module example.com/api/v2\ntoolchain go1.23.1\nrequire github.com/labstack/echo/v4 v4.11.0\n"),
            ("main.go", MAIN),
        ]);
        let a = Go.analyze(&v);
        assert_eq!(a.processes[0].command, "api");
        assert_eq!(a.version.unwrap().0, "1.23.1");
        assert_eq!(a.framework.as_deref(), Some("echo"));
        let v = RepoView::from_memory([("go.mod", "module main\n"), ("main.go", MAIN)]);
        assert_eq!(Go.analyze(&v).processes[0].command, "main");
    }

    #[test]
    fn cmd_directories() {
        let one =
            RepoView::from_memory([("go.mod", "module x/y\n"), ("cmd/svc/main.go", MAIN), ("lib.go", "package y")]);
        assert_eq!(Go.analyze(&one).processes[0].command, "svc");
        let many = RepoView::from_memory([
            ("go.mod", "module x/y\n"),
            ("cmd/cli/main.go", MAIN),
            ("cmd/server/main.go", MAIN),
        ]);
        assert_eq!(Go.analyze(&many).processes[0].command, "server");
        let unclear =
            RepoView::from_memory([("go.mod", "module x/y\n"), ("cmd/a/main.go", MAIN), ("cmd/b/main.go", MAIN)]);
        let a = Go.analyze(&unclear);
        assert!(a.processes.is_empty());
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
        assert!(a.questions[0].detail.contains("a, b"));
    }

    #[test]
    fn legacy_layouts_warn() {
        let v = RepoView::from_memory([
            ("Godeps/Godeps.json", r#"{"ImportPath": "github.com/heroku/go-getting-started", "GoVersion": "go1.9"}"#),
            ("main.go", MAIN),
        ]);
        assert_eq!(Go.detect(&v).unwrap().strength, Strength::Normal);
        let a = Go.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::LegacyLayout);
        assert_eq!(a.processes[0].command, "go-getting-started");
        assert_eq!(a.version.unwrap().0, "1.9");
        let bare = RepoView::from_memory([("main.go", MAIN)]);
        let a = Go.analyze(&bare);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
    }

    #[test]
    fn malformed_manifests_do_not_panic() {
        let v = RepoView::from_memory([("go.mod", &b"\xff\xfe"[..]), ("main.go", MAIN.as_bytes())]);
        let a = Go.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::ManifestBinary);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
        let v = RepoView::from_memory([("vendor/vendor.json", "{"), ("main.go", MAIN)]);
        let a = Go.analyze(&v);
        assert!(a.warnings.iter().any(|w| w.code == WarningCode::ManifestMalformed));
        assert!(Go.detect(&RepoView::from_memory([("README.md", "")])).is_none());
    }
}
