//! The plan held against the programs that consume it (Paketo's builder and buildpacks, the
//! image a Dockerfile builds): one hook for the scan, so that what `render` writes follows
//! from the plan alone.

use crate::cascade::dockerfile::Dockerfile;
use crate::plan::{Plan, Strategy};
use crate::view::RepoView;

/// Fills `plan.build` and adds the consumers' warnings. `view` is the app's directory;
/// `docker` its Dockerfile as the cascade parsed it.
pub fn apply(plan: &mut Plan, view: &RepoView, docker: Option<&Dockerfile>) {
    let warnings = crate::paketo::apply(plan, view);
    plan.warnings.extend(warnings);
    if plan.strategy == Strategy::Dockerfile {
        plan.build.port = docker.and_then(|d| d.expose);
    }
}
