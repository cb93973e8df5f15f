//! Admission: the only way a start command enters a plan ([`SafeCommand::admit`]).
//!
//! Why a grammar and not a deny-list: a command from the model or from README text is written
//! by whoever controls the repository's prose, so "nothing we know to be bad" is not enough.
//! Such commands must parse as a known program of the app's language with options from that
//! program's known set, or an interpreter running a script or module that exists in the app
//! ([`grammar`], tables per language in [`tables`]). Anything else is refused, and the refusal
//! names the rule that refused.
//!
//! Commands the repository states itself (Procfile, deploy spec, Dockerfile, compose, scripts,
//! Makefile) are the owner's decision: never rewritten, never refused; what the deny-list
//! validator finds becomes concerns (warnings, `needs_review`). The rules' own inferred commands
//! keep the validator's treatment too: a rule command it calls unsafe is refused.

pub mod grammar;
pub mod scripts;
pub mod tables;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::{LanguageName, ProcessSource, WarningCode};
use crate::validate::{self, Problem};
use crate::view::RepoView;

/// The app a command is admitted into.
#[derive(Debug, Clone, Copy)]
pub struct App<'a> {
    /// The app's own directory.
    pub view: &'a RepoView,
    pub language: Option<LanguageName>,
    /// The process type (`web`, `worker`, ...): a web command must take `$PORT`.
    pub kind: &'a str,
    /// Built from a Dockerfile: paths need not exist in the source tree.
    pub dockerfile: bool,
}

/// Which rule refused a command. Stable names (they appear in plans' warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Empty,
    TooLong,
    /// Control characters, newlines, non-ASCII (homoglyphs).
    Characters,
    /// Operators, quotes, substitutions, redirections, globs, comments.
    ShellSyntax,
    /// A variable other than `$PORT`.
    Variable,
    /// An environment assignment outside the allow-list (`LD_PRELOAD=`, `NODE_OPTIONS=`, ...).
    Environment,
    /// A package runner that fetches (`npx`, `uvx`, `bunx`, `pnpm dlx`, `pipx run`, `go run x@v`).
    FetchingRunner,
    /// Inline code or code-loading options (`-c`, `-e`, `-r`, `--eval`, `--require`, `-I`, ...).
    InlineCode,
    /// An absolute path or `..` out of the app.
    PathEscape,
    /// A program that is not a known program of the app's language.
    UnknownProgram,
    /// An option outside the program's known set.
    UnknownOption,
    /// A script, module or package script the command names is not in the app.
    MissingFile,
    /// A web command that binds a literal port instead of `$PORT`.
    HardcodedPort,
    /// The deny-list validator found it unsafe (the rules' own commands).
    Unsafe,
}

/// Why a command was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule:?}: {detail}")]
pub struct Refusal {
    pub rule: Rule,
    pub detail: String,
}

impl Refusal {
    pub fn new(rule: Rule, detail: impl Into<String>) -> Self {
        Refusal { rule, detail: detail.into() }
    }
}

/// A start command that passed admission. The only type a plan's process holds: private
/// fields, one constructor. Equal when the text is: concerns are not part of the contract.
#[derive(Debug, Clone)]
pub struct SafeCommand {
    text: String,
    /// What the deny-list validator said about a repository-stated command (or the scripts it
    /// runs). Not serialized: the plan carries them as warnings.
    concerns: Vec<Problem>,
}

impl SafeCommand {
    /// Admits `text` as stated by `origin` into `app`.
    pub fn admit(text: &str, origin: ProcessSource, app: &App<'_>) -> Result<SafeCommand, Refusal> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Refusal::new(Rule::Empty, "empty command"));
        }
        let mut concerns = Vec::new();
        if origin.is_untrusted() {
            grammar::admit(text, app)?;
        } else {
            concerns = validate::check(text, app.kind, app.language, app.view);
            if app.dockerfile {
                // The command runs inside the built image, where paths need not exist in the repo.
                concerns.retain(|x| x.code != WarningCode::UnknownProgram);
            }
            if origin == ProcessSource::Rule {
                if let Some(p) = concerns.iter().find(|p| p.code == WarningCode::UnsafeCommand) {
                    return Err(Refusal::new(Rule::Unsafe, p.reason.clone()));
                }
            }
        }
        // The scripts the command runs are the repository's own text: checked like a stated
        // command whoever proposed running them.
        // Scripts run under a shell by design, so chaining there is normal: each simple
        // command is checked for what fetches, escalates, deletes or substitutes.
        for (label, script) in scripts::behind(text, app.view) {
            for segment in crate::command::segments(&script) {
                let simple = segment.join(" ");
                for p in validate::check(&simple, "script", app.language, app.view) {
                    let reason = format!("{label} `{script}`: {}", p.reason);
                    if p.code == WarningCode::UnsafeCommand && !concerns.iter().any(|c: &Problem| c.reason == reason) {
                        concerns.push(Problem { code: p.code, reason });
                    }
                }
            }
        }
        Ok(SafeCommand { text: text.to_string(), concerns })
    }

    /// A command read back from a serialized plan (our own output): it was admitted when the
    /// plan was made.
    fn recorded(text: String) -> SafeCommand {
        SafeCommand { text, concerns: Vec::new() }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn concerns(&self) -> &[Problem] {
        &self.concerns
    }
}

impl PartialEq for SafeCommand {
    fn eq(&self, other: &SafeCommand) -> bool {
        self.text == other.text
    }
}

impl std::ops::Deref for SafeCommand {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for SafeCommand {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for SafeCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<str> for SafeCommand {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for SafeCommand {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for SafeCommand {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl From<SafeCommand> for String {
    fn from(c: SafeCommand) -> String {
        c.text
    }
}

impl Serialize for SafeCommand {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for SafeCommand {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SafeCommand::recorded)
    }
}

impl JsonSchema for SafeCommand {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SafeCommand".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(g)
    }
    fn inline_schema() -> bool {
        true
    }
}

impl PartialEq<SafeCommand> for &str {
    fn eq(&self, other: &SafeCommand) -> bool {
        *self == other.text
    }
}

impl PartialEq<SafeCommand> for String {
    fn eq(&self, other: &SafeCommand) -> bool {
        *self == other.text
    }
}
