//! One integration-test binary (one link step), a module per area.

mod adversarial;
mod cli;
mod corpus;
mod eval;
mod fixtures;
mod git;
mod llm;
mod llm_live;
mod procfile_pr;
mod props;
mod render;
mod serve;
mod support;
