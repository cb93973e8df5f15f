//! The plan held against the programs that consume it (Paketo's builder and buildpacks, the
//! image a Dockerfile builds): one hook for the scan, so that what `render` writes follows
//! from the plan alone.

use crate::plan::{Plan, Strategy};
use crate::view::RepoView;

/// Fills `plan.build` and adds the consumers' warnings. `view` is the app's directory.
pub fn apply(plan: &mut Plan, view: &RepoView) {
    let warnings = crate::paketo::apply(plan, view);
    plan.warnings.extend(warnings);
    if plan.strategy == Strategy::Dockerfile {
        let rel = plan.dockerfile.as_deref().map(|d| {
            let sub = view.subdir();
            d.strip_prefix(sub).map(|r| r.trim_start_matches('/')).filter(|_| !sub.is_empty()).unwrap_or(d).to_string()
        });
        plan.build.port = rel.and_then(|r| view.text(&r)).and_then(|t| exposed_port(&t));
    }
}

/// The first port a Dockerfile's `EXPOSE` names (`EXPOSE 8000/tcp`); a variable is skipped.
pub fn exposed_port(dockerfile: &str) -> Option<u16> {
    dockerfile.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let first = words.next()?;
        if !first.eq_ignore_ascii_case("EXPOSE") {
            return None;
        }
        words.find_map(|w| w.split('/').next()?.parse::<u16>().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose() {
        assert_eq!(exposed_port("FROM x\nexpose $PORT 8000/tcp\nEXPOSE 9000\n"), Some(8000));
        assert_eq!(exposed_port("FROM x\nCMD run\n"), None);
    }
}
