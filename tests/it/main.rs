//! One integration-test binary (one link step), a module per area.

mod cli;
mod corpus;
mod fixtures;
mod git;
mod props;
mod serve;
