//! The Procfile, with Heroku's grammar: `<name>: <command>` per line, names `[A-Za-z0-9_-]+`,
//! comments and blank lines skipped, CRLF and a BOM tolerated. Not YAML: a command may hold
//! colons, quotes and `#` freely.

use crate::command;
use crate::plan::{Warning, WarningCode};
use crate::view::{ReadError, RepoView};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcfileEntry {
    pub name: String,
    pub command: String,
    /// 1-based line number.
    pub line: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Procfile {
    /// Path relative to the view.
    pub path: String,
    pub entries: Vec<ProcfileEntry>,
    pub warnings: Vec<Warning>,
    /// Present but not read (a link out of the repository, binary, too large).
    pub unreadable: bool,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses Procfile text. Never fails: bad lines become warnings. A duplicated name keeps the
/// last line, as Heroku does.
///
/// Linear in the text: names are looked up in a map (a 1 MiB Procfile of distinct names was
/// quadratic with a list scan), and a replaced entry leaves a hole that is dropped at the end.
pub fn parse(text: &str, path: &str) -> Procfile {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Procfile { path: path.to_string(), ..Default::default() };
    let mut slots: Vec<Option<ProcfileEntry>> = Vec::new();
    let mut by_name: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let warn = |code, message: String, line: usize| Warning {
        code,
        message,
        file: Some(path.to_string()),
        line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
    };
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, cmd)) = line.split_once(':') else {
            out.warnings.push(warn(
                WarningCode::ProcfileInvalidLine,
                format!("line is not `<name>: <command>`: {}", truncate(line)),
                line_no,
            ));
            continue;
        };
        let name = name.trim();
        let cmd = cmd.trim();
        if !valid_name(name) {
            out.warnings.push(warn(
                WarningCode::ProcfileInvalidLine,
                format!("invalid process type {:?}: names are letters, digits, _ and -", truncate(name)),
                line_no,
            ));
            continue;
        }
        if cmd.is_empty() {
            out.warnings.push(warn(
                WarningCode::ProcfileEmptyCommand,
                format!("process {name:?} has no command"),
                line_no,
            ));
            continue;
        }
        if let Some(first) = by_name.get(name).and_then(|&i| slots.get_mut(i)).and_then(Option::take) {
            out.warnings.push(warn(
                WarningCode::ProcfileDuplicate,
                format!("process {name:?} is defined again (first on line {}); the last definition wins", first.line),
                line_no,
            ));
        }
        by_name.insert(name.to_string(), slots.len());
        slots.push(Some(ProcfileEntry {
            name: name.to_string(),
            command: cmd.to_string(),
            line: u32::try_from(line_no).unwrap_or(u32::MAX),
        }));
    }
    out.entries = slots.into_iter().flatten().collect();
    out
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Reads the app's Procfile. Returns None without one; a Procfile that cannot be read (a link
/// out of the repository, binary, too large) is a warning and no entries.
pub fn read(view: &RepoView) -> (Option<Procfile>, Vec<Warning>) {
    let mut warnings = Vec::new();
    for (name, _) in view.list_dir("").into_iter().filter(|(_, d)| !d) {
        if name != "Procfile" && name.eq_ignore_ascii_case("procfile") {
            warnings.push(Warning {
                code: WarningCode::ProcfileVariant,
                message: format!("{name} is not read by Heroku or the buildpacks: rename it to Procfile"),
                file: Some(view.repo_path(&name)),
                line: None,
            });
        }
    }
    if !view.is_file("Procfile") {
        return (None, warnings);
    }
    let path = view.repo_path("Procfile");
    match view.read_text("Procfile") {
        Ok(text) => {
            let mut p = parse(&text, &path);
            p.warnings.extend(port_warnings(&p));
            (Some(p), warnings)
        }
        Err(e) => {
            let code = match e {
                // The listing already reported the link.
                ReadError::SymlinkEscape { .. } => None,
                ReadError::TooLarge { .. } => Some(WarningCode::FileTooLarge),
                _ => Some(WarningCode::ManifestBinary),
            };
            if let Some(code) = code {
                warnings.push(Warning {
                    code,
                    message: format!("Procfile not read: {e}"),
                    file: Some(path.clone()),
                    line: None,
                });
            }
            (Some(Procfile { path, unreadable: true, ..Default::default() }), warnings)
        }
    }
}

/// A web line that binds a literal port: the platform assigns `$PORT`, so it would not be reached.
fn port_warnings(p: &Procfile) -> Vec<Warning> {
    p.entries
        .iter()
        .filter(|e| e.name == "web")
        .filter_map(|e| {
            let (word, port) = command::literal_port(&e.command)?;
            Some(Warning {
                code: WarningCode::HardcodedPort,
                message: format!(
                    "web binds port {port} instead of $PORT; suggested: `{}`",
                    fix_port(&e.command).unwrap_or_else(|| format!("use $PORT in place of {word}"))
                ),
                file: Some(p.path.clone()),
                line: Some(e.line),
            })
        })
        .collect()
}

/// The command with its literal port replaced by `$PORT`, when there is one.
pub fn fix_port(cmd: &str) -> Option<String> {
    let (word, port) = command::literal_port(cmd)?;
    let p = port.to_string();
    // Replace within the word that holds the port, or in the word right after the flag.
    if let Some(i) = cmd.find(&word) {
        let after = i + word.len();
        if word.ends_with(&p) {
            let at = after - p.len();
            return Some(format!("{}$PORT{}", &cmd[..at], &cmd[after..]));
        }
        if let Some(j) = cmd[after..].find(&p) {
            let at = after + j;
            return Some(format!("{}$PORT{}", &cmd[..at], &cmd[at + p.len()..]));
        }
    }
    None
}

/// Renders processes as Procfile text.
pub fn render<'a>(lines: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    lines.into_iter().map(|(n, c)| format!("{n}: {c}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heroku_grammar() {
        let p = parse(
            "\u{feff}# comment\r\nweb: gunicorn app:app\r\n\r\nworker:celery -A x worker\nbad line\n9$: x\n",
            "Procfile",
        );
        let names: Vec<_> = p.entries.iter().map(|e| (e.name.as_str(), e.command.as_str(), e.line)).collect();
        assert_eq!(names, vec![("web", "gunicorn app:app", 2), ("worker", "celery -A x worker", 4)]);
        assert_eq!(p.warnings.len(), 2);
        assert!(p.warnings.iter().all(|w| w.code == WarningCode::ProcfileInvalidLine));
    }

    #[test]
    fn duplicate_names_keep_the_last() {
        let p = parse("web: a\nweb: b\n", "Procfile");
        assert_eq!(p.entries.len(), 1);
        assert_eq!(p.entries[0].command, "b");
        assert_eq!(p.warnings[0].code, WarningCode::ProcfileDuplicate);
        assert_eq!(p.warnings[0].line, Some(2));
    }

    #[test]
    fn commands_keep_colons() {
        let p = parse("web: uvicorn main:app --port ${PORT:-8000}", "Procfile");
        assert_eq!(p.entries[0].command, "uvicorn main:app --port ${PORT:-8000}");
    }

    #[test]
    fn fixes_hard_coded_ports() {
        assert_eq!(fix_port("gunicorn app:app -b 0.0.0.0:5000").as_deref(), Some("gunicorn app:app -b 0.0.0.0:$PORT"));
        assert_eq!(fix_port("uvicorn main:app --port 8000").as_deref(), Some("uvicorn main:app --port $PORT"));
        assert_eq!(fix_port("node server.js"), None);
    }
}
