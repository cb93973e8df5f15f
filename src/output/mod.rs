//! Outputs of a plan, for people and for the pipeline. Pure functions from a [`Plan`] to text,
//! except [`push`] (git2) and [`github`] (the REST API), the two hand-off steps that talk to a
//! remote.
//!
//! - [`explain`]: the human explanation of a plan.
//! - [`render`]: `pack build` and `docker build` commands, a GitHub Actions workflow, a Kamal
//!   deploy.yml.
//! - [`procfile_pr`]: the suggested Procfile, its explanation, its patch and pull request body.
//! - [`push`]: one commit adding (or fixing) the Procfile on top of the scanned commit, pushed.
//! - [`github`]: find, open or update the pull request.
//!
//! [`Plan`]: crate::plan::Plan

pub mod escape;
mod explain;
pub mod github;
pub mod kamal;
pub mod procfile_pr;
pub mod push;
pub mod render;
pub mod workflow;

pub use explain::explain;
