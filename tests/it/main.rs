//! One integration-test binary (one link step), a module per area.

mod admit;
mod adversarial;
mod cli;
mod cli_habits;
mod consumers;
mod corpus;
mod eval;
mod fixtures;
mod git;
mod lang_rules;
mod llm;
mod llm_live;
mod procfile_pr;
mod props;
mod python_rules;
mod render;
mod serve;
mod stated;
mod support;
