//! The build plan: the contract with the build pipeline.
//!
//! Everything the pipeline, the API and the evaluation read is defined in this one file.
//! Field names are stable within a `schema_version`; new fields may be added, none renamed or
//! removed. `repo-scanner schema` prints the JSON Schema derived from these types, so the
//! published schema cannot drift from what is serialized.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::admit::SafeCommand;

/// Bumped only on a breaking change to the contract.
pub const SCHEMA_VERSION: &str = "1";

/// The Cloud Native Buildpacks builder most workloads use.
pub const DEFAULT_BUILDER: &str = "paketobuildpacks/builder-jammy-full";

/// A plan is `ready` only when every process's calibrated confidence reaches this; below it
/// the process goes to the model (when one is configured) or the plan is `needs_review`.
/// Each rule's confidence is its measured precision (eval/calibration.md).
pub const READY_CONFIDENCE: f32 = 0.9;

/// How and what to build and run for one application (or, with `apps`, for a monorepo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: String,
    pub source: Source,
    /// Path of this app inside the repository, `""` for the root.
    pub subdir: String,
    pub strategy: Strategy,
    /// The Dockerfile the image is built from, relative to the repository root.
    pub dockerfile: Option<String>,
    /// The primary language; null when nothing identifies one.
    pub language: Option<Language>,
    /// Other languages present but not primary (e.g. a package.json for a Django app's assets).
    #[serde(default)]
    pub secondary_languages: Vec<SecondaryLanguage>,
    /// Set for the buildpacks strategy only.
    pub buildpack: Option<Buildpack>,
    /// What the build passes beyond the builder: extra buildpacks, `BP_*` variables, the build
    /// context, the port the image listens on (held against Paketo's own data: src/paketo).
    /// Left out when empty.
    #[serde(default, skip_serializing_if = "BuildSettings::is_empty")]
    pub build: BuildSettings,
    /// One entry per process type; each later runs as its own service from the same image.
    pub processes: Vec<Process>,
    pub procfile: ProcfileInfo,
    /// True when the repository holds several deployable apps, listed in `apps`.
    #[serde(default)]
    pub monorepo: bool,
    /// One full plan per app of a monorepo, each with its own `subdir`.
    #[serde(default)]
    pub apps: Vec<Plan>,
    pub status: Status,
    pub open_questions: Vec<Question>,
    pub warnings: Vec<Warning>,
    pub resolution: Resolution,
    /// Commands a model proposed that the validator rejected (after one repair round), kept
    /// for a person to see. They never run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_proposals: Vec<RejectedProposal>,
    /// For a process below [`READY_CONFIDENCE`] that no model settled: the rules' candidates
    /// for its type, best first, with their evidence, for a person to choose from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
}

/// A candidate command the rules considered for a process they are not sure of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alternative {
    #[serde(rename = "type")]
    pub kind: String,
    pub command: String,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

/// A model's proposal the validator refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RejectedProposal {
    #[serde(rename = "type")]
    pub kind: String,
    pub command: String,
    /// The validator's reasons.
    pub reasons: Vec<String>,
    /// The model's own explanation.
    pub rationale: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    pub kind: SourceKind,
    /// The path or URL as given.
    pub location: String,
    /// The ref asked for (branch, tag or sha), if any.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The commit the ref resolved to.
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Dir,
    Git,
    Archive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// `docker build --file <dockerfile>`.
    Dockerfile,
    /// `pack build --builder <builder>`.
    Buildpacks,
    /// No way to build it without help: add a Dockerfile.
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LanguageName {
    Python,
    Nodejs,
    Ruby,
    Go,
    Rust,
    Java,
    Php,
    Dotnet,
    Elixir,
    Deno,
    Static,
}

impl LanguageName {
    pub fn as_str(self) -> &'static str {
        match self {
            LanguageName::Python => "python",
            LanguageName::Nodejs => "nodejs",
            LanguageName::Ruby => "ruby",
            LanguageName::Go => "go",
            LanguageName::Rust => "rust",
            LanguageName::Java => "java",
            LanguageName::Php => "php",
            LanguageName::Dotnet => "dotnet",
            LanguageName::Elixir => "elixir",
            LanguageName::Deno => "deno",
            LanguageName::Static => "static",
        }
    }

    /// The Paketo buildpack group users can actually pull; None where Paketo has none.
    pub fn buildpack_group(self) -> Option<&'static str> {
        match self {
            LanguageName::Python => Some("paketo-buildpacks/python"),
            LanguageName::Nodejs => Some("paketo-buildpacks/nodejs"),
            LanguageName::Ruby => Some("paketo-buildpacks/ruby"),
            LanguageName::Go => Some("paketo-buildpacks/go"),
            // The seed table says paketo-buildpacks/rust, which does not exist.
            LanguageName::Rust => Some("paketo-community/rust"),
            LanguageName::Java => Some("paketo-buildpacks/java"),
            LanguageName::Php => Some("paketo-buildpacks/php"),
            LanguageName::Dotnet => Some("paketo-buildpacks/dotnet-core"),
            LanguageName::Static => Some("paketo-buildpacks/web-servers"),
            LanguageName::Elixir | LanguageName::Deno => None,
        }
    }
}

impl std::fmt::Display for LanguageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Language {
    pub name: LanguageName,
    /// Runtime version constraint as the repository states it (e.g. `3.12`, `>=18`).
    pub version: Option<String>,
    /// Where the version came from.
    pub version_source: Option<String>,
    /// e.g. django, fastapi, express, rails, spring-boot.
    pub framework: Option<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecondaryLanguage {
    pub name: LanguageName,
    pub evidence: Vec<Evidence>,
}

/// A file and the rule that read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    pub file: String,
    pub rule: String,
}

impl Evidence {
    pub fn new(file: impl Into<String>, rule: impl Into<String>) -> Self {
        Evidence { file: file.into(), rule: rule.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Buildpack {
    pub group: String,
    pub builder: String,
}

/// What a build passes beyond the builder and the group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildSettings {
    /// Buildpacks the builder's order lacks, passed as `pack build --buildpack` (Rust).
    #[serde(default)]
    pub extra_buildpacks: Vec<String>,
    /// Build-time variables (`BP_CPYTHON_VERSION=3.12.*`, `BP_NODE_PROJECT_PATH`, ...): a
    /// runtime line the buildpack offers, or nothing where it reads the version file itself.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// The build context relative to the repository root when it is not the app's directory
    /// (a workspace member builds from the workspace root).
    #[serde(default)]
    pub context: Option<String>,
    /// The port the image listens on: a Dockerfile's first EXPOSE; None for buildpacks images
    /// (they listen on `$PORT`).
    #[serde(default)]
    pub port: Option<u16>,
}

impl BuildSettings {
    pub fn is_empty(&self) -> bool {
        *self == BuildSettings::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Process {
    /// Procfile process type: web, worker, beat, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Only an admitted command can be held here ([`SafeCommand::admit`]).
    pub command: SafeCommand,
    pub source: ProcessSource,
    /// 0..1: 1 for a command the repository states, lower for inferred ones.
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

/// Who stated a command. Decides how it is admitted: what the repository states is kept as
/// written (problems are warnings); what README text or a model proposes must pass the
/// allow-list grammar ([`crate::admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessSource {
    Procfile,
    /// render.yaml, .do/app.yaml, fly.toml, railway, nixpacks, app.json.
    DeploySpec,
    Dockerfile,
    /// docker-compose.yml's `command`.
    Compose,
    /// A start script of the repository (package.json scripts, bin/start, start.sh).
    Script,
    /// A Makefile target.
    Makefile,
    /// A language rule's inference.
    Rule,
    /// A code block of the README: prose anyone with commit access (or a PR) controls.
    Readme,
    Llm,
}

impl ProcessSource {
    /// Text whoever controls the repository's prose (or the model reading it) wrote: admitted
    /// only through the strict grammar.
    pub fn is_untrusted(self) -> bool {
        matches!(self, ProcessSource::Readme | ProcessSource::Llm)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcfileInfo {
    /// The Procfile present in the app, relative to the repository root.
    pub path: Option<String>,
    /// The Procfile we suggest when there is none (or when the present one needs a fix).
    pub suggested: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ready,
    NeedsReview,
    Unsupported,
}

/// Something the rules could not decide. Codes are stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Question {
    pub code: QuestionCode,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionCode {
    NoIndicator,
    LanguageTie,
    Monorepo,
    NoWebCommand,
    ConflictingSignals,
}

/// A soft failure or advice. Codes are stable; `file` and `line` point at the cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// `Containerfile`, `dockerfile`: not what `docker build` picks up by default.
    DockerfileVariant,
    /// A Dockerfile without CMD or ENTRYPOINT.
    DockerfileNoCmd,
    ProcfileInvalidLine,
    ProcfileDuplicate,
    ProcfileEmptyCommand,
    /// A Procfile named in another case (procfile, PROCFILE): Heroku ignores it.
    ProcfileVariant,
    /// A web command that binds a literal port instead of `$PORT`.
    HardcodedPort,
    /// The plan was cut to its size limits (processes, command length, warnings, apps).
    PlanCapped,
    /// A command whose program is neither in the repository nor known for the language.
    UnknownProgram,
    /// A command rejected by the validator (unsafe shell, network fetch, ...).
    UnsafeCommand,
    ManifestMalformed,
    /// A manifest that is not text (binary content, invalid UTF-8).
    ManifestBinary,
    FileTooLarge,
    SymlinkEscape,
    NonUtf8Path,
    FileLimit,
    DepthLimit,
    /// CUDA/GPU libraries that the buildpacks' images do not provide.
    GpuLibraries,
    /// A language without a Paketo group: add a Dockerfile.
    UnsupportedLanguage,
    /// A runtime version that could not be understood.
    VersionUnparsed,
    /// A language indicator in an unusual place, or a legacy layout.
    LegacyLayout,
    /// The LLM could not be reached or answered badly; the plan is from the rules alone.
    LlmUnavailable,
    /// A command the model proposed was rejected by the validator; see `rejected_proposals`.
    LlmProposalRejected,
    /// A runtime line the buildpack does not offer; the message names the nearest offered one.
    RuntimeUnavailable,
    /// A package manager the buildpack group does not install (pnpm under Paketo's nodejs).
    PackageManagerUnsupported,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resolution {
    pub decided_by: DecidedBy,
    pub llm: Option<LlmUsage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Rules,
    Llm,
}

/// Accounting for the one model call a repository may cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LlmUsage {
    pub model: String,
    pub prompt_version: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
    pub cost_usd: f64,
    pub cache_hit: bool,
}

/// Sets status, monorepo status and the suggested Procfile: the one plan assembly.
pub use crate::finalize::finalize;

/// The JSON Schema of [`Plan`], as `repo-scanner schema` prints it.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Plan);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

impl Plan {
    /// Every app of the plan: the plan itself when it is not a monorepo, else its apps.
    pub fn app_plans(&self) -> Vec<&Plan> {
        if self.apps.is_empty() {
            vec![self]
        } else {
            self.apps.iter().collect()
        }
    }

    pub fn process(&self, kind: &str) -> Option<&Process> {
        self.processes.iter().find(|p| p.kind == kind)
    }
}
