//! The strict grammar for commands from the model or from README text.
//!
//! ```text
//! command  := assign* ["exec"] wrapper* program option* positional*
//! assign   := NAME "=" word          NAME from ALLOWED_ENV only
//! program  := known program of the language (tables) | relative path inside the app
//! word     := [A-Za-z0-9_.:/@%+,=-]+ with `$PORT`, `${PORT}`, `${PORT:-N}` as the only variables
//! ```
//!
//! Words are split on spaces only: quotes, backslashes, operators, substitutions, globs and
//! comments are refused before anything is read, so there is no shell syntax left to misread.

use super::tables::{self, Arg, Program, Shape, Table};
use super::{App, Refusal, Rule};
use crate::command;

/// Longest command admitted.
const MAX_LEN: usize = 500;

/// Environment assignments a start command may make: modes and sizes, nothing that loads code.
pub const ALLOWED_ENV: &[&str] = &[
    "PORT",
    "NODE_ENV",
    "RAILS_ENV",
    "RACK_ENV",
    "APP_ENV",
    "MIX_ENV",
    "PYTHONUNBUFFERED",
    "WEB_CONCURRENCY",
    "GIN_MODE",
];

/// Package runners that fetch and run code from a registry.
const FETCHING: &[&str] = &["npx", "uvx", "bunx", "pipx", "pnpx", "deno-x"];
/// `<program> <subcommand>` forms that fetch.
const FETCHING_SUB: &[(&str, &str)] = &[
    ("pnpm", "dlx"),
    ("yarn", "dlx"),
    ("npm", "exec"),
    ("npm", "x"),
    ("pnpm", "exec"),
    ("yarn", "exec"),
    ("bun", "x"),
    ("pipx", "run"),
    ("uv", "tool"),
    ("gem", "exec"),
];

/// Options that run inline code or load code from outside the app, per any interpreter.
const INLINE: &[&str] = &[
    "-c",
    "-e",
    "-r",
    "-p",
    "-E",
    "-I",
    "-x",
    "-d",
    "--eval",
    "--print",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "--pythonpath",
    "--inspect",
    "--inspect-brk",
    "-S",
    "--command",
];

/// Where build outputs land: a script or binary there need not exist in the source tree.
const BUILD_DIRS: &[&str] = &["dist/", "build/", "out/", "target/", "bin/", ".build/", "publish/", "lib/"];

/// Characters a word may hold (after `$PORT` forms are taken out).
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '@' | '%' | '+' | ',' | '=' | '-')
}

/// Replaces the admitted `$PORT` forms by a neutral placeholder.
fn without_port(text: &str) -> String {
    let mut s = text.to_string();
    // `${PORT:-8000}`: the default must be digits.
    while let Some(i) = s.find("${PORT:-") {
        let rest = &s[i + 8..];
        match rest.find('}') {
            Some(j) if j > 0 && rest[..j].chars().all(|c| c.is_ascii_digit()) => {
                s.replace_range(i..i + 8 + j + 1, "PORTVAR");
            }
            _ => break,
        }
    }
    s.replace("${PORT}", "PORTVAR").replace("$PORT", "PORTVAR")
}

/// The characters and syntax every admitted command has: checked before it is split.
fn lexical(text: &str) -> Result<Vec<String>, Refusal> {
    if text.len() > MAX_LEN {
        return Err(Refusal::new(Rule::TooLong, format!("longer than {MAX_LEN} characters")));
    }
    if let Some(c) = text.chars().find(|c| c.is_control() || !c.is_ascii()) {
        return Err(Refusal::new(Rule::Characters, format!("holds {c:?}: control or non-ASCII character")));
    }
    let neutral = without_port(text);
    if let Some(c) = neutral.chars().find(|c| matches!(c, ';' | '&' | '|' | '<' | '>' | '`' | '(' | ')')) {
        return Err(Refusal::new(Rule::ShellSyntax, format!("shell operator or substitution {c:?}")));
    }
    if let Some(c) =
        neutral.chars().find(|c| matches!(c, '\'' | '"' | '\\' | '*' | '?' | '[' | ']' | '#' | '~' | '!' | '{' | '}'))
    {
        return Err(Refusal::new(Rule::ShellSyntax, format!("quoting, glob or expansion character {c:?}")));
    }
    if neutral.contains('$') {
        return Err(Refusal::new(Rule::Variable, "a variable other than $PORT"));
    }
    let words: Vec<String> = text.split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect();
    for w in &words {
        if let Some(c) = without_port(w).chars().find(|c| !word_char(*c)) {
            return Err(Refusal::new(Rule::ShellSyntax, format!("character {c:?} in {w:?}")));
        }
    }
    Ok(words)
}

/// Refuses absolute paths and `..` anywhere in a word (values after `=` or `:` included).
fn inside_app(word: &str) -> Result<(), Refusal> {
    let value = word.split_once('=').map(|(_, v)| v).unwrap_or(word);
    let absolute = value.starts_with('/') || word.starts_with('/');
    let up = word.split(['/', '=', ':', ',']).any(|c| c == "..");
    if absolute || up {
        return Err(Refusal::new(Rule::PathEscape, format!("{word:?} reaches outside the app")));
    }
    Ok(())
}

/// Hosts a command may name in a URL: the addresses it listens on.
const LISTEN_HOSTS: &[&str] = &["0.0.0.0", "127.0.0.1", "localhost", "[::]", "+", "*"];

/// Refuses URLs to anywhere but a listen address (`http://0.0.0.0:$PORT` is a bind).
fn remote(word: &str) -> Result<(), Refusal> {
    let Some((_, rest)) = word.split_once("://") else { return Ok(()) };
    let host = rest.split([':', '/']).next().unwrap_or("");
    if LISTEN_HOSTS.contains(&host) {
        return Ok(());
    }
    Err(Refusal::new(Rule::FetchingRunner, format!("{word} names a remote URL: code or data from outside the app")))
}

fn is_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(n, _)| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    })
}

fn exists(app: &App<'_>, path: &str) -> bool {
    let p = path.trim_start_matches("./");
    app.view.is_file(p) || app.dockerfile || BUILD_DIRS.iter().any(|d| p.starts_with(d))
}

/// Admits `text` for `app` or says which rule refuses it.
pub fn admit(text: &str, app: &App<'_>) -> Result<(), Refusal> {
    parse(text, app)?;
    port(text, app)
}

fn parse(text: &str, app: &App<'_>) -> Result<(), Refusal> {
    let words = lexical(text)?;
    for w in &words {
        inside_app(w)?;
        remote(w)?;
    }
    let mut rest: &[String] = &words;
    while let Some(w) = rest.first().filter(|w| is_assignment(w)) {
        let (name, _) = w.split_once('=').unwrap_or((w, ""));
        if !ALLOWED_ENV.contains(&name) {
            return Err(Refusal::new(Rule::Environment, format!("assignment to {name} is not allowed")));
        }
        rest = &rest[1..];
    }
    if rest.first().is_some_and(|w| w == "exec") {
        rest = &rest[1..];
    }
    let Some(language) = app.language else {
        return Err(Refusal::new(Rule::UnknownProgram, "the app has no language, so no program is known"));
    };
    let table = tables::table(language);
    rest = strip_wrappers(rest, table);
    let Some(first) = rest.first() else { return Err(Refusal::new(Rule::Empty, "no program")) };
    fetching(rest)?;
    if first.contains('/') {
        // A program of the app itself (a script, a wrapper like ./mvnw, a built binary).
        if !exists(app, first) {
            return Err(Refusal::new(Rule::MissingFile, format!("{first} is not in the app")));
        }
        return positionals(&rest[1..], app);
    }
    let Some(program) = table.program(first) else {
        return Err(Refusal::new(Rule::UnknownProgram, format!("{first} is not a known program of {language}")));
    };
    let args = &rest[1..];
    if program.name == "go" {
        return go_run(args, app);
    }
    if let Some(inner) = python_module(program, args) {
        return match table.program(inner.0) {
            Some(p) if p.shape == Shape::Server => {
                let positional = with_options(p, inner.1, app)?;
                subcommand(p, &positional)?;
                positionals(&positional, app)
            }
            _ => {
                let module = inner.0.replace('.', "/");
                if exists(app, &format!("{module}.py")) || exists(app, &format!("{module}/__main__.py")) {
                    positionals(inner.1, app)
                } else {
                    Err(Refusal::new(Rule::MissingFile, format!("module {} is not in the app", inner.0)))
                }
            }
        };
    }
    let positional = with_options(program, args, app)?;
    match program.shape {
        Shape::Server => {
            subcommand(program, &positional)?;
            positionals(&positional, app)?
        }
        // PHP's built-in server needs no script (a router script, if any, must exist).
        Shape::Interpreter { .. } if program.name == "php" && args.iter().any(|a| a == "-S") => {
            positionals(&positional, app)?
        }
        Shape::Interpreter { .. } => {
            let Some(script) = positional.first() else {
                return Err(Refusal::new(Rule::MissingFile, format!("{} without a script", program.name)));
            };
            if program.name == "bun" && script == "run" {
                return package_script(program, &positional[1..], app);
            }
            if !exists(app, script) {
                return Err(Refusal::new(Rule::MissingFile, format!("{script} is not in the app")));
            }
            positionals(&positional[1..], app)?
        }
        Shape::PackageScripts => package_script(program, &positional, app)?,
    }
    Ok(())
}

fn strip_wrappers<'w>(mut rest: &'w [String], table: &Table) -> &'w [String] {
    'outer: loop {
        for wrapper in table.wrappers {
            if rest.len() > wrapper.len() && rest.iter().zip(wrapper.iter()).all(|(a, b)| a == b) {
                rest = &rest[wrapper.len()..];
                continue 'outer;
            }
        }
        return rest;
    }
}

fn fetching(rest: &[String]) -> Result<(), Refusal> {
    let first = rest.first().map(String::as_str).unwrap_or("");
    let second = rest.get(1).map(String::as_str).unwrap_or("");
    if FETCHING.contains(&first) || FETCHING_SUB.iter().any(|(p, s)| *p == first && *s == second) {
        return Err(Refusal::new(Rule::FetchingRunner, format!("{first} fetches and runs a package")));
    }
    Ok(())
}

/// `python -m module args...`: (module, args).
fn python_module<'w>(program: &Program, args: &'w [String]) -> Option<(&'w str, &'w [String])> {
    let Shape::Interpreter { module: Some(flag) } = program.shape else { return None };
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == flag {
            return args.get(i + 1).map(|m| (m.as_str(), &args[i + 2..]));
        }
        if !a.starts_with('-') {
            return None;
        }
        i += 1;
    }
    None
}

/// Reads the options; returns the positionals. For an interpreter (or a package-script
/// runner) options stop at the first positional: what follows is the script's own arguments.
fn with_options(program: &Program, args: &[String], app: &App<'_>) -> Result<Vec<String>, Refusal> {
    let interpreter = matches!(program.shape, Shape::Interpreter { .. });
    let module = match program.shape {
        Shape::Interpreter { module } => module,
        _ => None,
    };
    let mut positional = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if !a.starts_with('-') || a == "-" {
            if interpreter || program.shape == Shape::PackageScripts {
                positional.extend(args[i..].iter().cloned());
                return Ok(positional);
            }
            positional.push(a.clone());
            i += 1;
            continue;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (a.as_str(), None),
        };
        if module == Some(flag) {
            positional.extend(args[i..].iter().cloned());
            return Ok(positional);
        }
        let found = program.opts.iter().find_map(|o| {
            o.names.iter().find_map(|n| match n.strip_suffix('*') {
                Some(prefix) if a.starts_with(prefix) => Some((o.arg, true)),
                None if *n == flag => Some((o.arg, false)),
                _ => None,
            })
        });
        let Some((arg, by_prefix)) = found else {
            // `-e`, `-eCODE`, `--eval=...` on an interpreter; code-loading options anywhere.
            let inline = INLINE.iter().any(|x| flag == *x || (x.len() == 2 && a.starts_with(x)));
            let loads_code = matches!(flag, "--pythonpath" | "--require" | "--eval" | "--import" | "--loader");
            let rule = if (interpreter && inline) || loads_code { Rule::InlineCode } else { Rule::UnknownOption };
            return Err(Refusal::new(rule, format!("{} does not take {a}", program.name)));
        };
        if by_prefix || arg == Arg::None {
            i += 1;
            continue;
        }
        let value = match inline {
            Some(v) => v.to_string(),
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| Refusal::new(Rule::UnknownOption, format!("{flag} without a value")))?
            }
        };
        match arg {
            Arg::File if !exists(app, &value) => {
                return Err(Refusal::new(Rule::MissingFile, format!("{flag} {value}: not a file of the app")));
            }
            Arg::Dir if !(value == "." || app.view.is_dir(value.trim_start_matches("./")) || app.dockerfile) => {
                return Err(Refusal::new(Rule::MissingFile, format!("{flag} {value}: not a directory of the app")));
            }
            _ => {}
        }
        i += 1;
    }
    Ok(positional)
}

/// A server's first positional: one of its subcommands, or a script of the app.
fn subcommand(program: &Program, positional: &[String]) -> Result<(), Refusal> {
    if program.subcommands.is_empty() {
        return Ok(());
    }
    match positional.first() {
        Some(p) if program.subcommands.contains(&p.as_str()) || SCRIPT_EXT.iter().any(|x| p.ends_with(x)) => Ok(()),
        Some(p) => Err(Refusal::new(
            Rule::UnknownOption,
            format!("{} {p}: not one of {}", program.name, program.subcommands.join(", ")),
        )),
        None => Err(Refusal::new(
            Rule::UnknownOption,
            format!("{} needs one of {}", program.name, program.subcommands.join(", ")),
        )),
    }
}

/// Script extensions: a positional with one names a file the program runs.
const SCRIPT_EXT: &[&str] = &[".py", ".js", ".mjs", ".cjs", ".ts", ".mts", ".rb", ".ru", ".php", ".sh", ".jar", ".dll"];

/// Positional words: inside the app, no URLs, and a script they name exists.
fn positionals(words: &[String], app: &App<'_>) -> Result<(), Refusal> {
    for w in words {
        inside_app(w)?;
        if w.contains("://") {
            return Err(Refusal::new(Rule::FetchingRunner, format!("{w} is a URL: code from outside the app")));
        }
        if SCRIPT_EXT.iter().any(|x| w.ends_with(x)) && !w.contains(':') && !exists(app, w) {
            return Err(Refusal::new(Rule::MissingFile, format!("{w} is not in the app")));
        }
    }
    Ok(())
}

/// `npm start`, `npm run x`, `yarn x`, `pnpm x`, `bun run x`: the script must be in package.json.
fn package_script(program: &Program, args: &[String], app: &App<'_>) -> Result<(), Refusal> {
    let (name, rest) = match args {
        [run, name, rest @ ..] if run == "run" || run == "run-script" => (name.as_str(), rest),
        [name, rest @ ..] => (name.as_str(), rest),
        [] => return Err(Refusal::new(Rule::MissingFile, format!("{} without a script", program.name))),
    };
    let scripts = super::scripts::package_scripts(app.view);
    if !scripts.iter().any(|(n, _)| n == name) {
        return Err(Refusal::new(Rule::MissingFile, format!("package.json has no script {name:?}")));
    }
    positionals(rest, app)
}

/// `go run .` or `go run ./cmd/x`: a package of the app, never `pkg@version` or a remote path.
fn go_run(args: &[String], app: &App<'_>) -> Result<(), Refusal> {
    match args {
        [run, target, rest @ ..] if run == "run" => {
            if target.contains('@') || (!target.starts_with('.') && target.contains('.')) {
                return Err(Refusal::new(Rule::FetchingRunner, format!("go run {target} fetches a module")));
            }
            let dir = target.trim_start_matches("./");
            if !(target == "." || app.view.is_dir(dir) || app.view.is_file(dir)) {
                return Err(Refusal::new(Rule::MissingFile, format!("{target} is not a package of the app")));
            }
            positionals(rest, app)
        }
        _ => Err(Refusal::new(Rule::UnknownProgram, "go only as `go run <package of the app>`")),
    }
}

/// A web command that binds a port binds `$PORT`: no `--port 8000`, no `0.0.0.0:8000`.
fn port(text: &str, app: &App<'_>) -> Result<(), Refusal> {
    if app.kind != "web" {
        return Ok(());
    }
    let literal = command::literal_port(text).map(|(_, p)| p).or_else(|| {
        text.split([' ', '=']).find_map(|w| {
            let (host, port) = w.rsplit_once(':')?;
            let hostlike = host.is_empty() || host.rsplit('/').next().is_some_and(|h| LISTEN_HOSTS.contains(&h));
            port.parse::<u16>().ok().filter(|_| hostlike)
        })
    });
    match literal {
        Some(p) => Err(Refusal::new(Rule::HardcodedPort, format!("binds port {p}; the platform assigns $PORT"))),
        None => Ok(()),
    }
}
