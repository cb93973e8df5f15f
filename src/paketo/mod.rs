//! What the Paketo builder really offers, and the plan held against it: runtime versions the
//! buildpacks can install, the builder's order, the package managers of the nodejs composite.
//!
//! The data is a table generated from the reference copies in ../shared/paketo
//! (`scripts/gen-paketo.py`), compiled in so that a plan never depends on the network. The
//! plan keeps the version the repository asks for (`language.version`, `version_source`); this
//! module decides what the build passes: a line the buildpack resolves (`3.12.*`), nothing when
//! the buildpack reads the file itself and can satisfy it, or the nearest offered line with a
//! `runtime_unavailable` warning when it cannot.

#[rustfmt::skip]
mod table;

pub use table::{BUILDER, BUILDER_ORDER, BUILDER_SOURCE, NODE_PACKAGE_MANAGERS, RUNTIMES};

use crate::plan::{LanguageName, Plan, Strategy, Warning, WarningCode};
use crate::view::RepoView;

/// One dependency buildpack's runtime: what it offers on the jammy stack and how it is asked.
#[derive(Debug, Clone, Copy)]
pub struct Runtime {
    pub language: LanguageName,
    pub buildpack: &'static str,
    /// Commit and date of the buildpack.toml the versions come from.
    pub source: &'static str,
    /// The build-time variable that selects the version.
    pub variable: &'static str,
    /// Components that make a line: 2 for `3.12`, 1 for Node's `20` and Java's `17`.
    pub granularity: usize,
    pub versions: &'static [&'static str],
    /// Version files (names or suffixes) the buildpacks read themselves.
    pub reads: &'static [&'static str],
}

/// The Paketo Rust composite is not in builder-jammy-full: pack pulls it as this image.
pub const RUST_BUILDPACK: &str = "docker.io/paketocommunity/rust";
/// Sets image labels from `BP_IMAGE_LABELS` (what Kamal's own pack builder adds).
pub const IMAGE_LABELS_BUILDPACK: &str = "paketo-buildpacks/image-labels";

pub fn runtime(language: LanguageName) -> Option<&'static Runtime> {
    RUNTIMES.iter().find(|r| r.language == language)
}

type Version = Vec<u64>;

fn parse_version(s: &str) -> Option<Version> {
    let parts: Vec<u64> = s
        .split('.')
        .take_while(|p| !matches!(*p, "x" | "X" | "*" | ""))
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()?;
    (!parts.is_empty()).then_some(parts)
}

fn cmp_padded(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).copied().unwrap_or(0).cmp(&b.get(i).copied().unwrap_or(0)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

fn prefix(v: &[u64], p: &[u64]) -> bool {
    p.len() <= v.len() && v[..p.len()] == *p
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Exact,
    Ge,
    Gt,
    Le,
    Lt,
    Caret,
    Tilde,
    Pessimistic,
}

/// One comparator of a constraint, e.g. `>=3.9` or `~> 3.2`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn matches(&self, v: &[u64]) -> bool {
        use std::cmp::Ordering::*;
        let p = &self.version;
        match self.op {
            Op::Exact => prefix(v, p),
            Op::Ge => cmp_padded(v, p) != Less,
            Op::Gt => cmp_padded(v, p) == Greater && !prefix(v, p),
            Op::Le => cmp_padded(v, p) != Greater || prefix(v, p),
            Op::Lt => cmp_padded(v, p) == Less,
            Op::Caret => {
                let lead = p.iter().position(|&c| c != 0).unwrap_or(p.len().saturating_sub(1));
                prefix(v, &p[..=lead.min(p.len() - 1)]) && cmp_padded(v, p) != Less
            }
            Op::Tilde => prefix(v, &p[..p.len().min(2)]) && cmp_padded(v, p) != Less,
            Op::Pessimistic => prefix(v, &p[..(p.len() - 1).max(1)]) && cmp_padded(v, p) != Less,
        }
    }
}

/// A constraint as repositories write them: alternatives (`||`) of comparators (space or
/// comma separated). `None` when it holds nothing version-like (`lts/*`, `latest`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Constraint(Vec<Vec<Comparator>>);

impl Constraint {
    fn parse(raw: &str, language: LanguageName, source: Option<&str>) -> Option<Constraint> {
        let mut text = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim().to_ascii_lowercase();
        for p in ["python-", "python", "ruby-", "go", "net", "v"] {
            if let Some(rest) = text.strip_prefix(p) {
                if rest.starts_with(|c: char| c.is_ascii_digit()) {
                    text = rest.to_string();
                }
            }
        }
        let mut alternatives = Vec::new();
        for alt in text.split("||") {
            let mut comps = Vec::new();
            let normalized = alt.replace(',', " ");
            let mut words = normalized.split_whitespace().peekable();
            while let Some(word) = words.next() {
                let (op, rest) = split_op(word);
                // `>= 18`, `~> 3.2`: the operator stands alone.
                let rest = if rest.is_empty() { words.next().unwrap_or("") } else { rest };
                let rest = rest.trim_start_matches('v');
                let Some(mut version) = parse_version(rest) else { continue };
                if language == LanguageName::Java && version.len() >= 2 && version[0] == 1 {
                    version.remove(0); // 1.8 is Java 8
                }
                let op = match op {
                    // The go directive is a minimum, not a line.
                    Op::Exact if language == LanguageName::Go && source.is_some_and(|s| s.ends_with("go.mod")) => {
                        Op::Ge
                    }
                    other => other,
                };
                comps.push(Comparator { op, version });
            }
            if !comps.is_empty() {
                alternatives.push(comps);
            }
        }
        (!alternatives.is_empty()).then_some(Constraint(alternatives))
    }

    fn matches(&self, v: &[u64]) -> bool {
        self.0.iter().any(|all| all.iter().all(|c| c.matches(v)))
    }

    /// The first version the constraint names: what "nearest" is measured from.
    fn anchor(&self) -> Option<&Version> {
        self.0.first().and_then(|c| c.first()).map(|c| &c.version)
    }

    fn is_minimum(&self) -> bool {
        self.0.iter().all(|all| all.iter().all(|c| matches!(c.op, Op::Ge | Op::Gt)))
    }
}

fn split_op(word: &str) -> (Op, &str) {
    for (text, op) in [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("~>", Op::Pessimistic),
        ("==", Op::Exact),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("^", Op::Caret),
        ("~=", Op::Pessimistic),
        ("~", Op::Tilde),
        ("=", Op::Exact),
    ] {
        if let Some(rest) = word.strip_prefix(text) {
            return (op, rest);
        }
    }
    (Op::Exact, word)
}

/// An offered line (`3.12`) with its versions.
#[derive(Debug, Clone)]
pub struct Line {
    pub line: Version,
    versions: Vec<Version>,
}

impl Line {
    pub fn name(&self) -> String {
        self.line.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
    }
}

impl Runtime {
    /// The offered lines, oldest first.
    pub fn lines(&self) -> Vec<Line> {
        let mut out: Vec<Line> = Vec::new();
        for v in self.versions.iter().filter_map(|v| parse_version(v)) {
            let line: Version = v.iter().copied().take(self.granularity).collect();
            match out.iter_mut().find(|l| l.line == line) {
                Some(l) => l.versions.push(v),
                None => out.push(Line { line, versions: vec![v] }),
            }
        }
        out.sort_by(|a, b| cmp_padded(&a.line, &b.line));
        out
    }

    /// The value for [`Runtime::variable`] that selects `line`, in the buildpack's syntax.
    pub fn value(&self, line: &Line) -> String {
        if self.language == LanguageName::Java {
            line.name() // BP_JVM_VERSION takes a major
        } else {
            format!("{}.*", line.name())
        }
    }

    /// True when one of the buildpacks reads `source` itself.
    fn reads(&self, source: &str) -> bool {
        let name = source.rsplit('/').next().unwrap_or(source);
        self.reads.iter().any(|r| name == *r || (r.starts_with('.') && name.ends_with(r)))
    }

    /// True when some offered version satisfies `value` (a rendered constraint).
    pub fn offers(&self, value: &str) -> bool {
        let Some(c) = Constraint::parse(value.trim_end_matches(".*"), self.language, None) else { return false };
        self.versions.iter().filter_map(|v| parse_version(v)).any(|v| c.matches(&v))
    }
}

/// What the build passes for a requested runtime version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The buildpack reads the version file itself and offers a matching line.
    ReadsItself { line: String },
    /// Pass `variable=value`.
    Pass { variable: &'static str, value: String },
    /// No offered line matches: pass the nearest one, and warn.
    Unavailable { variable: &'static str, value: String, nearest: String },
}

/// Decides what a build passes for `requested` (from `source`), or None when nothing can be
/// made of it (the buildpack's default applies).
pub fn decide(language: LanguageName, requested: &str, source: Option<&str>) -> Option<Decision> {
    let rt = runtime(language)?;
    let exact = Constraint::parse(requested, language, source)?;
    // The buildpack reads the file as written, where `3.3.0` means exactly 3.3.0: only a
    // request some offered version satisfies as written can be left to it.
    let as_written = rt.versions.iter().filter_map(|v| parse_version(v)).any(|v| exact.matches(&v));
    // An exact version (runtime.txt's `3.10.13`) asks for its line: Paketo ships only the
    // latest patches, and a patch pin would never resolve.
    let mut constraint = exact.clone();
    for alt in &mut constraint.0 {
        for c in alt.iter_mut() {
            if c.op == Op::Exact {
                c.version.truncate(rt.granularity);
            }
        }
    }
    let lines = rt.lines();
    let matching: Vec<&Line> = lines.iter().filter(|l| l.versions.iter().any(|v| constraint.matches(v))).collect();
    let pick = if constraint.is_minimum() { matching.first() } else { matching.last() };
    match pick {
        Some(line) if as_written && source.is_some_and(|s| rt.reads(s)) && !constraint.is_minimum() => {
            Some(Decision::ReadsItself { line: line.name() })
        }
        Some(line) => Some(Decision::Pass { variable: rt.variable, value: rt.value(line) }),
        None => {
            let anchor = constraint.anchor()?;
            let nearest =
                lines.iter().find(|l| cmp_padded(&l.line, anchor) == std::cmp::Ordering::Greater).or(lines.last())?;
            Some(Decision::Unavailable { variable: rt.variable, value: rt.value(nearest), nearest: nearest.name() })
        }
    }
}

/// Holds the plan against the builder and the buildpacks: fills `build.env` (the version,
/// `BP_NODE_PROJECT_PATH`, `BP_PHP_WEB_DIR`), `build.extra_buildpacks` and `build.context`,
/// and returns the warnings. `view` is the app's directory.
pub fn apply(plan: &mut Plan, view: &RepoView) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if plan.strategy != Strategy::Buildpacks {
        return warnings;
    }
    let Some(lang) = plan.language.clone() else { return warnings };
    let Some(group) = plan.buildpack.as_ref().map(|b| b.group.clone()) else { return warnings };
    let bp = &mut plan.build;
    if !BUILDER_ORDER.contains(&group.as_str()) && lang.name == LanguageName::Rust {
        bp.extra_buildpacks = vec![RUST_BUILDPACK.to_string()];
    }
    if let Some(requested) = lang.version.as_deref() {
        match decide(lang.name, requested, lang.version_source.as_deref()) {
            Some(Decision::ReadsItself { .. }) | None => {}
            Some(Decision::Pass { variable, value }) => {
                bp.env.insert(variable.to_string(), value);
            }
            Some(Decision::Unavailable { variable, value, nearest }) => {
                let from = lang.version_source.clone();
                warnings.push(Warning {
                    code: WarningCode::RuntimeUnavailable,
                    message: format!(
                        "{} {requested} is not offered by {} on the jammy stack (offered: {}); the build uses the nearest line, {nearest} ({variable}={value})",
                        lang.name,
                        runtime(lang.name).map(|r| r.buildpack).unwrap_or("the buildpack"),
                        runtime(lang.name).map(|r| r.lines().iter().map(Line::name).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
                    ),
                    file: from,
                    line: None,
                });
                bp.env.insert(variable.to_string(), value);
            }
        }
    }
    match lang.name {
        LanguageName::Nodejs => node(plan, view, &mut warnings),
        LanguageName::Php if lang.framework.as_deref() == Some("laravel") => {
            // Laravel serves from public/, the PHP buildpack from htdocs/ by default.
            plan.build.env.insert("BP_PHP_WEB_DIR".into(), "public".into());
        }
        _ => {}
    }
    warnings
}

/// pnpm is not installed by the nodejs composite; a workspace member builds from the
/// workspace root, where its lockfile is, with `BP_NODE_PROJECT_PATH`.
fn node(plan: &mut Plan, view: &RepoView, warnings: &mut Vec<Warning>) {
    let pkg: serde_json::Value =
        view.text("package.json").and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let manager = crate::cascade::node::package_manager(view, &pkg);
    let runs_pnpm = plan.processes.iter().any(|p| p.command.split_whitespace().next() == Some("pnpm"));
    if !NODE_PACKAGE_MANAGERS.contains(&manager) || runs_pnpm {
        warnings.push(Warning {
            code: WarningCode::PackageManagerUnsupported,
            message: format!(
                "the app uses pnpm, which Paketo's nodejs buildpack does not install (it supports {}): add a package-lock.json (npm install) or a Dockerfile",
                NODE_PACKAGE_MANAGERS.join(" and ")
            ),
            file: Some(view.repo_path("package.json")),
            line: None,
        });
    }
    let own_lock = ["package-lock.json", "yarn.lock", "pnpm-lock.yaml"].iter().any(|f| view.is_file(f));
    if own_lock || view.subdir().is_empty() {
        return;
    }
    let root = view.ancestors().into_iter().skip(1).find(|d| {
        ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "pnpm-workspace.yaml"].iter().any(|f| d.is_file(f))
    });
    if let Some(root) = root {
        let bp = &mut plan.build;
        let project = view.subdir().strip_prefix(root.subdir()).unwrap_or(view.subdir()).trim_matches('/').to_string();
        bp.context = Some(if root.subdir().is_empty() { ".".to_string() } else { root.subdir().to_string() });
        bp.env.insert("BP_NODE_PROJECT_PATH".into(), project);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(l: LanguageName, v: &str, src: &str) -> Option<Decision> {
        decide(l, v, Some(src))
    }

    #[test]
    fn exact_patches_ask_for_their_line() {
        assert_eq!(
            pass(LanguageName::Python, "3.10.13", "runtime.txt"),
            Some(Decision::Pass { variable: "BP_CPYTHON_VERSION", value: "3.10.*".into() })
        );
        assert_eq!(
            pass(LanguageName::Python, "python-3.12.0", "runtime.txt"),
            Some(Decision::Pass { variable: "BP_CPYTHON_VERSION", value: "3.12.*".into() })
        );
    }

    #[test]
    fn lines_not_offered_name_the_nearest() {
        assert_eq!(
            pass(LanguageName::Python, "3.7.3", "runtime.txt"),
            Some(Decision::Unavailable {
                variable: "BP_CPYTHON_VERSION",
                value: "3.10.*".into(),
                nearest: "3.10".into()
            })
        );
        assert_eq!(
            pass(LanguageName::Ruby, "3.1.2", ".ruby-version"),
            Some(Decision::Unavailable { variable: "BP_MRI_VERSION", value: "3.3.*".into(), nearest: "3.3".into() })
        );
        assert!(
            matches!(pass(LanguageName::Nodejs, "0.10.x", "package.json"), Some(Decision::Unavailable { nearest, .. }) if nearest == "18")
        );
        assert!(
            matches!(pass(LanguageName::Python, "3.99", "runtime.txt"), Some(Decision::Unavailable { nearest, .. }) if nearest == "3.14")
        );
    }

    #[test]
    fn a_patch_the_buildpack_would_read_exactly_is_passed_as_its_line() {
        assert_eq!(
            pass(LanguageName::Ruby, "3.3.0", ".ruby-version"),
            Some(Decision::Pass { variable: "BP_MRI_VERSION", value: "3.3.*".into() })
        );
        assert_eq!(pass(LanguageName::Nodejs, "20", ".nvmrc"), Some(Decision::ReadsItself { line: "20".into() }));
        assert_eq!(
            pass(LanguageName::Nodejs, "20.11.1", ".nvmrc"),
            Some(Decision::Pass { variable: "BP_NODE_VERSION", value: "20.*".into() })
        );
    }

    #[test]
    fn go_directive_is_a_minimum() {
        assert_eq!(
            pass(LanguageName::Go, "1.21", "go.mod"),
            Some(Decision::Pass { variable: "BP_GO_VERSION", value: "1.25.*".into() })
        );
    }

    #[test]
    fn files_the_buildpack_reads_are_left_to_it() {
        assert_eq!(
            pass(LanguageName::Nodejs, ">=18 <21", "package.json"),
            Some(Decision::ReadsItself { line: "20".into() })
        );
        assert_eq!(
            pass(LanguageName::Php, "^8.1", "composer.json"),
            Some(Decision::ReadsItself { line: "8.5".into() })
        );
        assert_eq!(
            pass(LanguageName::Dotnet, "8.0", "WebApi.csproj"),
            Some(Decision::ReadsItself { line: "8.0".into() })
        );
        assert_eq!(
            pass(LanguageName::Python, "^3.11", "pyproject.toml"),
            Some(Decision::Pass { variable: "BP_CPYTHON_VERSION", value: "3.14.*".into() })
        );
    }

    #[test]
    fn java_takes_a_major() {
        assert_eq!(
            pass(LanguageName::Java, "1.8", "pom.xml"),
            Some(Decision::Pass { variable: "BP_JVM_VERSION", value: "8".into() })
        );
        assert!(
            matches!(pass(LanguageName::Java, "10", "system.properties"), Some(Decision::Unavailable { nearest, .. }) if nearest == "11")
        );
    }

    #[test]
    fn offered_values() {
        let py = runtime(LanguageName::Python).expect("python");
        assert!(py.offers("3.12.*"));
        assert!(!py.offers("3.9.*"));
        assert!(runtime(LanguageName::Java).expect("java").offers("17"));
        assert_eq!(decide(LanguageName::Nodejs, "lts/*", Some(".nvmrc")), None);
    }
}
