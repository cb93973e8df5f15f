//! Property tests: the parsers, the command reader, the validator and a whole scan never panic
//! on arbitrary input, and the Procfile parser reads back what the renderer writes.

use proptest::prelude::*;
use proptest::test_runner::Config;

use repo_scanner::cascade::procfile;
use repo_scanner::command;
use repo_scanner::plan::{self, LanguageName, Source, SourceKind, Status};
use repo_scanner::validate;
use repo_scanner::view::RepoView;

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Text that looks like shell and Procfile lines: operators, quotes, colons, CR, BOM, unicode.
fn shellish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 :=$.{}()'\"`\\\\|&;<>#/\\-\r\n\t\u{feff}é日]{0,120}",
        prop::collection::vec(
            prop_oneof![
                Just("web".to_string()),
                Just(": ".to_string()),
                Just(":".to_string()),
                Just("\r\n".to_string()),
                Just("\n".to_string()),
                Just("\u{feff}".to_string()),
                Just("$PORT".to_string()),
                Just("${PORT:-8000}".to_string()),
                Just(" -p 8000".to_string()),
                Just(" --bind 0.0.0.0:5000".to_string()),
                Just(" && ".to_string()),
                Just(" | ".to_string()),
                Just(" 2>&1".to_string()),
                Just("sh -c \"".to_string()),
                Just("'".to_string()),
                Just("\\".to_string()),
                Just("$(".to_string()),
                Just("`".to_string()),
                Just("# ".to_string()),
                Just("bundle exec ".to_string()),
                Just("python -m ".to_string()),
                Just("npx ".to_string()),
                Just("env A=1 ".to_string()),
                Just("PORT=".to_string()),
                "[a-z0-9_.:/-]{1,10}",
                "\\PC{1,4}",
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn language() -> impl Strategy<Value = Option<LanguageName>> {
    use LanguageName::*;
    prop::option::of(prop::sample::select(vec![
        Python, Nodejs, Ruby, Go, Rust, Java, Php, Dotnet, Elixir, Deno, Static,
    ]))
}

fn source() -> Source {
    Source { kind: SourceKind::Dir, location: "mem".into(), git_ref: None, commit: None }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn procfile_parse_never_panics(text in shellish()) {
        let p = procfile::parse(&text, "Procfile");
        for e in &p.entries {
            prop_assert!(!e.name.is_empty());
            prop_assert!(e.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            prop_assert!(!e.command.trim().is_empty());
            prop_assert!(!e.command.contains('\n'));
            prop_assert!(e.line >= 1);
        }
        // Names are unique: a duplicate keeps only the last.
        let mut names: Vec<&str> = p.entries.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        prop_assert_eq!(names.len(), p.entries.len());
    }

    #[test]
    fn command_reader_never_panics(cmd in shellish()) {
        let tokens = command::tokenize(&cmd);
        let segs = command::segments(&cmd);
        prop_assert!(segs.iter().all(|s| !s.is_empty()));
        if let Some(key) = command::process_key(&cmd) {
            prop_assert!(key.target.is_none() || key.positionals.first() == key.target.as_ref());
        } else {
            prop_assert!(segs.is_empty(), "segments without a key: {:?}", segs);
        }
        prop_assert!(command::segment_keys(&cmd).len() <= segs.len());
        prop_assert_eq!(command::mentions_port_var(&cmd), cmd.contains("$PORT") || cmd.contains("${PORT"));
        if let Some((word, port)) = command::literal_port(&cmd) {
            prop_assert!(port > 0);
            prop_assert!(tokens.contains(&command::Token::Word(word)));
        }
        if let Some(fixed) = procfile::fix_port(&cmd) {
            prop_assert!(fixed.contains("$PORT"));
        }
    }

    #[test]
    fn validator_never_panics(cmd in shellish(), kind in "web|worker|[a-z]{1,8}", lang in language()) {
        let view = RepoView::from_memory([
            ("app.py", "app = 1\n"),
            ("server.js", "x\n"),
            ("bin/start", "#!/bin/sh\n"),
            ("package.json", "{}"),
        ]);
        let problems = validate::check(&cmd, &kind, lang, &view);
        if cmd.trim().is_empty() {
            prop_assert!(!problems.is_empty(), "an empty command is rejected");
        }
    }
}

// ---- the Procfile round trip -------------------------------------------------------------

fn procfile_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,12}"
}

/// A command as a Procfile line can hold it: one line, no surrounding blanks, anything else
/// (colons, `#`, quotes, unicode) allowed.
fn procfile_command() -> impl Strategy<Value = String> {
    "[!-~é日ß€][ -~é日ß€]{0,60}".prop_map(|s| s.trim_end().to_string())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn procfile_round_trip(pairs in prop::collection::vec((procfile_name(), procfile_command()), 0..12),
                           crlf in any::<bool>(), bom in any::<bool>()) {
        let mut unique: Vec<(String, String)> = Vec::new();
        for (n, c) in pairs {
            if !unique.iter().any(|(m, _)| *m == n) {
                unique.push((n, c));
            }
        }
        let mut text = procfile::render(unique.iter().map(|(n, c)| (n.as_str(), c.as_str())));
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        if bom {
            text.insert(0, '\u{feff}');
        }
        let p = procfile::parse(&text, "Procfile");
        let got: Vec<(String, String)> = p.entries.iter().map(|e| (e.name.clone(), e.command.clone())).collect();
        prop_assert_eq!(&got, &unique);
        prop_assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let lines: Vec<u32> = p.entries.iter().map(|e| e.line).collect();
        let expected: Vec<u32> = (1..=unique.len() as u32).collect();
        prop_assert_eq!(lines, expected);
    }
}

// ---- whole scans over in-memory trees ----------------------------------------------------

const VALID: &[(&str, &str)] = &[
    (
        "package.json",
        r#"{"name":"a","main":"server.js","scripts":{"start":"node server.js","build":"tsc"},"engines":{"node":"20.x"},"dependencies":{"express":"4"},"workspaces":["apps/*"]}"#,
    ),
    (
        "pyproject.toml",
        "[project]\nname = \"a\"\nrequires-python = \">=3.11\"\ndependencies = [\"fastapi\", \"uvicorn\"]\n[tool.poetry.dependencies]\npython = \"^3.11\"\n",
    ),
    (
        "Cargo.toml",
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[[bin]]\nname = \"srv\"\npath = \"src/main.rs\"\n[dependencies]\naxum = \"0.7\"\n",
    ),
    ("go.mod", "module example.com/a\n\ngo 1.22\n\nrequire github.com/go-chi/chi/v5 v5.0.12\n"),
    ("Procfile", "web: gunicorn app:app --bind 0.0.0.0:$PORT\nworker: celery -A tasks worker\n"),
    ("Dockerfile", "FROM python:3.12\nCOPY . .\nCMD [\"gunicorn\", \"app:app\"]\nENTRYPOINT [\"/bin/sh\", \"-c\"]\n"),
    (
        "render.yaml",
        "services:\n  - type: web\n    name: api\n    rootDir: apps/api\n    startCommand: npm start\n  - type: worker\n    name: q\n    startCommand: cd apps/api && node q.js\n",
    ),
];

/// A valid manifest with a few random edits: characters inserted, removed or replaced.
fn mutated(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 0..6).prop_map(move |edits| {
        let mut chars: Vec<char> = valid.chars().collect();
        for (at, op, c) in edits {
            let i = at.index(chars.len() + 1);
            match op {
                0 => chars.insert(i, c),
                1 if i < chars.len() => {
                    chars.remove(i);
                }
                _ if i < chars.len() => chars[i] = c,
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect::<String>().into_bytes()
    })
}

/// Content for one manifest: absent, valid, mutated, arbitrary bytes or arbitrary text.
fn content(valid: &'static str) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(valid.as_bytes().to_vec())),
        3 => mutated(valid).prop_map(Some),
        2 => prop::collection::vec(any::<u8>(), 0..2000).prop_map(Some),
        1 => any::<String>().prop_map(|s| Some(s.into_bytes())),
    ]
}

fn tree() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let manifests: Vec<_> = VALID.iter().map(|(_, v)| content(v)).collect();
    (manifests, any::<bool>(), prop::option::of(content(VALID[0].1))).prop_map(|(contents, sub, app_pkg)| {
        let mut files: Vec<(String, Vec<u8>)> =
            VALID.iter().zip(contents).filter_map(|((name, _), c)| c.map(|c| (name.to_string(), c))).collect();
        files.push(("app.py".into(), b"from fastapi import FastAPI\napp = FastAPI()\n".to_vec()));
        files.push(("server.js".into(), b"require('express')\n".to_vec()));
        if sub {
            files.push(("apps/api/server.js".into(), b"x".to_vec()));
            files.push(("apps/web/requirements.txt".into(), b"flask\n".to_vec()));
        }
        if let Some(Some(pkg)) = app_pkg {
            files.push(("apps/api/package.json".into(), pkg));
        }
        files
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn scan_never_panics(files in tree()) {
        let view = RepoView::from_memory(files.iter().map(|(p, b)| (p.clone(), b.clone())));
        let plan = repo_scanner::scan(&view, source());
        // The plan is well formed, whatever the input.
        for app in plan.app_plans() {
            if app.status == Status::Ready {
                prop_assert!(app.open_questions.is_empty());
            }
            if app.strategy == plan::Strategy::Dockerfile {
                prop_assert!(app.dockerfile.is_some());
            }
            for p in &app.processes {
                prop_assert!((0.0..=1.0).contains(&p.confidence));
            }
        }
        prop_assert!(serde_json::to_string(&plan).is_ok());
        // Deterministic: a fresh view of the same files gives the same plan.
        let again = RepoView::from_memory(files.iter().map(|(p, b)| (p.clone(), b.clone())));
        prop_assert_eq!(&plan, &repo_scanner::scan(&again, source()));
    }
}

/// Paths as odd as an archive or a git tree can hold: empty components, dots, deep nesting,
/// manifests in unusual places.
fn odd_path() -> impl Strategy<Value = String> {
    let component = prop_oneof![
        Just("".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("apps".to_string()),
        Just("services".to_string()),
        Just("package.json".to_string()),
        Just("requirements.txt".to_string()),
        Just("Procfile".to_string()),
        Just("Dockerfile".to_string()),
        Just("go.mod".to_string()),
        Just("render.yaml".to_string()),
        "[a-z]{1,3}",
        "\\PC{1,3}",
    ];
    prop::collection::vec(component, 1..6).prop_map(|c| c.join("/"))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn scan_of_odd_paths_never_panics(files in prop::collection::vec((odd_path(), prop::collection::vec(any::<u8>(), 0..64)), 0..16)) {
        let view = RepoView::from_memory(files);
        let plan = repo_scanner::scan(&view, source());
        prop_assert!(serde_json::to_string(&plan).is_ok());
        prop_assert!(plan.status != Status::Ready || plan.open_questions.is_empty());
        for (dir, _) in view.list_dir("") {
            let sub = repo_scanner::scan(&view.subview(&dir), source());
            prop_assert!(serde_json::to_string(&sub).is_ok());
            prop_assert!(sub.status != Status::Ready || sub.open_questions.is_empty());
        }
    }
}

// ---- admission -----------------------------------------------------------------------------

/// Words an attacker would splice into a proposal, and the words benign commands are made of.
fn proposal() -> impl Strategy<Value = String> {
    prop_oneof![
        shellish(),
        prop::collection::vec(
            prop_oneof![
                Just("gunicorn".to_string()),
                Just("python".to_string()),
                Just("node".to_string()),
                Just("npm".to_string()),
                Just("start".to_string()),
                Just("run".to_string()),
                Just("bundle exec puma".to_string()),
                Just("app.py".to_string()),
                Just("server.js".to_string()),
                Just("app:app".to_string()),
                Just("-m".to_string()),
                Just("-c".to_string()),
                Just("-e".to_string()),
                Just("--bind".to_string()),
                Just("0.0.0.0:$PORT".to_string()),
                Just("${PORT:-8000}".to_string()),
                Just("${PORT:-$(id)}".to_string()),
                Just("$HOME".to_string()),
                Just("NODE_ENV=production".to_string()),
                Just("LD_PRELOAD=x".to_string()),
                Just(";".to_string()),
                Just("|".to_string()),
                Just("&&".to_string()),
                Just("`".to_string()),
                Just("'".to_string()),
                Just("\\".to_string()),
                Just("\n".to_string()),
                Just("../".to_string()),
                Just("/etc/passwd".to_string()),
                "[a-z0-9_.:/=$-]{1,8}",
            ],
            1..10,
        )
        .prop_map(|w| w.join(" ")),
    ]
}

proptest! {
    #![proptest_config(config(2048))]

    /// Nothing admitted from the model or a README holds a shell metacharacter, a control
    /// character, a variable other than $PORT, or a path out of the app.
    #[test]
    fn nothing_admitted_holds_a_shell_metacharacter(cmd in proposal(), lang in language(), readme in any::<bool>()) {
        use repo_scanner::admit::{App, SafeCommand};
        use repo_scanner::plan::ProcessSource;
        let view = RepoView::from_memory([
            ("app.py", "app = 1\n"),
            ("server.js", "x\n"),
            ("package.json", r#"{"scripts":{"start":"node server.js"}}"#),
        ]);
        let origin = if readme { ProcessSource::Readme } else { ProcessSource::Llm };
        let app = App { view: &view, language: lang, kind: "web", dockerfile: false };
        if let Ok(admitted) = SafeCommand::admit(&cmd, origin, &app) {
            let text = admitted.as_str();
            let without_port = text.replace("${PORT}", "").replace("$PORT", "");
            let without_port = regex_free_port_default(&without_port);
            for c in [';', '&', '|', '<', '>', '`', '(', ')', '\'', '"', '\\', '*', '?', '[', ']', '#', '~', '!', '{', '}', '$'] {
                prop_assert!(!without_port.contains(c), "{:?} admitted with {:?}", text, c);
            }
            prop_assert!(!text.chars().any(|c| c.is_control() || !c.is_ascii()), "{:?}", text);
            prop_assert!(!text.split(' ').any(|w| w.starts_with('/') || w.split('/').any(|c| c == "..")), "{:?}", text);
            prop_assert!(lang.is_some(), "admitted without a language: {:?}", text);
        }
    }
}

/// Removes `${PORT:-digits}`, the one other admitted form of the variable.
fn regex_free_port_default(s: &str) -> String {
    let mut out = s.to_string();
    while let Some(i) = out.find("${PORT:-") {
        let Some(j) = out[i..].find('}') else { break };
        out.replace_range(i..i + j + 1, "");
    }
    out
}
