//! `repo-scanner procfile` and `repo-scanner render`: the plan handed to the repository's owner
//! (a suggested Procfile, as text, a patch, a pushed branch, a pull request) and to the build
//! pipeline (pack, docker, GitHub Actions, Kamal).

use anyhow::{bail, Context};
use clap::ValueEnum;

use repo_scanner::output::github::{self, GitHub, PrOutcome, PullRequestSpec, RepoName, Token};
use repo_scanner::output::procfile_pr::{self, Links, MIN_CONFIDENCE};
use repo_scanner::output::push::{self, Author, PushOutcome, PushTarget};
use repo_scanner::output::render::{self, RenderOptions, Target, DEFAULT_BOOT_SECONDS};
use repo_scanner::pipeline;
use repo_scanner::plan::{Plan, Source, SourceKind};
use repo_scanner::source::{git, Loaded, Request};
use repo_scanner::view::RepoView;

use super::{print_out, CliError};

/// The token for the GitHub API.
const GITHUB_TOKEN: &str = "GITHUB_TOKEN";

#[derive(Debug, clap::Args)]
pub struct ProcfileArgs {
    /// A directory, or a git URL (https, http, git, ssh, file).
    pub source: String,
    /// Branch, tag or commit sha (git URLs only).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Propose for this directory of the repository only.
    #[arg(long)]
    pub subdir: Option<String>,
    /// Rules only: never call a model.
    #[arg(long)]
    pub no_llm: bool,
    #[command(flatten)]
    pub llm: super::llm::LlmArgs,
    /// Print a unified diff against the repository instead of the annotated Procfile.
    #[arg(long)]
    pub patch: bool,
    /// Print the pull request body (Markdown) instead of the annotated Procfile; nothing is sent.
    #[arg(long, conflicts_with = "patch")]
    pub pr_body: bool,
    /// Processes below this confidence are not proposed.
    #[arg(long, default_value_t = MIN_CONFIDENCE)]
    pub min_confidence: f32,
    /// Commit the proposal on top of the scanned commit and push it to --remote as --branch.
    /// A directory source is read at its HEAD commit.
    #[arg(long, requires_all = ["remote", "branch"])]
    pub push: bool,
    /// The git remote URL to push to.
    #[arg(long, requires = "push")]
    pub remote: Option<String>,
    /// The branch to create or rewrite (only ever a branch this tool wrote).
    #[arg(long, requires = "push")]
    pub branch: Option<String>,
    /// The commit's author, "Name <email>"; default: git config user.name and user.email.
    #[arg(long, requires = "push")]
    pub author: Option<String>,
    /// Open (or update) a pull request for the pushed branch; the token is read from GITHUB_TOKEN.
    #[arg(long, requires_all = ["push", "github_repo"])]
    pub open_pr: bool,
    /// The GitHub repository the pull request is for, OWNER/NAME.
    #[arg(long, requires = "open_pr")]
    pub github_repo: Option<String>,
    /// The GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "REPO_SCANNER_GITHUB_API_URL", default_value = github::DEFAULT_API_URL)]
    pub github_api_url: String,
    /// The branch the pull request merges into; default: the repository's default branch.
    #[arg(long, requires = "open_pr")]
    pub base: Option<String>,
    /// The owner of the pushed branch when it lives in a fork; default: the repository's owner.
    #[arg(long, requires = "open_pr")]
    pub head_owner: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderTarget {
    Pack,
    Docker,
    GithubActions,
    Kamal,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// A directory, or a git URL (https, http, git, ssh, file).
    pub source: String,
    /// Branch, tag or commit sha (git URLs only).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Render this directory of the repository only.
    #[arg(long)]
    pub subdir: Option<String>,
    /// Rules only: never call a model.
    #[arg(long)]
    pub no_llm: bool,
    #[command(flatten)]
    pub llm: super::llm::LlmArgs,
    #[arg(long, value_enum)]
    pub target: RenderTarget,
    /// The image name; default ghcr.io/OWNER/REPO for a GitHub URL, else ghcr.io/your-org/DIR.
    #[arg(long)]
    pub image: Option<String>,
    /// Kamal: the web role's health check path [default: /up, Rails' and kamal-proxy's].
    #[arg(long)]
    pub healthcheck_path: Option<String>,
    /// The port exported as PORT and proxied to [default: 8080 for buildpacks images, the
    /// Dockerfile's EXPOSE].
    #[arg(long)]
    pub port: Option<u16>,
    /// Kamal: a host for every role (repeat for several).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// Write the files into DIR (config/deploy.yml or config/deploy.<app>.yml per app,
    /// .github/workflows/<name>.yml) instead of printing one document.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// GitHub Actions: pin actions by commit sha (`sha`) or use their major tag (`tag`).
    #[arg(long, value_enum, default_value = "sha")]
    pub pin_actions: PinActions,
    /// GitHub Actions: seconds the boot check waits for the web port, or a worker must stay up.
    #[arg(long, default_value_t = DEFAULT_BOOT_SECONDS)]
    pub boot_seconds: u32,
    /// GitHub Actions: the workflow's file name under .github/workflows/, without .yml.
    #[arg(long, default_value = "build", value_parser = workflow_name)]
    pub workflow_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinActions {
    Sha,
    Tag,
}

/// A file name, not a path.
fn workflow_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && !s.starts_with('.');
    if ok {
        Ok(s.to_string())
    } else {
        Err("letters, digits, '-', '_' and '.' only".into())
    }
}

/// A scanned source, and the fetched repository when it came from git.
struct Scanned {
    /// The whole repository (paths from its root).
    root: RepoView,
    plan: Plan,
    fetched: Option<git::Fetched>,
}

fn check_ref(source: &str, git_ref: Option<&String>) -> anyhow::Result<()> {
    if git_ref.is_some() && !git::looks_like_url(source) {
        bail!("--ref applies to git URLs only; {source} is not a git URL");
    }
    Ok(())
}

/// Lists and scans `source` through the pipeline. With `as_git`, a directory is read as the
/// git repository it is, at its HEAD commit, so that a push builds on exactly what was scanned.
fn scan_source(
    source_arg: &str,
    git_ref: Option<&str>,
    subdir: Option<&str>,
    as_git: bool,
    llm: (&super::llm::LlmArgs, bool),
) -> Result<Scanned, CliError> {
    let model = llm.0.model(llm.1)?;
    let options = pipeline::Options {
        subdir: subdir.map(str::to_string),
        escalation: model.as_ref().map(|(m, _)| m as &dyn pipeline::Escalate),
        ..pipeline::Options::default()
    };
    if git::looks_like_url(source_arg) || as_git {
        let url = if git::looks_like_url(source_arg) {
            source_arg.to_string()
        } else {
            let abs = std::fs::canonicalize(source_arg).with_context(|| format!("cannot read {source_arg}"))?;
            format!("file://{}", abs.display())
        };
        // Fetched here, not by the pipeline: the push needs the fetched repository.
        let fetched = git::fetch(&url, git_ref, &git::FetchOptions::default())?;
        let view = fetched.list(options.limits)?;
        let source = Source {
            kind: SourceKind::Git,
            location: url,
            git_ref: git_ref.map(str::to_string),
            commit: Some(fetched.commit().to_string()),
        };
        let out = pipeline::run_loaded(Loaded { view, source }, &options)?;
        return Ok(Scanned { root: out.root, plan: out.plan, fetched: Some(fetched) });
    }
    let out = pipeline::run(&Request::parse(source_arg, None), &options)?;
    Ok(Scanned { root: out.root, plan: out.plan, fetched: None })
}

pub fn procfile(args: ProcfileArgs) -> Result<(), CliError> {
    check_ref(&args.source, args.git_ref.as_ref())?;
    if !(0.0..=1.0).contains(&args.min_confidence) {
        return Err(anyhow::anyhow!("--min-confidence must be between 0 and 1").into());
    }
    // Checked before any network work: a missing token should not cost a fetch and a push.
    let pr = if args.open_pr {
        let token = std::env::var(GITHUB_TOKEN)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .with_context(|| format!("--open-pr needs a token in {GITHUB_TOKEN}"))?;
        let repo = RepoName::parse(args.github_repo.as_deref().unwrap_or_default()).map_err(anyhow::Error::from)?;
        Some((Token::new(token), repo))
    } else {
        None
    };
    let scanned = scan_source(
        &args.source,
        args.git_ref.as_deref(),
        args.subdir.as_deref(),
        args.push,
        (&args.llm, args.no_llm),
    )?;
    let root = &scanned.root;
    let current = |path: &str| root.read(path).ok().and_then(|b| String::from_utf8(b.to_vec()).ok());
    let proposal = procfile_pr::propose(&scanned.plan, &current, args.min_confidence);

    if args.pr_body {
        // Evidence links when the source is a GitHub URL and the commit is known.
        let links = render::github_owner_repo(&scanned.plan.source.location)
            .zip(scanned.plan.source.commit.clone())
            .map(|((owner, name), commit)| Links { repo_url: format!("https://github.com/{owner}/{name}"), commit });
        if proposal.is_empty() {
            eprintln!("repo-scanner: nothing to propose: {}", proposal.unchanged.join("; "));
        } else {
            print_out(procfile_pr::pr_body(&proposal, &scanned.plan, links.as_ref()).trim_end())?;
        }
    } else if args.patch {
        if proposal.is_empty() {
            eprintln!("repo-scanner: nothing to propose: {}", proposal.unchanged.join("; "));
        } else {
            print_out(procfile_pr::patch(&proposal).trim_end())?;
        }
    } else {
        print_out(procfile_pr::annotated(&proposal, &scanned.plan).trim_end())?;
    }
    if !args.push {
        return Ok(());
    }
    if proposal.is_empty() {
        print_out("nothing pushed: there is nothing to propose")?;
        return Ok(());
    }
    let (Some(remote), Some(branch), Some(fetched)) = (&args.remote, &args.branch, &scanned.fetched) else {
        return Err(anyhow::anyhow!("--push needs --remote and --branch").into());
    };
    let author = Author::resolve(args.author.as_deref()).map_err(anyhow::Error::from)?;
    let message = procfile_pr::commit_message(&proposal, &scanned.plan);
    let token = pr.as_ref().map(|(t, _)| t.expose().to_string()).or_else(|| std::env::var(GITHUB_TOKEN).ok());
    let target = PushTarget { remote_url: remote, branch, token: token.as_deref() };
    let outcome =
        push::commit_and_push(fetched.repo(), fetched.commit(), &proposal.changes, &author, &message, &target)
            .map_err(anyhow::Error::from)?;
    match &outcome {
        PushOutcome::Pushed { commit, replaced: None } => {
            print_out(&format!("pushed {branch} to {remote}: {commit} on {}", fetched.commit()))?
        }
        PushOutcome::Pushed { commit, replaced: Some(old) } => {
            print_out(&format!("pushed {branch} to {remote}: {commit} on {} (replaces {old})", fetched.commit()))?
        }
        PushOutcome::UpToDate { commit } => print_out(&format!("{branch} on {remote} is up to date at {commit}"))?,
    }

    let Some((token, repo)) = pr else { return Ok(()) };
    let gh = GitHub::new(&args.github_api_url, &token).map_err(anyhow::Error::from)?;
    let links = Links { repo_url: gh.web_url(&repo), commit: fetched.commit().to_string() };
    let spec = PullRequestSpec {
        head_owner: args.head_owner.clone().unwrap_or_else(|| repo.owner.clone()),
        repo,
        branch: branch.clone(),
        base: args.base.clone(),
        title: procfile_pr::title(&proposal),
        body: procfile_pr::pr_body(&proposal, &scanned.plan, Some(&links)),
    };
    match gh.open_or_update(&spec).map_err(anyhow::Error::from)? {
        PrOutcome::Created { number, url } => print_out(&format!("opened pull request #{number}: {url}"))?,
        PrOutcome::Updated { number, url } => print_out(&format!("updated pull request #{number}: {url}"))?,
    }
    Ok(())
}

pub fn render_cmd(args: RenderArgs) -> Result<(), CliError> {
    check_ref(&args.source, args.git_ref.as_ref())?;
    let scanned =
        scan_source(&args.source, args.git_ref.as_deref(), args.subdir.as_deref(), false, (&args.llm, args.no_llm))?;
    let target = match args.target {
        RenderTarget::Pack => Target::Pack,
        RenderTarget::Docker => Target::Docker,
        RenderTarget::GithubActions => Target::GithubActions,
        RenderTarget::Kamal => Target::Kamal,
    };
    let options = RenderOptions {
        image: args.image,
        healthcheck_path: args.healthcheck_path,
        port: args.port,
        hosts: args.hosts,
        pin_actions: args.pin_actions == PinActions::Sha,
        boot_seconds: args.boot_seconds,
        workflow_name: args.workflow_name,
    };
    let Some(dir) = args.out else {
        let text = render::render(&scanned.plan, target, &options).map_err(anyhow::Error::from)?;
        print_out(text.trim_end())?;
        return Ok(());
    };
    let Some(files) = render::render_files(&scanned.plan, target, &options).map_err(anyhow::Error::from)? else {
        return Err(anyhow::anyhow!("--target {} renders commands, not files: drop --out", target.as_str()).into());
    };
    for (rel, text) in files {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        print_out(&path.display().to_string())?;
    }
    Ok(())
}
