//! Start commands as words: a small shell-like tokenizer, and the *process key* of a command.
//!
//! The key (program, target) is how two commands are judged "the same process": it skips
//! wrappers (`bundle exec`, `uv run`, `npx`, env assignments, `exec`, `python -m`) and, for
//! compound commands, keeps the long-running segment (the last one that is not a shell builtin
//! or a one-shot tool). The validator, the hard-coded-port check and the evaluation all read
//! commands through this module, so they agree on what a command runs.

/// A word or a shell operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// `&&`, `||`, `;`, `|`, `&`, `>`, `>>`, `<`, `2>`...
    Op(String),
}

/// Splits like a POSIX shell would for our purposes: quotes group, operators separate.
/// `$(`, backticks and variables are kept inside words (the validator looks for them).
/// Unbalanced quotes end the word at the end of input rather than failing.
pub fn tokenize(cmd: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars().peekable();
    let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<Token>| {
        if *in_word {
            out.push(Token::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if !matches!(n, '"' | '\\' | '$' | '`') {
                                    word.push('\\');
                                }
                                word.push(n);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    if n != '\n' {
                        word.push(n);
                    }
                }
            }
            c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut out),
            '&' | '|' | ';' | '<' | '>' => {
                // `2>` and `2>&1`: a digit right before a redirection belongs to it.
                let mut op = String::new();
                if matches!(c, '<' | '>') && in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    op.push_str(&std::mem::take(&mut word));
                    in_word = false;
                } else {
                    flush(&mut word, &mut in_word, &mut out);
                }
                op.push(c);
                if let Some(&n) = chars.peek() {
                    if (n == c && c != ';') || (c == '>' && n == '&') {
                        op.push(n);
                        chars.next();
                    }
                }
                out.push(Token::Op(op));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut in_word, &mut out);
    out
}

/// The simple commands of a command line, split at `&&`, `||`, `;`, `|`, `&`.
/// Redirections and their targets are dropped.
pub fn segments(cmd: &str) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    let mut skip_next = false;
    for t in tokenize(cmd) {
        match t {
            Token::Word(w) => {
                if std::mem::take(&mut skip_next) {
                    continue;
                }
                if let Some(seg) = out.last_mut() {
                    seg.push(w);
                }
            }
            Token::Op(op) if op.contains('<') || op.contains('>') => skip_next = !op.ends_with('&'),
            Token::Op(_) => out.push(Vec::new()),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// (program, target) identifying a process, as the corpus's scoring conventions define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessKey {
    /// Basename of the first real executable.
    pub program: String,
    /// First positional argument after the program (options and variables skipped).
    pub target: Option<String>,
    /// Every positional argument after the program, for lenient target matching.
    pub positionals: Vec<String>,
}

/// Shell builtins and one-shot tools that set up before the server starts.
const SETUP_PROGRAMS: &[&str] = &[
    "cd", "echo", "printf", "export", "set", "source", ".", "cat", "mkdir", "cp", "mv", "ln", "chmod", "touch", "true",
    "test", "[", "ls",
];

fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

fn is_env_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Drops wrappers from the front of a simple command: env assignments, `env`, `exec`,
/// `bundle exec`, `uv run`, `poetry run`, `pipenv run`, `npx`, `pnpm exec`, `python -m`.
/// Returns the words starting at the real program.
pub fn unwrap_words(words: &[String]) -> &[String] {
    let mut w = words;
    loop {
        let Some(first) = w.first() else { return w };
        let first = first.as_str();
        let second = w.get(1).map(String::as_str);
        let skip = if is_env_assignment(first) || first == "exec" || first == "nohup" {
            1
        } else if first == "env" {
            1 + w[1..].iter().take_while(|a| is_env_assignment(a) || a.starts_with('-')).count()
        } else if (first == "bundle" && second == Some("exec"))
            || (matches!(first, "uv" | "poetry" | "pipenv" | "pdm" | "hatch" | "rye") && second == Some("run"))
            || (matches!(first, "pnpm" | "yarn" | "npm") && second == Some("exec"))
        {
            2 + w[2..].iter().take_while(|a| a.starts_with('-')).count()
        } else if first == "npx" || first == "bunx" {
            1 + w[1..].iter().take_while(|a| a.starts_with('-')).count()
        } else if (first.starts_with("python") || first == "py") && second == Some("-m") && w.len() > 2 {
            2
        } else {
            0
        };
        if skip == 0 || skip >= w.len() {
            return w;
        }
        w = &w[skip..];
    }
}

/// The key of the words of one simple command.
fn key_of(words: &[String]) -> Option<ProcessKey> {
    let w = unwrap_words(words);
    let program = w.first()?;
    // `sh -c "..."`: the key is the inner command's.
    if matches!(basename(program), "sh" | "bash" | "dash" | "zsh") && w.get(1).map(String::as_str) == Some("-c") {
        if let Some(inner) = w.get(2) {
            if let Some(k) = process_key(inner) {
                return Some(k);
            }
        }
    }
    let positionals: Vec<String> = w[1..]
        .iter()
        .filter(|a| !a.starts_with('-') && !a.starts_with('$') && !is_env_assignment(a))
        .cloned()
        .collect();
    Some(ProcessKey { program: basename(program).to_string(), target: positionals.first().cloned(), positionals })
}

/// The key of a command line: its long-running segment's.
pub fn process_key(cmd: &str) -> Option<ProcessKey> {
    let segs = segments(cmd);
    let main = segs
        .iter()
        .rev()
        .find(|s| unwrap_words(s).first().is_some_and(|p| !SETUP_PROGRAMS.contains(&basename(p))))
        .or(segs.last())?;
    key_of(main)
}

/// Keys of every segment of a command line (the literal first executable is among them).
pub fn segment_keys(cmd: &str) -> Vec<ProcessKey> {
    segments(cmd).iter().filter_map(|s| key_of(s)).collect()
}

/// True when `cmd` names `$PORT` (or `${PORT...}`).
pub fn mentions_port_var(cmd: &str) -> bool {
    cmd.contains("$PORT") || cmd.contains("${PORT")
}

/// A literal port a command binds, as (the word that holds it, the port), if any.
/// Recognizes `-p 8000`, `--port=8000`, `--bind 0.0.0.0:8000`, `-b :8000`, `-l tcp://...:8000`,
/// `-Dserver.port=8080`, `PORT=8000 ...`.
pub fn literal_port(cmd: &str) -> Option<(String, u16)> {
    let words: Vec<String> =
        tokenize(cmd).into_iter().filter_map(|t| if let Token::Word(w) = t { Some(w) } else { None }).collect();
    let port_of = |s: &str| -> Option<u16> {
        let tail = s.rsplit(':').next().unwrap_or(s);
        tail.parse::<u16>().ok().filter(|p| *p > 0)
    };
    for (i, w) in words.iter().enumerate() {
        if w.contains('$') {
            continue;
        }
        let next = words.get(i + 1).map(String::as_str);
        let (flag, value) = match w.split_once('=') {
            Some((f, v)) if f.starts_with('-') || f == "PORT" => (f, Some(v)),
            _ => (w.as_str(), next),
        };
        let is_port_flag = matches!(flag, "-p" | "--port" | "-P" | "PORT" | "-Dserver.port" | "--server.port");
        let is_bind_flag = matches!(flag, "-b" | "--bind" | "-l" | "--listen" | "--host-port" | "-B");
        if is_port_flag || is_bind_flag {
            if let Some(v) = value {
                if v.contains('$') {
                    continue;
                }
                let port =
                    if is_port_flag { v.parse::<u16>().ok() } else { v.contains(':').then(|| port_of(v)).flatten() };
                if let Some(p) = port {
                    return Some((w.clone(), p));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(cmd: &str) -> (String, Option<String>) {
        let k = process_key(cmd).expect("a key");
        (k.program, k.target)
    }

    #[test]
    fn tokenizes_quotes_and_operators() {
        assert_eq!(
            tokenize(r#"sh -c "cat ./ok && sleep infinity" 2>&1"#),
            vec![
                Token::Word("sh".into()),
                Token::Word("-c".into()),
                Token::Word("cat ./ok && sleep infinity".into()),
                Token::Op("2>&".into()),
                Token::Word("1".into()),
            ]
        );
        assert_eq!(segments("a b && c; d | e").len(), 4);
    }

    #[test]
    fn keys_skip_wrappers() {
        assert_eq!(key("bundle exec rails server -b 0.0.0.0"), ("rails".into(), Some("server".into())));
        assert_eq!(key("uv run uvicorn app.main:app --port $PORT"), ("uvicorn".into(), Some("app.main:app".into())));
        assert_eq!(key("exec uvicorn app.server:app"), ("uvicorn".into(), Some("app.server:app".into())));
        assert_eq!(key("APP_PORT=3000 mesh /app/startup.sh"), ("mesh".into(), Some("/app/startup.sh".into())));
        assert_eq!(key("python -m gunicorn app:app"), ("gunicorn".into(), Some("app:app".into())));
        assert_eq!(key("npx tsx agent/agent.ts start"), ("tsx".into(), Some("agent/agent.ts".into())));
        assert_eq!(key("./target/release/GeoIP"), ("GeoIP".into(), None));
        assert_eq!(key("npm start"), ("npm".into(), Some("start".into())));
    }

    #[test]
    fn compound_commands_key_on_the_server() {
        assert_eq!(key("cd dashboard && npm start"), ("npm".into(), Some("start".into())));
        assert_eq!(key(r#"sh -c "cat ./ok && sleep infinity""#), ("sleep".into(), Some("infinity".into())));
        assert_eq!(
            key("python manage.py migrate && gunicorn mysite.wsgi"),
            ("gunicorn".into(), Some("mysite.wsgi".into()))
        );
        assert_eq!(
            key("java $JAVA_OPTS -Dserver.port=$PORT -jar build/libs/app.jar"),
            ("java".into(), Some("build/libs/app.jar".into()))
        );
    }

    #[test]
    fn finds_literal_ports() {
        assert_eq!(literal_port("gunicorn app:app -b 0.0.0.0:5000").map(|p| p.1), Some(5000));
        assert_eq!(literal_port("uvicorn main:app --port 8000").map(|p| p.1), Some(8000));
        assert_eq!(literal_port("uvicorn main:app --port=8000").map(|p| p.1), Some(8000));
        assert_eq!(literal_port("rails server -p 3000").map(|p| p.1), Some(3000));
        assert_eq!(literal_port("uvicorn main:app --port $PORT"), None);
        assert_eq!(literal_port("uvicorn main:app --port ${PORT:-8000}"), None);
        assert_eq!(literal_port("gunicorn app:app -b 0.0.0.0:$PORT"), None);
        assert_eq!(literal_port("node server.js"), None);
    }
}
