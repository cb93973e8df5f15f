//! The indicator cascade: pure rules over a [`RepoView`].
//!
//! Order (DESIGN.md): root Dockerfile -> language indicators -> Procfile -> builder -> start
//! commands. Each ecosystem lives in its own file behind [`Ecosystem`]: `detect` says whether
//! its indicators are present and how strongly, `analyze` reads version, framework and start
//! commands once it is the app's primary language.
//!
//! Why rules are pure: a rule reads only the view (no fs, env, clock or network), so the same
//! tree always gives the same findings, rules run on in-memory trees in tests, and the LLM
//! resolver can be handed exactly the questions the rules left open.
//!
//! How ties are settled ([`choose_primary`]): the strongest detection wins; between equally
//! strong ones, the language whose programs the repository's own start command uses (Procfile,
//! deploy spec, Dockerfile CMD) wins; a tie that remains is an open question, and the plan
//! carries the first in a fixed order so it is still deterministic.

pub mod bounds;
pub mod deploy;
pub mod dockerfile;
pub mod dotnet;
pub mod go;
pub mod jvm;
pub mod monorepo;
pub mod node;
pub mod other;
pub mod php;
pub mod procfile;
pub mod python;
pub mod ruby;
pub mod rust;
pub mod stated;

use crate::command;
use crate::plan::{Evidence, LanguageName, Question, QuestionCode, Warning, WarningCode};
use crate::view::{ReadError, RepoView};

/// How sure a detection is that the language is the app's, not a helper's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Present but probably secondary (a package.json with no dependencies or start script).
    Weak,
    /// A manifest.
    Normal,
    /// A manifest plus a runnable app (server dependency, entry point, binary target).
    Strong,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub language: LanguageName,
    pub strength: Strength,
    pub evidence: Vec<Evidence>,
}

/// A start command a rule proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub kind: String,
    pub command: String,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

impl Candidate {
    pub fn new(kind: &str, command: impl Into<String>, confidence: f32, evidence: Vec<Evidence>) -> Self {
        Candidate { kind: kind.to_string(), command: command.into(), confidence, evidence }
    }
}

/// What an ecosystem found about an app whose primary language it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// (version, file it came from)
    pub version: Option<(String, String)>,
    pub framework: Option<String>,
    pub processes: Vec<Candidate>,
    pub warnings: Vec<Warning>,
    pub questions: Vec<Question>,
    /// Extra evidence for the language (files read while analyzing).
    pub evidence: Vec<Evidence>,
    /// Set when the language needs no start command (a static site served by the buildpack).
    pub serves_itself: bool,
}

/// One language's rules. Adding a language means adding a file that implements this.
pub trait Ecosystem: Sync {
    fn language(&self) -> LanguageName;
    /// The indicators at the view's root, or None when the language is absent.
    fn detect(&self, view: &RepoView) -> Option<Detection>;
    /// Version, framework, start commands. Called only for the primary language.
    fn analyze(&self, view: &RepoView) -> Analysis;
    /// Programs a start command of this language may run without the file being in the repo.
    fn programs(&self) -> &'static [&'static str];
    /// What a model's or README's command in this language may run (`crate::admit`): its
    /// servers, runners and interpreters with their known options. The default admits none.
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::NONE
    }
}

/// Every ecosystem, in the fixed order that breaks real ties.
pub fn ecosystems() -> &'static [&'static dyn Ecosystem] {
    &[
        &python::Python,
        &node::Node,
        &ruby::Ruby,
        &go::Go,
        &rust::Rust,
        &jvm::Jvm,
        &php::Php,
        &dotnet::Dotnet,
        &other::Elixir,
        &other::Deno,
        &other::Static,
    ]
}

pub fn ecosystem(name: LanguageName) -> Option<&'static dyn Ecosystem> {
    ecosystems().iter().copied().find(|e| e.language() == name)
}

/// Every detection at the view's root.
pub fn detect_all(view: &RepoView) -> Vec<Detection> {
    let mut found: Vec<Detection> = ecosystems().iter().filter_map(|e| e.detect(view)).collect();
    // A static site is only static when nothing else claims the directory.
    if found.iter().any(|d| d.language != LanguageName::Static) {
        found.retain(|d| d.language != LanguageName::Static);
    }
    found
}

/// The outcome of [`choose_primary`].
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub primary: Option<Detection>,
    pub secondary: Vec<Detection>,
    /// Set when equally strong languages could not be told apart.
    pub tie: Option<Question>,
}

/// Picks the primary language. `stated_programs` are the programs of the repository's own
/// start commands (Procfile, deploy spec, Dockerfile CMD), used only to break ties.
pub fn choose_primary(mut found: Vec<Detection>, stated_programs: &[String]) -> Choice {
    if found.is_empty() {
        return Choice { primary: None, secondary: Vec::new(), tie: None };
    }
    let order = |l: LanguageName| ecosystems().iter().position(|e| e.language() == l).unwrap_or(usize::MAX);
    found.sort_by_key(|d| (std::cmp::Reverse(d.strength), order(d.language)));
    let top = found[0].strength;
    let tied: Vec<LanguageName> = found.iter().take_while(|d| d.strength == top).map(|d| d.language).collect();
    let mut tie = None;
    if tied.len() > 1 {
        let fits = |l: LanguageName| {
            ecosystem(l).is_some_and(|e| stated_programs.iter().any(|p| e.programs().contains(&p.as_str())))
        };
        let fitting: Vec<LanguageName> = tied.iter().copied().filter(|l| fits(*l)).collect();
        if fitting.len() == 1 {
            let i = found.iter().position(|d| d.language == fitting[0]).unwrap_or(0);
            let d = found.remove(i);
            found.insert(0, d);
        } else {
            let names: Vec<&str> = tied.iter().map(|l| l.as_str()).collect();
            tie = Some(Question {
                code: QuestionCode::LanguageTie,
                detail: format!(
                    "equally strong indicators for {}; the plan assumes {} until someone decides",
                    names.join(" and "),
                    names[0]
                ),
            });
        }
    }
    let primary = found.remove(0);
    Choice { primary: Some(primary), secondary: found, tie }
}

/// Programs of a command line, for tie-breaking and validation.
pub fn programs_of(cmd: &str) -> Vec<String> {
    command::segment_keys(cmd).into_iter().map(|k| k.program).collect()
}

// ---- helpers the ecosystems share -------------------------------------------------------

/// A warning for a manifest that exists but cannot be used.
pub fn manifest_warning(view: &RepoView, file: &str, err: &ReadError) -> Warning {
    let code = match err {
        ReadError::Binary | ReadError::NotUtf8 => WarningCode::ManifestBinary,
        ReadError::TooLarge { .. } => WarningCode::FileTooLarge,
        ReadError::SymlinkEscape { .. } => WarningCode::SymlinkEscape,
        _ => WarningCode::ManifestMalformed,
    };
    Warning { code, message: format!("{file} not read: {err}"), file: Some(view.repo_path(file)), line: None }
}

/// Text of a manifest. Absent, or a link out of the repository (the listing already reported
/// it): Ok(None). Unreadable: a warning.
pub fn read_manifest(view: &RepoView, file: &str) -> Result<Option<String>, Warning> {
    if !view.is_file(file) {
        return Ok(None);
    }
    match view.read_text(file) {
        Ok(t) => Ok(Some(t)),
        Err(ReadError::SymlinkEscape { .. }) => Ok(None),
        Err(e) => Err(manifest_warning(view, file, &e)),
    }
}

fn malformed(view: &RepoView, file: &str, what: &str, detail: String, line: Option<u32>) -> Warning {
    Warning {
        code: WarningCode::ManifestMalformed,
        message: format!("{file} is not valid {what}: {detail}"),
        file: Some(view.repo_path(file)),
        line,
    }
}

/// [`read_manifest`] for a structured reader: text nested past [`bounds::MAX_NESTING`] is a
/// warning and never reaches the parser.
fn read_structured(view: &RepoView, file: &str, what: &str) -> Result<Option<String>, Warning> {
    let Some(text) = read_manifest(view, file)? else { return Ok(None) };
    let depth = bounds::nesting_depth(&text);
    if depth > bounds::MAX_NESTING {
        return Err(malformed(
            view,
            file,
            what,
            format!("nested {depth} levels deep, over the limit of {}; not parsed", bounds::MAX_NESTING),
            None,
        ));
    }
    Ok(Some(text))
}

/// Reads and parses a JSON manifest. Absent: Ok(None). Unreadable or malformed: a warning.
pub fn read_json(view: &RepoView, file: &str) -> Result<Option<serde_json::Value>, Warning> {
    let Some(text) = read_structured(view, file, "JSON")? else { return Ok(None) };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| malformed(view, file, "JSON", e.to_string(), u32::try_from(e.line()).ok()))
}

/// Reads and parses a TOML manifest, like [`read_json`].
pub fn read_toml(view: &RepoView, file: &str) -> Result<Option<toml::Value>, Warning> {
    let Some(text) = read_structured(view, file, "TOML")? else { return Ok(None) };
    text.parse::<toml::Table>()
        .map(|t| Some(toml::Value::Table(t)))
        .map_err(|e| malformed(view, file, "TOML", e.message().to_string(), None))
}

/// Reads and parses a YAML manifest (render.yaml, pnpm-workspace.yaml), like [`read_json`].
pub fn read_yaml(view: &RepoView, file: &str) -> Result<Option<serde_norway::Value>, Warning> {
    let Some(text) = read_structured(view, file, "YAML")? else { return Ok(None) };
    serde_norway::from_str(&text).map(Some).map_err(|e| malformed(view, file, "YAML", e.to_string(), None))
}

/// First line of a small version file (`.python-version`, `.nvmrc`, ...), trimmed.
pub fn version_file(view: &RepoView, file: &str) -> Option<(String, String)> {
    let text = view.text(file)?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'))?;
    if line.len() > 64 {
        return None;
    }
    Some((line.to_string(), view.repo_path(file)))
}

/// True for a name that can be a binary or module name without quoting in a shell.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/+@".contains(&b))
        && !s.starts_with('-')
}

/// Source files (by extension) at most `depth` deep, skipping tests and examples; capped so
/// a huge tree cannot make a rule slow.
pub fn source_files(view: &RepoView, ext: &str, depth: usize, cap: usize) -> Vec<String> {
    view.files()
        .filter(|p| p.ends_with(ext) && p.matches('/').count() <= depth)
        .filter(|p| {
            !p.split('/').any(|c| {
                matches!(
                    c,
                    "test"
                        | "tests"
                        | "spec"
                        | "examples"
                        | "example"
                        | "docs"
                        | "vendor"
                        | "migrations"
                        | "node_modules"
                )
            })
        })
        .take(cap)
        .map(str::to_string)
        .collect()
}
