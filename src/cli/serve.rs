//! `repo-scanner serve`: flags, configuration, the runtime, and the shutdown signal.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use tracing::info;

use std::sync::Arc;

use repo_scanner::config::{LlmConfig, LlmOverrides};
use repo_scanner::resolver::Resolver;
use repo_scanner::serve::{self, config::Secret, config::ServeConfig, AppState, LlmHook, PlanResolver};

use super::CliError;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: the config's `listen`, else 127.0.0.1:8080].
    #[arg(long, env = "REPO_SCANNER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// TOML configuration: tokens, SSRF allow-list, limits (see `serve::config`).
    #[arg(long, env = "REPO_SCANNER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Shared cache, e.g. redis://127.0.0.1:6379/ [default: in-process].
    #[arg(long, env = "REPO_SCANNER_CACHE_URL")]
    pub cache_url: Option<String>,
    /// Serve without tokens on a non-loopback address.
    #[arg(long)]
    pub allow_unauthenticated_public: bool,
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let config_file = args.config.clone();
    let mut config = match &args.config {
        Some(path) => ServeConfig::load(path).context("loading the configuration")?,
        None => ServeConfig::default(),
    };
    if let Some(url) = args.cache_url {
        config.cache_url = Some(Secret::new(url));
    }
    config.allow_unauthenticated_public |= args.allow_unauthenticated_public;
    let listen = args.listen.or(config.listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    config.validate(listen).context("checking the configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let llm_config =
            LlmConfig::resolve(&LlmOverrides { config_file: config_file.clone(), ..Default::default() }, &|k| {
                std::env::var(k).ok()
            })
            .context("configuring the LLM")?;
        let resolver = Resolver::from_config(&llm_config).context("configuring the LLM")?.map(|resolver| {
            info!(model = %llm_config.model, "LLM resolver connected");
            Arc::new(LlmHook { resolver, runtime: tokio::runtime::Handle::current() }) as Arc<dyn PlanResolver>
        });
        let state = AppState::with_resolver(config, resolver).await.context("starting the server")?;
        info!(addr = %listener.local_addr().context("local address")?, "listening");
        serve::run(listener, state, shutdown_signal()).await.context("serving")?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
