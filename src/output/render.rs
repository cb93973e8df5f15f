//! Renderings of a plan for the build pipeline: the `pack build` or `docker build` command, a
//! GitHub Actions workflow that builds, boot-checks and pushes the image to GHCR
//! ([`super::workflow`]), and a Kamal deploy.yml with one role per process type
//! ([`super::kamal`]).
//!
//! Pure functions from a [`Plan`] to text. YAML is built as a value tree and serialized, never
//! pasted together from strings, so that a command holding quotes, colons or `#` cannot break
//! the document. A monorepo renders one entry per app: one command, one job, one Kamal file
//! each ([`render_files`]).
//!
//! What each consumer needs is taken from its own code (../shared/paketo, ../shared/kamal):
//! every image carries the label `service=<service>` that Kamal checks after its pull;
//! process types reach a buildpacks image through its Procfile and run through the CNB
//! launcher (`/cnb/process/<type>`); a command for a Dockerfile image goes to the image's
//! shell as one quoted argument, since Kamal hands `cmd` to the host's shell unescaped.

use std::path::PathBuf;

use serde_norway::{Mapping, Value};

use crate::plan::{LanguageName, Plan, Process, ProcessSource, Strategy};

/// The port a buildpacks image listens on under Kamal (`PORT` is set to it): Paketo's 8080.
pub const DEFAULT_APP_PORT: u16 = 8080;

/// Seconds the boot check waits for the web port, or a worker must stay up.
pub const DEFAULT_BOOT_SECONDS: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Pack,
    Docker,
    GithubActions,
    Kamal,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Pack => "pack",
            Target::Docker => "docker",
            Target::GithubActions => "github-actions",
            Target::Kamal => "kamal",
        }
    }
}

/// Choices a plan does not hold.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The image name; default from the source (`ghcr.io/<owner>/<repo>` for a GitHub URL).
    pub image: Option<String>,
    /// The web role's health check path under Kamal; default `/up` (Rails' and kamal-proxy's).
    pub healthcheck_path: Option<String>,
    /// The port exported as `PORT` and used as kamal-proxy's `app_port`; default: 8080 for a
    /// buildpacks image, the Dockerfile's EXPOSE for a Dockerfile image.
    pub port: Option<u16>,
    /// Kamal hosts for every role; a documentation address (192.0.2.1) when none is given.
    pub hosts: Vec<String>,
    /// Workflow: pin actions by commit sha (zizmor's `unpinned-uses`) instead of a major tag.
    pub pin_actions: bool,
    /// Workflow: how long the boot check waits for the web port / a worker must stay up.
    pub boot_seconds: u32,
    /// Workflow: the file name under .github/workflows/, without `.yml`.
    pub workflow_name: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            image: None,
            healthcheck_path: None,
            port: None,
            hosts: Vec::new(),
            pin_actions: true,
            boot_seconds: DEFAULT_BOOT_SECONDS,
            workflow_name: "build".to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("nothing to render for --target {target}: {reason}")]
    Nothing { target: &'static str, reason: String },
    #[error("cannot serialize the YAML: {0}")]
    Yaml(String),
    #[error("--target {target} renders {count} files (one per app): write them with --out DIR")]
    SeveralDocuments { target: &'static str, count: usize },
}

/// Renders `plan` for `target` as one text for stdout. A Kamal rendering of several apps is
/// several files: [`render_files`].
pub fn render(plan: &Plan, target: Target, options: &RenderOptions) -> Result<String, RenderError> {
    let span = tracing::info_span!("render", target = target.as_str(), location = %plan.source.location);
    let _enter = span.enter();
    match target {
        Target::Pack => pack(plan, options),
        Target::Docker => docker(plan, options),
        Target::GithubActions => super::workflow::render(plan, options),
        Target::Kamal => {
            let mut files = super::kamal::render(plan, options)?;
            match files.len() {
                1 => Ok(files.remove(0).1),
                count => Err(RenderError::SeveralDocuments { target: "kamal", count }),
            }
        }
    }
}

/// The files a rendering writes under `--out DIR`, by path relative to DIR:
/// `config/deploy.yml` (or `config/deploy.<app>.yml` per monorepo app) and
/// `.github/workflows/<name>.yml`. Pack and docker render commands, not files: None.
pub fn render_files(
    plan: &Plan,
    target: Target,
    options: &RenderOptions,
) -> Result<Option<Vec<(PathBuf, String)>>, RenderError> {
    match target {
        Target::Pack | Target::Docker => Ok(None),
        Target::GithubActions => {
            let text = super::workflow::render(plan, options)?;
            let path = PathBuf::from(".github/workflows").join(format!("{}.yml", options.workflow_name));
            Ok(Some(vec![(path, text)]))
        }
        Target::Kamal => Ok(Some(super::kamal::render(plan, options)?)),
    }
}

/// One app of the plan, with the names its renderings use.
#[derive(Debug, Clone)]
pub struct App<'a> {
    pub plan: &'a Plan,
    /// A short name: the app directory's last component, or the repository's name for the root.
    pub name: String,
    /// The image this app is built into.
    pub image: String,
    /// The build context / `--path`: the app's directory, `.` for the root.
    pub context: String,
}

/// The apps of a plan (one for a single-app repository), with unique names and images.
pub fn apps<'a>(plan: &'a Plan, options: &RenderOptions) -> Vec<App<'a>> {
    let base = options.image.clone().map(|i| i.to_ascii_lowercase()).unwrap_or_else(|| default_image(plan));
    let repo = repo_name(&plan.source.location);
    let plans = plan.app_plans();
    let several = plans.len() > 1;
    let mut out: Vec<App<'a>> = Vec::new();
    for p in plans {
        let mut name = match p.subdir.rsplit('/').next() {
            Some(last) if !last.is_empty() => sanitize(last),
            _ => repo.clone(),
        };
        if out.iter().any(|a| a.name == name) {
            name = format!("{name}-{}", out.len() + 1);
        }
        let image = if several { format!("{base}/{name}") } else { base.clone() };
        let context = match &p.build.context {
            Some(c) => c.clone(),
            None if p.subdir.is_empty() => ".".to_string(),
            None => p.subdir.clone(),
        };
        out.push(App { plan: p, name, image, context });
    }
    out
}

/// `ghcr.io/<owner>/<repo>` for a GitHub URL, else `ghcr.io/your-org/<directory name>`.
pub fn default_image(plan: &Plan) -> String {
    match github_owner_repo(&plan.source.location) {
        Some((owner, repo)) => format!("ghcr.io/{}/{}", sanitize(&owner), sanitize(&repo)),
        None => format!("ghcr.io/your-org/{}", repo_name(&plan.source.location)),
    }
}

/// `owner`, `repo` of a github.com URL (https, ssh or scp-like).
pub fn github_owner_repo(location: &str) -> Option<(String, String)> {
    let rest = location
        .strip_prefix("https://github.com/")
        .or_else(|| location.strip_prefix("http://github.com/"))
        .or_else(|| location.strip_prefix("ssh://git@github.com/"))
        .or_else(|| location.strip_prefix("git@github.com:"))
        .or_else(|| location.strip_prefix("git://github.com/"))?;
    let mut parts = rest.trim_end_matches('/').splitn(3, '/');
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    Some((owner.to_string(), repo.trim_end_matches(".git").to_string()))
}

/// The last path component of a location, without `.git`, as an image name component.
fn repo_name(location: &str) -> String {
    let trimmed = location.trim_end_matches('/');
    let last = trimmed.rsplit(['/', ':']).next().unwrap_or(trimmed).trim_end_matches(".git");
    let name = sanitize(last);
    if name.is_empty() || name == "." || name == ".." {
        "app".to_string()
    } else {
        name
    }
}

/// Lower case, and anything but `[a-z0-9._-]` as `-`: a valid image name component.
fn sanitize(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    s.trim_matches(|c| matches!(c, '.' | '_' | '-')).to_string()
}

/// The `BP_*` build variables of an app's plan (its runtime line, project path, web dir), in
/// a stable order. See [`crate::paketo`] for how they are decided.
pub fn bp_env(plan: &Plan) -> Vec<(String, String)> {
    plan.build.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A word for a POSIX shell: unchanged when safe, else single-quoted.
pub fn sh_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `source @ commit` for headers.
/// Where the plan came from, for a comment line: escaped like a log line, so a location
/// holding a newline or a control sequence cannot end the comment.
pub(crate) fn provenance(plan: &Plan) -> String {
    let text = match &plan.source.commit {
        Some(c) => format!("{} @ {}", plan.source.location, c.get(..12).unwrap_or(c)),
        None => plan.source.location.clone(),
    };
    comment(&text)
}

/// Repository-derived text for one comment line of a rendered file.
pub(crate) fn comment(text: &str) -> String {
    crate::output::escape::escape_log(text).into_owned()
}

pub(crate) fn app_label(app: &App<'_>) -> String {
    let dir = if app.plan.subdir.is_empty() { ".".to_string() } else { app.plan.subdir.clone() };
    let lang = match &app.plan.language {
        Some(l) => match &l.version {
            Some(v) => format!(", {} {v}", l.name),
            None => format!(", {}", l.name),
        },
        None => String::new(),
    };
    comment(&format!("app {} ({dir}{lang})", app.name))
}

/// Why an app has no rendering for a target, or None when it has one.
pub(crate) fn skip_reason(app: &App<'_>, target: Target) -> Option<String> {
    match (app.plan.strategy, target) {
        (Strategy::Unsupported, _) => {
            Some("unsupported: no Dockerfile and no Paketo buildpack; add a Dockerfile".into())
        }
        (Strategy::Dockerfile, Target::Pack) => Some("builds from its Dockerfile: use --target docker".into()),
        (Strategy::Buildpacks, Target::Docker) => {
            Some("builds with buildpacks (no Dockerfile): use --target pack".into())
        }
        (Strategy::Buildpacks, _) if app.plan.buildpack.is_none() => Some("no buildpack was chosen".into()),
        _ => None,
    }
}

/// The `pack build` arguments after the image: builder, path, `--buildpack` for what the
/// builder lacks, `--env` per BP_* variable, and the `service` label Kamal checks.
pub fn pack_args(app: &App<'_>) -> Vec<String> {
    let builder = app.plan.buildpack.as_ref().map(|b| b.builder.as_str()).unwrap_or(crate::plan::DEFAULT_BUILDER);
    let mut args = vec![format!("--builder {}", sh_quote(builder)), format!("--path {}", sh_quote(&app.context))];
    let extra = &app.plan.build.extra_buildpacks;
    for b in extra {
        args.push(format!("--buildpack {}", sh_quote(b)));
    }
    if !extra.is_empty() {
        // --buildpack replaces the builder's order; the composites there carry image-labels.
        args.push(format!("--buildpack {}", crate::paketo::IMAGE_LABELS_BUILDPACK));
    }
    for (k, v) in bp_env(app.plan) {
        args.push(format!("--env {}", sh_quote(&format!("{k}={v}"))));
    }
    args.push(format!("--env {}", sh_quote(&format!("BP_IMAGE_LABELS=service={}", service_name(app)))));
    args
}

/// A shell here-document that writes `text` to `path` (quoted delimiter: nothing expands).
fn heredoc(path: &str, text: &str) -> String {
    format!("cat > {} <<'PROCFILE'\n{}PROCFILE\n", sh_quote(path), text)
}

/// The Procfile path inside an app's build context.
pub fn procfile_path(app: &App<'_>) -> String {
    if app.context == "." {
        "Procfile".to_string()
    } else {
        format!("{}/Procfile", app.context)
    }
}

fn pack(plan: &Plan, options: &RenderOptions) -> Result<String, RenderError> {
    let mut out = format!("# pack build commands for {}\n", provenance(plan));
    let mut rendered = 0;
    let mut reasons = Vec::new();
    for app in apps(plan, options) {
        if let Some(reason) = skip_reason(&app, Target::Pack) {
            out.push_str(&format!("\n# {}: {}\n", app_label(&app), comment(&reason)));
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        rendered += 1;
        out.push_str(&format!("\n# {}\n", app_label(&app)));
        if let Some(procfile) = procfile_to_write(app.plan) {
            out.push_str("# The image's process types (the repository has no Procfile):\n");
            out.push_str(&heredoc(&procfile_path(&app), &procfile));
        }
        let mut lines = vec![format!("pack build {}", sh_quote(&app.image))];
        lines.extend(pack_args(&app).into_iter().map(|a| format!("  {a}")));
        out.push_str(&lines.join(" \\\n"));
        out.push('\n');
    }
    if rendered == 0 {
        return Err(RenderError::Nothing { target: "pack", reason: reasons.join("; ") });
    }
    Ok(out)
}

/// `docker build` arguments after `--file`: the tag and the `service` label Kamal checks.
pub fn docker_args(app: &App<'_>) -> Vec<String> {
    vec![format!("--label {}", sh_quote(&format!("service={}", service_name(app))))]
}

fn docker(plan: &Plan, options: &RenderOptions) -> Result<String, RenderError> {
    let mut out = format!("# docker build commands for {}\n", provenance(plan));
    let mut rendered = 0;
    let mut reasons = Vec::new();
    for app in apps(plan, options) {
        if let Some(reason) = skip_reason(&app, Target::Docker) {
            out.push_str(&format!("\n# {}: {}\n", app_label(&app), comment(&reason)));
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        rendered += 1;
        let file = app.plan.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
        out.push_str(&format!("\n# {}\n", app_label(&app)));
        out.push_str(&format!(
            "docker build --file {} --tag {} {} {}\n",
            sh_quote(&file),
            sh_quote(&app.image),
            docker_args(&app).join(" "),
            sh_quote(&app.context)
        ));
    }
    if rendered == 0 {
        return Err(RenderError::Nothing { target: "docker", reason: reasons.join("; ") });
    }
    Ok(out)
}

/// The Kamal service name of an app: `[a-z0-9_-]+` (configuration.rb's check).
pub fn service_name(app: &App<'_>) -> String {
    app.name.replace('.', "-")
}

/// A Paketo buildpack that runs the app itself (go-build, cargo, executable-jar,
/// dotnet-execute, npm-start) gives the image a `web` process: a rule's guess at that command
/// (a jar path, a binary name) is not needed and may not exist in the image.
pub fn runs_itself(plan: &Plan, p: &Process) -> bool {
    if plan.strategy != Strategy::Buildpacks || p.kind != "web" || p.source != ProcessSource::Rule {
        return false;
    }
    match plan.language.as_ref().map(|l| l.name) {
        Some(LanguageName::Java | LanguageName::Go | LanguageName::Rust | LanguageName::Dotnet) => true,
        Some(LanguageName::Nodejs) => matches!(p.command.as_str(), "npm start" | "yarn start"),
        _ => false,
    }
}

/// The Procfile the build context needs for the image to carry every process type, when the
/// repository has none: the plan's processes, less those Paketo runs itself. None when the
/// context needs nothing (a Procfile present, a Dockerfile, nothing to add).
pub fn procfile_to_write(plan: &Plan) -> Option<String> {
    if plan.strategy != Strategy::Buildpacks || plan.procfile.path.is_some() {
        return None;
    }
    let lines: Vec<(&str, &str)> = plan
        .processes
        .iter()
        .filter(|p| !runs_itself(plan, p))
        .map(|p| (p.kind.as_str(), p.command.as_str()))
        .collect();
    (!lines.is_empty()).then(|| crate::cascade::procfile::render(lines))
}

/// The port the image listens on: `--port`, a Dockerfile's EXPOSE, else Paketo's 8080.
pub fn app_port(app: &App<'_>, options: &RenderOptions) -> u16 {
    options.port.or(app.plan.build.port).unwrap_or(DEFAULT_APP_PORT)
}

// ---- YAML helpers ------------------------------------------------------------------------------

pub(crate) fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

pub(crate) fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(s(k), v);
    }
    Value::Mapping(m)
}

pub(crate) fn to_yaml(v: &Value) -> Result<String, RenderError> {
    serde_norway::to_string(v).map_err(|e| RenderError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(sh_quote("ghcr.io/a/b"), "ghcr.io/a/b");
        assert_eq!(sh_quote("BP_NODE_VERSION=>=18 <21"), "'BP_NODE_VERSION=>=18 <21'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn repository_text_cannot_leave_a_comment_line() {
        let view = crate::view::RepoView::from_memory([
            ("requirements.txt", "flask\n"),
            ("app.py", "app = Flask(__name__)\n"),
        ]);
        let source = crate::plan::Source {
            kind: crate::plan::SourceKind::Dir,
            location: "repo\nservice: evil\u{1b}[2J".into(),
            git_ref: None,
            commit: None,
        };
        let plan = crate::scan::scan(&view, source);
        for target in [Target::Pack, Target::GithubActions, Target::Kamal] {
            let text = render(&plan, target, &RenderOptions::default()).expect("renders");
            assert!(!text.contains('\u{1b}'), "{target:?}: {text}");
            // The newline stays inside the comment, written as `\n`.
            assert!(
                text.contains("# pack build commands for repo\\nservice: evil")
                    || text.contains("from repo\\nservice: evil"),
                "{target:?}: {text}"
            );
        }
    }

    #[test]
    fn github_locations() {
        assert_eq!(github_owner_repo("https://github.com/Foo/Bar.git"), Some(("Foo".into(), "Bar".into())));
        assert_eq!(github_owner_repo("git@github.com:foo/bar"), Some(("foo".into(), "bar".into())));
        assert_eq!(github_owner_repo("https://gitlab.com/foo/bar"), None);
        assert_eq!(repo_name("/tmp/x/My Repo/"), "my-repo");
        assert_eq!(repo_name("git://127.0.0.1:9418/repo.git"), "repo");
    }
}
