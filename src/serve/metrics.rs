//! Prometheus metrics, rendered in the text exposition format by hand.
//!
//! Why not the `prometheus` or `metrics` crates: the set is small and fixed (a dozen series),
//! a hand-rolled registry of atomics and one mutex-guarded map is ~150 lines with no extra
//! dependency or global registry, and tests can run several apps in one process without
//! their counters mixing (each `AppState` owns its `Metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the scan duration histogram.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

#[derive(Default)]
pub struct Metrics {
    /// (outcome, strategy, language) -> scans. Outcome: the plan's status, or `failed`.
    scans: Mutex<BTreeMap<(String, String, String), u64>>,
    /// reason -> requests refused before scanning (overload, rate_limit, unauthorized, ...).
    rejections: Mutex<BTreeMap<String, u64>>,
    duration_buckets: [AtomicU64; 14],
    duration_count: AtomicU64,
    /// Microseconds, so the sum stays an integer.
    duration_sum_us: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Git fetches of objects (not ls-remote): a cache hit makes none.
    pub git_fetches: AtomicU64,
    pub in_flight: AtomicI64,
    pub queued: AtomicI64,
    /// LLM accounting; zero until a resolver is connected.
    pub llm_calls: AtomicU64,
    pub llm_tokens_in: AtomicU64,
    pub llm_tokens_out: AtomicU64,
    /// Micro-dollars.
    pub llm_cost_micro_usd: AtomicU64,
}

impl Metrics {
    pub fn scan_finished(&self, outcome: &str, strategy: &str, language: &str, took: Duration) {
        if let Ok(mut m) = self.scans.lock() {
            *m.entry((outcome.into(), strategy.into(), language.into())).or_default() += 1;
        }
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.duration_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        self.duration_sum_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn rejected(&self, reason: &str) {
        if let Ok(mut m) = self.rejections.lock() {
            *m.entry(reason.to_string()).or_default() += 1;
        }
    }

    /// The text exposition format. `cache_errors` comes from the cache itself.
    pub fn render(&self, cache_errors: u64) -> String {
        let mut out = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP repo_scanner_scans_total Scans finished, by outcome (plan status or failed), strategy and language.\n");
        out.push_str("# TYPE repo_scanner_scans_total counter\n");
        if let Ok(m) = self.scans.lock() {
            for ((o, s, l), n) in m.iter() {
                let _ =
                    writeln!(out, "repo_scanner_scans_total{{status=\"{o}\",strategy=\"{s}\",language=\"{l}\"}} {n}");
            }
        }
        out.push_str("# HELP repo_scanner_scan_duration_seconds Time from admission to plan, cache hits included.\n");
        out.push_str("# TYPE repo_scanner_scan_duration_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "repo_scanner_scan_duration_seconds_bucket{{le=\"{b}\"}} {}",
                get(&self.duration_buckets[i])
            );
        }
        let count = get(&self.duration_count);
        let _ = writeln!(out, "repo_scanner_scan_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "repo_scanner_scan_duration_seconds_sum {}", get(&self.duration_sum_us) as f64 / 1e6);
        let _ = writeln!(out, "repo_scanner_scan_duration_seconds_count {count}");
        out.push_str("# HELP repo_scanner_rejections_total Requests refused before any scan, by reason.\n");
        out.push_str("# TYPE repo_scanner_rejections_total counter\n");
        if let Ok(m) = self.rejections.lock() {
            for (r, n) in m.iter() {
                let _ = writeln!(out, "repo_scanner_rejections_total{{reason=\"{r}\"}} {n}");
            }
        }
        let simple: [(&str, &str, &str, String); 10] = [
            (
                "repo_scanner_cache_hits_total",
                "counter",
                "Scans answered from the cache.",
                get(&self.cache_hits).to_string(),
            ),
            (
                "repo_scanner_cache_misses_total",
                "counter",
                "Scans the cache could not answer.",
                get(&self.cache_misses).to_string(),
            ),
            (
                "repo_scanner_cache_errors_total",
                "counter",
                "Cache backend failures (the scan went on without it).",
                cache_errors.to_string(),
            ),
            (
                "repo_scanner_git_fetches_total",
                "counter",
                "Git object fetches (a cache hit makes none).",
                get(&self.git_fetches).to_string(),
            ),
            (
                "repo_scanner_scans_in_flight",
                "gauge",
                "Scans holding a slot now.",
                self.in_flight.load(Ordering::Relaxed).to_string(),
            ),
            (
                "repo_scanner_scans_queued",
                "gauge",
                "Scans waiting for a slot now.",
                self.queued.load(Ordering::Relaxed).to_string(),
            ),
            ("repo_scanner_llm_calls_total", "counter", "Model calls.", get(&self.llm_calls).to_string()),
            (
                "repo_scanner_llm_tokens_in_total",
                "counter",
                "Prompt tokens sent to the model.",
                get(&self.llm_tokens_in).to_string(),
            ),
            (
                "repo_scanner_llm_tokens_out_total",
                "counter",
                "Completion tokens received.",
                get(&self.llm_tokens_out).to_string(),
            ),
            (
                "repo_scanner_llm_cost_usd_total",
                "counter",
                "Estimated model cost in US dollars.",
                (get(&self.llm_cost_micro_usd) as f64 / 1e6).to_string(),
            ),
        ];
        for (name, kind, help, value) in simple {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}
