//! What the model sees: files chosen by priority, secrets left out or redacted, cut to a token
//! budget counted with tiktoken (cl100k: an estimate for Claude, hence a margin).
//!
//! The same filter and redaction serve the first context and every tool answer, so nothing a
//! tool reads can leak what the context withheld.

use std::sync::OnceLock;

use regex_lite::Regex;
use tiktoken_rs::CoreBPE;

use crate::view::RepoView;

/// Bytes of one file put in the context or returned by `read_file`.
pub const MAX_FILE_CHARS: usize = 3000;
/// Share of the budget kept back because Claude's tokenizer counts differently.
const MARGIN: f64 = 0.10;

fn bpe() -> Option<&'static CoreBPE> {
    static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok()).as_ref()
}

/// Tokens of `text` (cl100k), or a 4-characters-per-token estimate if the tokenizer failed to load.
pub fn count_tokens(text: &str) -> usize {
    match bpe() {
        Some(b) => b.encode_ordinary(text).len(),
        None => text.len().div_ceil(4),
    }
}

/// Files whose content never leaves the machine, whatever asks.
pub fn is_secret_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    name.starts_with(".env")
        || name.ends_with(".pem")
        || name.ends_with(".key")
        || name.ends_with(".p12")
        || name.ends_with(".pfx")
        || name.ends_with(".keystore")
        || name.ends_with(".jks")
        || name.starts_with("id_rsa")
        || name.starts_with("id_dsa")
        || name.starts_with("id_ecdsa")
        || name.starts_with("id_ed25519")
        || name.contains("credentials")
        || name.starts_with("secrets.")
        || name.starts_with(".secret")
        || matches!(name.as_str(), ".npmrc" | ".pypirc" | ".netrc" | ".git-credentials" | ".htpasswd" | "master.key")
}

fn patterns() -> &'static [Regex] {
    static P: OnceLock<Vec<Regex>> = OnceLock::new();
    P.get_or_init(|| {
        [
            r"AKIA[0-9A-Z]{12,}",
            r"\bsk-[A-Za-z0-9_\-]{8,}",
            r"\bgh[pousr]_[A-Za-z0-9]{16,}",
            r"\bgithub_pat_[A-Za-z0-9_]{16,}",
            r"\bxox[abprs]-[A-Za-z0-9\-]{8,}",
            r"\bAIza[0-9A-Za-z_\-]{20,}",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
            r"(?i)((?:api[_-]?key|secret|token|passw(?:or)?d|auth)[A-Za-z0-9_]*[\x22']?\s*[:=]\s*)[^\s,;]+",
            r"[a-z][a-z0-9+.\-]*://[^\s:/@]+:[^\s@/]+@",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    })
}

fn high_entropy() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"[A-Za-z0-9+/_\-]{32,}={0,2}").unwrap_or_else(|_| Regex::new("$^").expect("empty regex"))
    })
}

fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts.iter().filter(|c| **c > 0).map(|c| f64::from(*c) / n).map(|p| -p * p.log2()).sum()
}

/// Replaces key-like strings by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (i, re) in patterns().iter().enumerate() {
        out = if i == 7 {
            re.replace_all(&out, "${1}[REDACTED]").into_owned()
        } else {
            re.replace_all(&out, "[REDACTED]").into_owned()
        };
    }
    high_entropy()
        .replace_all(&out, |c: &regex_lite::Captures<'_>| {
            let s = &c[0];
            let mixed = s.chars().any(|c| c.is_ascii_digit()) && s.chars().any(|c| c.is_ascii_alphabetic());
            // Paths and identifiers are long too; keys are dense and mixed.
            if mixed && entropy(s) > 4.0 && !s.contains('/') {
                "[REDACTED]".to_string()
            } else {
                s.to_string()
            }
        })
        .into_owned()
}

/// A file's text as the model may see it: not a secret file, readable text, redacted, cut.
pub fn safe_read(view: &RepoView, path: &str, max_chars: usize) -> Result<String, String> {
    if is_secret_path(path) {
        return Err("this file may hold secrets and is not shared".into());
    }
    let text = view.read_text(path).map_err(|e| e.to_string())?;
    let mut cut = text.as_str();
    let mut truncated = false;
    if cut.len() > max_chars {
        let mut end = max_chars;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut = &cut[..end];
        truncated = true;
    }
    let mut out = redact(cut);
    if truncated {
        out.push_str("\n[... truncated]");
    }
    Ok(out)
}

/// The files worth showing first, by priority (lower first).
fn priority(path: &str) -> Option<u8> {
    let depth = path.matches('/').count();
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let p = match lower.as_str() {
        "package.json" | "requirements.txt" | "pyproject.toml" | "setup.py" | "pipfile" | "gemfile" | "go.mod"
        | "cargo.toml" | "pom.xml" | "build.gradle" | "build.gradle.kts" | "composer.json" | "mix.exs"
        | "deno.json" | "procfile" => 0,
        "app.json"
        | "render.yaml"
        | "fly.toml"
        | "railway.json"
        | "railway.toml"
        | "nixpacks.toml"
        | "docker-compose.yml"
        | "docker-compose.yaml"
        | "compose.yaml"
        | "dockerfile" => 1,
        "main.py" | "app.py" | "wsgi.py" | "asgi.py" | "manage.py" | "server.py" | "run.py" | "index.js"
        | "server.js" | "app.js" | "main.js" | "index.ts" | "server.ts" | "main.go" | "main.rs" | "config.ru"
        | "index.php" => 2,
        "settings.py"
        | "application.properties"
        | "application.yml"
        | "next.config.js"
        | "nest-cli.json"
        | "tsconfig.json" => 3,
        "readme.md" | "readme" | "readme.rst" | "readme.txt" => 4,
        _ => return None,
    };
    Some(p + (depth.min(3) as u8) * 2)
}

/// The first context: the file tree, then files by priority, within `budget` tokens.
/// Returns the text and the files included.
pub fn build(view: &RepoView, budget: usize) -> (String, Vec<String>) {
    let budget = ((budget as f64) * (1.0 - MARGIN)) as usize;
    let mut used = 0usize;
    let mut out = String::new();
    let mut included = Vec::new();

    let tree: Vec<&str> = view.files().filter(|p| !is_secret_path(p)).take(150).collect();
    let more = view.len().saturating_sub(tree.len());
    let mut tree_text = format!("## File tree ({} files)\n", view.len());
    for p in &tree {
        tree_text.push_str(p);
        tree_text.push('\n');
    }
    if more > 0 {
        tree_text.push_str(&format!("... and {more} more\n"));
    }
    // The tree gets at most a third of the budget.
    let tree_text = cut_to_tokens(&redact(&tree_text), budget / 3);
    used += count_tokens(&tree_text);
    out.push_str(&tree_text);

    let mut candidates: Vec<(u8, &str)> =
        view.files().filter(|p| !is_secret_path(p)).filter_map(|p| priority(p).map(|k| (k, p))).collect();
    candidates.sort();
    for (prio, path) in candidates.into_iter().take(40) {
        let max = if prio >= 4 { 1200 } else { MAX_FILE_CHARS };
        let Ok(text) = safe_read(view, path, max) else { continue };
        let section = format!("\n## File: {path}\n```\n{}\n```\n", text.trim_end());
        let t = count_tokens(&section);
        if used + t > budget {
            let left = budget.saturating_sub(used);
            if left > 120 {
                let part = cut_to_tokens(&section, left);
                used += count_tokens(&part);
                out.push_str(&part);
                out.push_str("\n```\n");
                included.push(path.to_string());
            }
            continue;
        }
        used += t;
        out.push_str(&section);
        included.push(path.to_string());
    }
    (out, included)
}

/// `text` cut to about `tokens` tokens, on a line boundary when it can be.
pub fn cut_to_tokens(text: &str, tokens: usize) -> String {
    if count_tokens(text) <= tokens {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for line in text.split_inclusive('\n') {
        let t = count_tokens(line);
        if used + t > tokens {
            break;
        }
        used += t;
        out.push_str(line);
    }
    out.push_str("[... cut]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_key_like_strings() {
        let text = "AWS=AKIAABCDEFGHIJKLMNOP\nkey sk-live-abcdef1234567890\nghp_abcdefghijklmnopqrstuvwxyz012345\n\
                    slack xoxb-1234567890-abcdef\npassword: hunter2hunter2\nurl postgres://user:pw123@db/x\n\
                    blob Zx8Qp2Lm9Vt4Rk7Wn1Yc5Hb3Jd6Fg0Sa2Qe8Tu\n";
        let r = redact(text);
        for secret in
            ["AKIAABCDEFGHIJKLMNOP", "sk-live-abcdef", "ghp_abcdef", "xoxb-1234", "hunter2", "pw123", "Zx8Qp2Lm9"]
        {
            assert!(!r.contains(secret), "{secret} leaked: {r}");
        }
        assert!(r.contains("password: [REDACTED]"));
        assert_eq!(
            redact("gunicorn app.wsgi:application --bind 0.0.0.0:$PORT"),
            "gunicorn app.wsgi:application --bind 0.0.0.0:$PORT"
        );
    }

    #[test]
    fn secret_files_are_never_read() {
        for p in [".env", "config/.env.production", "certs/server.pem", "deploy/id_rsa", "aws/credentials", "x.key"] {
            assert!(is_secret_path(p), "{p}");
        }
        assert!(!is_secret_path("app.py"));
        let v = RepoView::from_memory([(".env", "SECRET=1"), ("app.py", "print(1)")]);
        assert!(safe_read(&v, ".env", 100).is_err());
        let (ctx, files) = build(&v, 3000);
        assert!(!ctx.contains(".env") && !ctx.contains("SECRET"), "{ctx}");
        assert_eq!(files, vec!["app.py"]);
    }

    #[test]
    fn stays_within_budget() {
        let big = "x = 1\n".repeat(5000);
        let v = RepoView::from_memory([
            ("app.py", big.as_str()),
            ("requirements.txt", "flask\n"),
            ("README.md", big.as_str()),
        ]);
        let (ctx, _) = build(&v, 500);
        assert!(count_tokens(&ctx) <= 500, "{}", count_tokens(&ctx));
    }
}
