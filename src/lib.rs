//! repo-scanner decides, before a deploy, how a repository is built and run.
//!
//! # Layout
//!
//! Data flows one way, and each module has one job:
//!
//! - [`source`]: a directory, a git URL + ref, or an uploaded archive, listed once into a [`view::RepoView`]. The only
//!   module (with `cli`) that touches the file system or the network.
//! - [`view`]: the read-only, bounded snapshot every rule reads.
//! - [`cascade`]: pure rules, one file per ecosystem behind [`cascade::Ecosystem`]; the
//!   Dockerfile, Procfile and deploy-spec readers; monorepo discovery.
//! - [`command`]: start commands as words, and the process key two commands are compared by.
//! - [`admit`]: the security boundary: [`admit::SafeCommand::admit`] is the only way a command
//!   enters a plan (an allow-list grammar per language for the model's and README commands).
//! - [`validate`]: the deny-list that turns a repository-stated command's problems into warnings.
//! - [`pipeline`]: the one path every entry point takes: load, cascade, escalation, finalize.
//! - [`scan`]: runs the cascade per app and assembles the [`plan::Plan`]; [`finalize`] sets
//!   status, monorepo status and the suggested Procfile in one place.
//! - [`plan`]: the contract with the build pipeline, and its JSON Schema.
//! - [`eval`]: scoring plans against labelled repositories.
//! - [`output`]: the human explanation of a plan, renderings for the pipeline (pack, docker,
//!   GitHub Actions, Kamal), and the suggested Procfile as a patch, a pushed branch and a pull
//!   request.
//! - [`llm`]: chat backends (OpenAI-compatible, Anthropic) behind one trait, and retries.
//! - [`resolver`]: the model for the questions the rules left open; context, agent, cache.
//! - [`config`]: layered configuration of the resolver; [`env`]: every variable read.
//! - [`serve`]: the HTTP API (`repo-scanner serve`): routes, auth, limits, metrics, the SSRF
//!   proxy; the only module that imports axum.
//! - [`cache`]: get/put of bytes with a TTL, in-process or in Redis, for scans (and LLM answers).

pub mod admit;
pub mod cache;
pub mod cancel;
pub mod caps;
pub mod cascade;
pub mod command;
pub mod config;
pub mod consumers;
pub mod env;
pub mod eval;
pub mod finalize;
pub mod llm;
pub mod output;
pub mod paketo;
pub mod pipeline;
pub mod plan;
pub mod resolver;
pub mod scan;
pub mod secret;
pub mod serve;
pub mod source;
pub mod validate;
pub mod view;

pub use plan::Plan;
pub use scan::scan;
