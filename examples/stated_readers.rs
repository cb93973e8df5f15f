//! Per-reader measurement of `stated`: for every case of a corpus (Procfile hidden), each
//! command a reader states, and whether its process key matches the label's.
//!
//! cargo run --example stated_readers -- /work/shared/wild /work/shared/corpus

use std::collections::BTreeMap;
use std::path::Path;

use repo_scanner::cascade::{choose_primary, detect_all, stated};
use repo_scanner::command::process_key;
use repo_scanner::source::{self, Request};
use repo_scanner::view::Limits;

fn main() -> anyhow::Result<()> {
    for corpus in std::env::args().skip(1) {
        let labels: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(Path::new(&corpus).join("labels.json"))?)?;
        let cases = labels.get("cases").and_then(|c| c.as_array()).cloned().or_else(|| labels.as_array().cloned());
        let mut per_rule: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for case in cases.unwrap_or_default() {
            let id = case["id"].as_str().unwrap_or_default();
            let dir = Path::new(&corpus).join("repos").join(id).join(case["subdir"].as_str().unwrap_or(""));
            let Ok(loaded) = source::load(&Request::Dir(dir), Limits::default()) else { continue };
            let view = loaded.view.without(&["Procfile"]);
            let Some(procs) = case.pointer("/expected/processes").and_then(|p| p.as_object()) else { continue };
            let language = choose_primary(detect_all(&view), &[]).primary.map(|d| d.language);
            for s in stated::commands(&view, language) {
                let Some(label) = procs.get(&s.kind) else {
                    println!("{corpus} {id} {} `{}` kind not labelled", s.origin.rule(), s.command);
                    continue;
                };
                let want = label.pointer("/key/program").and_then(|v| v.as_str());
                let got = process_key(&s.command);
                let ok = got.as_ref().is_some_and(|k| Some(k.program.as_str()) == want);
                let e = per_rule.entry(s.origin.rule()).or_default();
                e.0 += 1;
                e.1 += u32::from(ok);
                println!(
                    "{corpus} {id} {} {} `{}` conf {:.2} match={ok}",
                    s.origin.rule(),
                    s.kind,
                    s.command,
                    s.confidence
                );
            }
        }
        for (rule, (n, ok)) in per_rule {
            println!("{corpus}: {rule}: {ok}/{n} program matches");
        }
    }
    Ok(())
}
