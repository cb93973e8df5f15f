//! Renderings of a plan for the build pipeline: the `pack build` or `docker build` command, a
//! GitHub Actions workflow that builds the image and pushes it to GHCR, and a Kamal deploy.yml
//! with one role per process type.
//!
//! Pure functions from a [`Plan`] to text. YAML is built as a value tree and serialized, never
//! pasted together from strings, so that a command holding quotes, colons or `#` cannot break
//! the document. A monorepo renders one entry per app: one command, one job, one Kamal
//! document each.
//!
//! Why `$PORT` is written out in Kamal roles: Kamal passes a role's `cmd` through the host's
//! shell when it runs `docker run`, where `$PORT` would expand to the host's (empty) value. The
//! rendering sets `PORT` in the environment and writes the same number into the commands, so
//! the proxy's `app_port`, the health check and the process agree without any shell expansion.

use serde_norway::{Mapping, Value};

use crate::plan::{LanguageName, Plan, ProcessSource, Strategy};

/// The port the web role listens on under Kamal, exported as `PORT`.
pub const DEFAULT_APP_PORT: u16 = 8080;

/// The pack CLI installer action (buildpacks/github-actions).
const SETUP_PACK: &str = "buildpacks/github-actions/setup-pack@v5.9.5";

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
    /// The web role's health check path under Kamal; default `/up` for Rails, else `/`.
    pub healthcheck_path: Option<String>,
    /// The port exported as `PORT` and used as kamal-proxy's `app_port`.
    pub port: u16,
    /// Kamal hosts for every role; a documentation address (192.0.2.1) when none is given.
    pub hosts: Vec<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { image: None, healthcheck_path: None, port: DEFAULT_APP_PORT, hosts: Vec::new() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("nothing to render for --target {target}: {reason}")]
    Nothing { target: &'static str, reason: String },
    #[error("cannot serialize the YAML: {0}")]
    Yaml(String),
}

/// Renders `plan` for `target`.
pub fn render(plan: &Plan, target: Target, options: &RenderOptions) -> Result<String, RenderError> {
    let span = tracing::info_span!("render", target = target.as_str(), location = %plan.source.location);
    let _enter = span.enter();
    match target {
        Target::Pack => pack(plan, options),
        Target::Docker => docker(plan, options),
        Target::GithubActions => github_actions(plan, options),
        Target::Kamal => kamal(plan, options),
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
        let context = if p.subdir.is_empty() { ".".to_string() } else { p.subdir.clone() };
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

/// The Paketo build-time variable that pins the runtime version, per language.
pub fn version_variable(language: LanguageName) -> Option<&'static str> {
    match language {
        LanguageName::Python => Some("BP_CPYTHON_VERSION"),
        LanguageName::Nodejs => Some("BP_NODE_VERSION"),
        LanguageName::Go => Some("BP_GO_VERSION"),
        LanguageName::Java => Some("BP_JVM_VERSION"),
        LanguageName::Ruby => Some("BP_MRI_VERSION"),
        LanguageName::Php => Some("BP_PHP_VERSION"),
        LanguageName::Dotnet => Some("BP_DOTNET_FRAMEWORK_VERSION"),
        LanguageName::Rust => Some("BP_RUST_TOOLCHAIN"),
        LanguageName::Static | LanguageName::Deno | LanguageName::Elixir => None,
    }
}

/// `BP_*` build variables from the detected runtime version, as the buildpacks take them:
/// semver constraints (`3.12`, `>=18 <21`, `^8.1`), a JVM major version (`17`), a Ruby `~>`
/// written as semver's `~`. A version that cannot be expressed is left out.
pub fn bp_env(plan: &Plan) -> Vec<(String, String)> {
    let Some(lang) = &plan.language else { return Vec::new() };
    let (Some(var), Some(raw)) = (version_variable(lang.name), lang.version.as_deref()) else { return Vec::new() };
    let mut v = raw.trim().trim_matches('"').trim().to_string();
    for prefix in ["python-", "python", "go", "v"] {
        if let Some(rest) = v.strip_prefix(prefix) {
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                v = rest.to_string();
            }
        }
    }
    v = v.replace("~>", "~");
    if lang.name == LanguageName::Java {
        // "1.8" is Java 8; "17.0.2" and ">=17" are 17.
        let digits: String = v.trim_start_matches(|c: char| !c.is_ascii_digit()).to_string();
        let mut parts = digits.split(|c: char| !c.is_ascii_digit());
        let major = match (parts.next(), parts.next()) {
            (Some("1"), Some(minor)) if !minor.is_empty() => minor.to_string(),
            (Some(m), _) => m.to_string(),
            _ => String::new(),
        };
        v = major;
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || " .*^~<>=|,-".contains(c);
    if v.is_empty() || !v.chars().all(allowed) || !v.chars().any(|c| c.is_ascii_digit()) {
        return Vec::new();
    }
    vec![(var.to_string(), v.split_whitespace().collect::<Vec<_>>().join(" "))]
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
fn provenance(plan: &Plan) -> String {
    match &plan.source.commit {
        Some(c) => format!("{} @ {}", plan.source.location, &c[..c.len().min(12)]),
        None => plan.source.location.clone(),
    }
}

fn app_label(app: &App<'_>) -> String {
    let dir = if app.plan.subdir.is_empty() { ".".to_string() } else { app.plan.subdir.clone() };
    let lang = match &app.plan.language {
        Some(l) => match &l.version {
            Some(v) => format!(", {} {v}", l.name),
            None => format!(", {}", l.name),
        },
        None => String::new(),
    };
    format!("app {} ({dir}{lang})", app.name)
}

/// Why an app has no rendering for a target, or None when it has one.
fn skip_reason(app: &App<'_>, target: Target) -> Option<String> {
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

/// The `pack build` arguments after the image: builder, path, `--env` per BP_* variable.
fn pack_args(app: &App<'_>) -> Vec<String> {
    let builder = app.plan.buildpack.as_ref().map(|b| b.builder.as_str()).unwrap_or(crate::plan::DEFAULT_BUILDER);
    let mut args = vec![format!("--builder {}", sh_quote(builder)), format!("--path {}", sh_quote(&app.context))];
    for (k, v) in bp_env(app.plan) {
        args.push(format!("--env {}", sh_quote(&format!("{k}={v}"))));
    }
    args
}

fn pack(plan: &Plan, options: &RenderOptions) -> Result<String, RenderError> {
    let mut out = format!("# pack build commands for {}\n", provenance(plan));
    let mut rendered = 0;
    let mut reasons = Vec::new();
    for app in apps(plan, options) {
        if let Some(reason) = skip_reason(&app, Target::Pack) {
            out.push_str(&format!("\n# {}: {reason}\n", app_label(&app)));
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        rendered += 1;
        out.push_str(&format!("\n# {}\n", app_label(&app)));
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

fn docker(plan: &Plan, options: &RenderOptions) -> Result<String, RenderError> {
    let mut out = format!("# docker build commands for {}\n", provenance(plan));
    let mut rendered = 0;
    let mut reasons = Vec::new();
    for app in apps(plan, options) {
        if let Some(reason) = skip_reason(&app, Target::Docker) {
            out.push_str(&format!("\n# {}: {reason}\n", app_label(&app)));
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        rendered += 1;
        let file = app.plan.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
        out.push_str(&format!("\n# {}\n", app_label(&app)));
        out.push_str(&format!(
            "docker build --file {} --tag {} {}\n",
            sh_quote(&file),
            sh_quote(&app.image),
            sh_quote(&app.context)
        ));
    }
    if rendered == 0 {
        return Err(RenderError::Nothing { target: "docker", reason: reasons.join("; ") });
    }
    Ok(out)
}

// ---- YAML helpers ------------------------------------------------------------------------------

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(s(k), v);
    }
    Value::Mapping(m)
}

fn to_yaml(v: &Value) -> Result<String, RenderError> {
    serde_norway::to_string(v).map_err(|e| RenderError::Yaml(e.to_string()))
}

// ---- GitHub Actions ------------------------------------------------------------------------------

/// The image a workflow job pushes: `--image` as given, else from the repository the workflow
/// runs in (lower-cased: GHCR names are lower case, `github.repository` need not be).
fn workflow_image(app: &App<'_>, several: bool, options: &RenderOptions) -> (Option<Value>, String) {
    if options.image.is_some() {
        return (None, app.image.clone());
    }
    let suffix = if several { format!("/{}", app.name) } else { String::new() };
    let step = map([
        ("name", s("Image name")),
        ("run", s(format!("echo \"IMAGE=ghcr.io/${{GITHUB_REPOSITORY,,}}{suffix}\" >> \"$GITHUB_ENV\""))),
    ]);
    (Some(step), "${{ env.IMAGE }}".to_string())
}

fn github_actions(plan: &Plan, options: &RenderOptions) -> Result<String, RenderError> {
    let all = apps(plan, options);
    let several = all.len() > 1;
    let mut jobs = Mapping::new();
    let mut reasons = Vec::new();
    for app in &all {
        if let Some(reason) = skip_reason(app, Target::GithubActions) {
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        let (name_step, image) = workflow_image(app, several, options);
        let mut steps = vec![
            map([("name", s("Check out")), ("uses", s("actions/checkout@v4"))]),
            map([
                ("name", s("Log in to GHCR")),
                ("uses", s("docker/login-action@v3")),
                (
                    "with",
                    map([
                        ("registry", s("ghcr.io")),
                        ("username", s("${{ github.actor }}")),
                        ("password", s("${{ secrets.GITHUB_TOKEN }}")),
                    ]),
                ),
            ]),
        ];
        steps.extend(name_step);
        match app.plan.strategy {
            Strategy::Buildpacks => {
                steps.push(map([("name", s("Install pack")), ("uses", s(SETUP_PACK))]));
                // Double quotes: the shell expands $IMAGE; GitHub substitutes ${{ }} before the shell runs.
                let tag = |t: &str| {
                    if options.image.is_some() {
                        format!("\"{image}:{t}\"")
                    } else {
                        format!("\"$IMAGE:{t}\"")
                    }
                };
                let mut lines = vec![format!("pack build {}", tag("${{ github.sha }}"))];
                lines.extend(pack_args(app).into_iter().map(|a| format!("  {a}")));
                lines.push(format!("  --tag {}", tag("latest")));
                lines.push(format!("  --cache-image {}", tag("build-cache")));
                lines.push("  --publish".to_string());
                steps.push(map([
                    ("name", s("Build and push with pack (buildpacks, layer cache in the registry)")),
                    ("run", s(lines.join(" \\\n") + "\n")),
                ]));
            }
            _ => {
                let file = app.plan.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
                steps.push(map([("name", s("Set up Buildx")), ("uses", s("docker/setup-buildx-action@v3"))]));
                steps.push(map([
                    ("name", s("Build and push with docker (layer cache in GitHub Actions)")),
                    ("uses", s("docker/build-push-action@v6")),
                    (
                        "with",
                        map([
                            ("context", s(app.context.clone())),
                            ("file", s(file)),
                            ("push", Value::Bool(true)),
                            ("tags", s(format!("{image}:${{{{ github.sha }}}}\n{image}:latest\n"))),
                            ("cache-from", s(format!("type=gha,scope={}", app.name))),
                            ("cache-to", s(format!("type=gha,mode=max,scope={}", app.name))),
                        ]),
                    ),
                ]));
            }
        }
        let job_id = if several { format!("build-{}", app.name) } else { "build".to_string() };
        jobs.insert(
            s(job_id),
            map([
                ("name", s(format!("Build {}", app.name))),
                ("runs-on", s("ubuntu-latest")),
                ("steps", Value::Sequence(steps)),
            ]),
        );
    }
    if jobs.is_empty() {
        return Err(RenderError::Nothing { target: "github-actions", reason: reasons.join("; ") });
    }
    let workflow = map([
        ("name", s("Build and push the image")),
        (
            "on",
            map([
                ("push", map([("branches", Value::Sequence(vec![s("main")]))])),
                ("workflow_dispatch", Value::Mapping(Mapping::new())),
            ]),
        ),
        ("permissions", map([("contents", s("read")), ("packages", s("write"))])),
        ("jobs", Value::Mapping(jobs)),
    ]);
    let mut out = format!(
        "# .github/workflows/build.yml, generated by repo-scanner from {}\n# Builds the image and pushes it to ghcr.io with layer caching.\n",
        provenance(plan)
    );
    for r in reasons {
        out.push_str(&format!("# not built: {r}\n"));
    }
    out.push_str(&to_yaml(&workflow)?);
    Ok(out)
}

// ---- Kamal -----------------------------------------------------------------------------------

/// The Kamal health check path: Rails answers `/up`; other apps are asked for `/`.
fn healthcheck_path(plan: &Plan, options: &RenderOptions) -> String {
    if let Some(p) = &options.healthcheck_path {
        return p.clone();
    }
    match plan.language.as_ref().and_then(|l| l.framework.as_deref()) {
        Some("rails") => "/up".to_string(),
        _ => "/".to_string(),
    }
}

/// A role's command with `$PORT` / `${PORT}` written as the port number.
pub fn with_port(command: &str, port: u16) -> String {
    let p = port.to_string();
    command.replace("${PORT}", &p).replace("$PORT", &p)
}

/// `(server, image without server)` for Kamal's `registry.server` and `image`.
fn split_registry(image: &str) -> (Option<String>, String) {
    match image.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            (Some(host.to_string()), rest.to_string())
        }
        _ => (None, image.to_string()),
    }
}

fn kamal_document(app: &App<'_>, options: &RenderOptions) -> Value {
    let port = options.port;
    let hosts: Vec<Value> = if options.hosts.is_empty() {
        vec![s("192.0.2.1")]
    } else {
        options.hosts.iter().map(|h| s(h.clone())).collect()
    };
    let buildpacks = app.plan.strategy == Strategy::Buildpacks;
    let mut servers = Mapping::new();
    let has_web = app.plan.process("web").is_some();
    for p in &app.plan.processes {
        let mut role = Mapping::new();
        role.insert(s("hosts"), Value::Sequence(hosts.clone()));
        // The image's own CMD is the Dockerfile's: nothing to override.
        if p.source != ProcessSource::Dockerfile {
            role.insert(s("cmd"), s(with_port(&p.command, port)));
            if buildpacks {
                // A buildpacks image starts its default process; the launcher runs any other.
                role.insert(s("options"), map([("entrypoint", s("/cnb/lifecycle/launcher"))]));
            }
        }
        if p.kind != "web" && has_web {
            role.insert(s("proxy"), Value::Bool(false));
        }
        servers.insert(s(p.kind.clone()), Value::Mapping(role));
    }
    if servers.is_empty() {
        // No process known: the image's default command as the web role.
        servers.insert(s("web"), map([("hosts", Value::Sequence(hosts.clone()))]));
    }
    let (server, image) = split_registry(&app.image);
    let owner = image.split('/').next().unwrap_or("your-org").to_string();
    let mut doc = Mapping::new();
    doc.insert(s("service"), s(app.name.clone()));
    doc.insert(s("image"), s(image));
    doc.insert(s("servers"), Value::Mapping(servers));
    if !has_web && !app.plan.processes.is_empty() {
        if let Some(first) = app.plan.processes.first() {
            doc.insert(s("primary_role"), s(first.kind.clone()));
        }
    }
    if has_web || app.plan.processes.is_empty() {
        doc.insert(
            s("proxy"),
            map([
                ("app_port", Value::Number(port.into())),
                (
                    "healthcheck",
                    map([
                        ("path", s(healthcheck_path(app.plan, options))),
                        ("interval", Value::Number(3.into())),
                        ("timeout", Value::Number(5.into())),
                    ]),
                ),
            ]),
        );
    }
    doc.insert(s("env"), map([("clear", map([("PORT", s(port.to_string()))]))]));
    let mut registry = Mapping::new();
    if let Some(server) = server {
        registry.insert(s("server"), s(server));
    }
    registry.insert(s("username"), s(owner));
    registry.insert(s("password"), Value::Sequence(vec![s("KAMAL_REGISTRY_PASSWORD")]));
    doc.insert(s("registry"), Value::Mapping(registry));
    doc.insert(s("builder"), map([("arch", s("amd64"))]));
    Value::Mapping(doc)
}

fn kamal(plan: &Plan, options: &RenderOptions) -> Result<String, RenderError> {
    let mut out = format!(
        "# Kamal deploy.yml generated by repo-scanner from {}\n\
         # One role per process type, all from the same image (built by the pipeline: kamal deploy --skip-push).\n\
         # The web role runs behind kamal-proxy on app_port {port}; PORT={port} is set and written into the\n\
         # commands, so no shell has to expand $PORT. Replace the hosts and check the health check path.\n",
        provenance(plan),
        port = options.port
    );
    let mut docs = Vec::new();
    let mut reasons = Vec::new();
    for app in apps(plan, options) {
        if let Some(reason) = skip_reason(&app, Target::Kamal) {
            reasons.push(format!("{}: {reason}", app.name));
            continue;
        }
        let mut text = format!("# {}\n", app_label(&app));
        text.push_str(&to_yaml(&kamal_document(&app, options))?);
        docs.push(text);
    }
    if docs.is_empty() {
        return Err(RenderError::Nothing { target: "kamal", reason: reasons.join("; ") });
    }
    for r in reasons {
        out.push_str(&format!("# not deployed: {r}\n"));
    }
    out.push_str(&docs.join("---\n"));
    Ok(out)
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
    fn github_locations() {
        assert_eq!(github_owner_repo("https://github.com/Foo/Bar.git"), Some(("Foo".into(), "Bar".into())));
        assert_eq!(github_owner_repo("git@github.com:foo/bar"), Some(("foo".into(), "bar".into())));
        assert_eq!(github_owner_repo("https://gitlab.com/foo/bar"), None);
        assert_eq!(repo_name("/tmp/x/My Repo/"), "my-repo");
        assert_eq!(repo_name("git://127.0.0.1:9418/repo.git"), "repo");
    }

    #[test]
    fn port_is_written_out() {
        assert_eq!(with_port("gunicorn a:b --bind 0.0.0.0:$PORT", 8080), "gunicorn a:b --bind 0.0.0.0:8080");
        assert_eq!(with_port("x --port ${PORT}", 3000), "x --port 3000");
    }
}
