//! Bounds on the structured readers (JSON, TOML, YAML) before a parser sees the text.
//!
//! Why a pre-pass: the parsers' cost grows faster than linearly with nesting (a render.yaml of
//! 20,000 nested flow sequences took seconds of CPU), and their own recursion limits differ or
//! are absent. One linear scan estimates the nesting, and a manifest nested deeper than any
//! real one is refused with a warning before it is parsed. Size is bounded by the view's read
//! limit, so with the depth bounded every parse is linear in at most that many bytes.

/// Nesting beyond which a manifest is not parsed: real manifests stay under 20.
pub const MAX_NESTING: usize = 64;

/// An upper estimate of the nesting of JSON, TOML or YAML text: flow brackets (`[`, `{`)
/// outside quoted strings, plus YAML block levels (indentation steps and `- ` items).
///
/// It never underestimates a structure the parsers would build, which is what the bound
/// needs; quotes are reset at each line end, so an unbalanced quote cannot hide brackets
/// on later lines.
pub fn nesting_depth(text: &str) -> usize {
    let mut max = 0usize;
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if flow == 0 {
            let mut indent = line.len() - trimmed.len();
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
            let mut rest = trimmed;
            while let Some(r) = rest.strip_prefix('-').filter(|r| r.starts_with([' ', '\t'])) {
                let r2 = r.trim_start_matches([' ', '\t']);
                indent += rest.len() - r2.len();
                indents.push(indent);
                rest = r2;
            }
        }
        let mut quote: Option<u8> = None;
        let mut escaped = false;
        for b in line.bytes() {
            match quote {
                Some(q) => {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' && q == b'"' {
                        escaped = true;
                    } else if b == q {
                        quote = None;
                    }
                }
                None => match b {
                    b'"' | b'\'' => quote = Some(b),
                    b'#' => break,
                    b'[' | b'{' => {
                        flow += 1;
                        max = max.max(flow + indents.len());
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
        }
        max = max.max(flow + indents.len());
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_flow_and_block_levels() {
        // The line itself is one block level, plus three flow levels.
        assert_eq!(nesting_depth("{\"a\": {\"b\": [1, 2]}}"), 4);
        assert_eq!(nesting_depth("a:\n  b:\n    c: 1\nd: 2\n"), 3);
        assert_eq!(nesting_depth("- - - x\n"), 4);
        assert_eq!(nesting_depth("a: \"[[[[\"\n"), 1);
        let deep = format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        assert!(nesting_depth(&deep) > MAX_NESTING);
    }

    #[test]
    fn real_manifests_are_shallow() {
        let pkg = r#"{"name": "x", "scripts": {"start": "node server.js"}, "engines": {"node": ">=18"}}"#;
        assert!(nesting_depth(pkg) < 10);
        let toml = "[project]\nname = \"x\"\ndependencies = [\"flask>=2\", \"gunicorn\"]\n[tool.poetry.scripts]\nx = \"a:b\"\n";
        assert!(nesting_depth(toml) < 10);
    }
}
