//! Entry points from what the code does: the scripts that start a long-running process, and
//! whether that process serves HTTP (`web`) or loops on something else (`worker`).
//!
//! Why from the code and not from file names: `bot.py` may serve a webhook and `app.py` may
//! be a Discord bot. A script is a *start* when it has a `__main__` block or a module-level
//! call that blocks (`app.run(`, `client.run(TOKEN)`, `bot.infinity_polling()`); what it
//! blocks on decides the type.

use std::collections::BTreeSet;

use super::calibration as cal;
use crate::cascade::{source_files, Candidate};
use crate::plan::Evidence;
use crate::view::RepoView;

/// Calls that start an HTTP server in-process.
const SERVE_CALLS: &[&str] = &[
    "app.run(",
    "application.run(",
    "server.run(",
    "uvicorn.run(",
    "web.run_app(",
    "socketio.run(",
    "waitress.serve(",
    "serve(app",
    "serve_forever(",
    "run_simple(",
    "make_server(",
    "HTTPServer(",
    "eventlet.wsgi.server(",
    "hypercorn.asyncio.serve(",
    "app.run_server(",
    "run_webhook(",
    "run(host=",
    "IOLoop.current().start(",
    "IOLoop.instance().start(",
    "start_webhook(",
];

/// Libraries whose programs are chat bots: they block on a gateway or on polling, not HTTP.
const BOT_LIBS: &[&str] = &[
    "discord",
    "nextcord",
    "disnake",
    "interactions",
    "hikari",
    "telegram",
    "aiogram",
    "telebot",
    "pyrogram",
    "telethon",
    "slack_bolt",
    "vk_api",
    "twitchio",
];

/// Calls a bot or loop blocks on.
const LOOP_CALLS: &[&str] = &[
    ".run(",
    "run_polling(",
    "infinity_polling(",
    ".polling(",
    "start_polling(",
    "run_until_disconnected(",
    "idle(",
    "asyncio.run(",
    ".start()",
    "run_forever(",
    "run_pending(",
];

/// Script names that run once (set-up, data loading, tests), never a service.
const ONE_SHOT: &[&str] =
    &["setup", "migrate", "seed", "test", "conftest", "manage", "init", "config", "download", "train", "build"];

/// `setup.py`, `migrate_db.py`, `test_bot.py`, `seed-data.py`: a word of [`ONE_SHOT`] as
/// the name or one of its `_`/`-` separated parts (so `latest.py` and `manager.py` stay).
fn one_shot(file: &str) -> bool {
    let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".py").to_ascii_lowercase();
    stem.split(['_', '-', '.']).any(|part| ONE_SHOT.contains(&part) || part.starts_with("test"))
}

/// A framework whose own CLI serves a script: `streamlit run app.py`.
struct Cli {
    module: &'static str,
    /// A call the script must make for the CLI to be its entry point ("" for none).
    marker: &'static str,
    rule: &'static str,
    confidence: f32,
    command: fn(&str) -> String,
}

const CLIS: &[Cli] = &[
    Cli {
        module: "streamlit",
        marker: "",
        rule: "python.streamlit",
        confidence: cal::STREAMLIT,
        command: |f| format!("streamlit run {f} --server.port $PORT --server.address 0.0.0.0"),
    },
    Cli {
        module: "chainlit",
        marker: "",
        rule: "python.chainlit",
        confidence: cal::CHAINLIT,
        command: |f| format!("chainlit run {f} --host 0.0.0.0 --port $PORT"),
    },
    Cli {
        module: "panel",
        marker: ".servable(",
        rule: "python.panel",
        confidence: cal::PANEL,
        command: |f| format!("panel serve {f} --address 0.0.0.0 --port $PORT"),
    },
    Cli {
        module: "bokeh",
        marker: "curdoc(",
        rule: "python.bokeh",
        confidence: cal::PANEL,
        command: |f| format!("bokeh serve {f} --address 0.0.0.0 --port $PORT"),
    },
];

/// What one script's text says about how it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    pub file: String,
    pub imports: BTreeSet<String>,
    /// `if __name__ == "__main__":`
    pub main_block: bool,
    /// Module-level (unindented) lines, where a blocking call makes the import itself a start.
    top_level: Vec<String>,
    text: String,
}

impl Script {
    pub fn parse(file: &str, text: &str) -> Script {
        let mut imports = BTreeSet::new();
        let mut top_level = Vec::new();
        let mut main_block = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("import ") {
                for part in rest.split(',') {
                    if let Some(name) = top_module(part) {
                        imports.insert(name);
                    }
                }
            } else if let Some(rest) = trimmed.strip_prefix("from ") {
                if let Some(name) = top_module(rest) {
                    imports.insert(name);
                }
            }
            if line.starts_with("if __name__") && line.contains("__main__") {
                main_block = true;
            }
            if !line.starts_with([' ', '\t', '#']) && !line.is_empty() {
                top_level.push(line.to_string());
            }
        }
        Script { file: file.to_string(), imports, main_block, top_level, text: text.to_string() }
    }

    pub fn imports(&self, module: &str) -> bool {
        self.imports.contains(module)
    }

    pub fn calls(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.text.contains(n))
    }

    /// Started by `python FILE`: a `__main__` block, or a blocking call at module level.
    fn starts(&self, needles: &[&str]) -> bool {
        self.main_block
            || self.top_level.iter().any(|l| l.starts_with("while True") || needles.iter().any(|n| l.contains(n)))
    }

    fn stem(&self) -> &str {
        self.file.rsplit('/').next().unwrap_or(&self.file).trim_end_matches(".py")
    }

    /// The module name other files import it by (`keep_alive` for `keep_alive.py`).
    fn module(&self) -> &str {
        self.stem()
    }
}

/// `a.b as c` -> `a`.
fn top_module(s: &str) -> Option<String> {
    let name = s.trim().split([' ', '.', '(']).next()?.trim();
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then(|| name.to_string())
}

/// The scripts worth reading: `.py` files at the root and packages' `__main__.py`, best names
/// first. A script deeper down is usually a module of the app (its imports assume the root
/// is on the path), not what the owner starts.
pub fn scripts(view: &RepoView) -> Vec<Script> {
    let mut files = source_files(view, ".py", 1, 400);
    files.retain(|f| !f.contains('/') || f.ends_with("/__main__.py"));
    files.retain(|f| !one_shot(f) && !f.starts_with("pages/"));
    files.sort_by_key(|f| super::entry_rank(f));
    files.iter().filter_map(|f| view.text(f).map(|t| Script::parse(f, &t))).collect()
}

/// A framework CLI's entry point (Streamlit, Chainlit, Panel, Bokeh). Several scripts that
/// qualify at the same depth make the choice a guess, scored as such.
pub fn framework_cli(view: &RepoView, scripts: &[Script], deps: &BTreeSet<String>) -> Option<(Candidate, String)> {
    for cli in CLIS {
        let hits: Vec<&Script> = scripts
            .iter()
            .filter(|s| s.imports(cli.module) && (cli.marker.is_empty() || s.calls(&[cli.marker])))
            .collect();
        let Some(best) = hits.first() else { continue };
        let depth = best.file.matches('/').count();
        let rivals = hits.iter().filter(|s| s.file.matches('/').count() == depth).count();
        let mut conf = if rivals > 1 { cal::SEVERAL } else { cli.confidence };
        if !deps.contains(cli.module) {
            conf = conf.min(cal::SERVER_MISSING);
        }
        let ev = vec![Evidence::new(view.repo_path(&best.file), cli.rule)];
        return Some((Candidate::new("web", (cli.command)(&best.file), conf, ev), cli.module.to_string()));
    }
    None
}

/// Gradio: `demo.launch()` in a script run with `python`.
pub fn gradio(view: &RepoView, scripts: &[Script]) -> Option<Candidate> {
    let s = scripts.iter().find(|s| s.imports("gradio") && s.calls(&[".launch("]))?;
    let ev = vec![Evidence::new(view.repo_path(&s.file), "python.gradio")];
    Some(Candidate::new("web", format!("python {}", s.file), cal::GRADIO, ev))
}

/// What a started script is: web when it serves HTTP (itself or through a module it imports,
/// like a bot's `keep_alive.py`), worker when it blocks on a bot gateway or a scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Web,
    Bot,
    Loop,
}

/// A chat bot's script: it imports a bot library and, when started, blocks on its loop.
pub fn is_bot(script: &Script) -> bool {
    BOT_LIBS.iter().any(|l| script.imports(l)) && script.starts(LOOP_CALLS) && script.calls(LOOP_CALLS)
}

pub fn kind_of(script: &Script, scripts: &[Script]) -> Option<Kind> {
    let serving_import =
        scripts.iter().any(|o| o.file != script.file && script.imports(o.module()) && o.calls(SERVE_CALLS));
    let bot = BOT_LIBS.iter().any(|l| script.imports(l));
    let scheduler = (script.imports("schedule") && script.calls(&["run_pending("]))
        || (script.imports("apscheduler") && script.calls(&["BlockingScheduler"]));
    if script.calls(SERVE_CALLS) && script.starts(SERVE_CALLS) {
        return Some(Kind::Web);
    }
    if (bot || scheduler) && script.starts(LOOP_CALLS) && script.calls(LOOP_CALLS) {
        // A keep-alive page, in the file or a module it imports, binds the port: web.
        return Some(if serving_import || script.calls(SERVE_CALLS) {
            Kind::Web
        } else if bot {
            Kind::Bot
        } else {
            Kind::Loop
        });
    }
    // A `__main__` block that hands control to a library's blocking loop (`start()`,
    // `run_forever()`): long-running, but nothing says it serves HTTP.
    let hands_over =
        script.text.lines().map(str::trim_start).any(|l| l.starts_with("start(") || l.contains(".run_forever("));
    if script.main_block && hands_over {
        return Some(Kind::Loop);
    }
    None
}

/// The scripts `python FILE` starts, web first; the best of each type.
pub fn started(view: &RepoView, scripts: &[Script]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let found: Vec<(&Script, Kind)> = scripts.iter().filter_map(|s| kind_of(s, scripts).map(|k| (s, k))).collect();
    for (wanted, ptype) in [(Kind::Web, "web"), (Kind::Bot, "worker"), (Kind::Loop, "worker")] {
        if out.iter().any(|c| c.kind == ptype) {
            continue;
        }
        let hits: Vec<&&Script> = found.iter().filter(|(_, k)| *k == wanted).map(|(s, _)| s).collect();
        let Some(best) = hits.first() else { continue };
        let (rule, base) = match wanted {
            Kind::Web => ("python.serving_script", cal::SERVING_SCRIPT),
            Kind::Bot => ("python.bot", cal::BOT),
            Kind::Loop => ("python.loop", cal::LOOP),
        };
        let depth = best.file.matches('/').count();
        let rivals = hits.iter().filter(|s| s.file.matches('/').count() == depth).count();
        let conf = if rivals > 1 { cal::SEVERAL } else { base };
        let ev = vec![Evidence::new(view.repo_path(&best.file), rule)];
        out.push(Candidate::new(ptype, run_command(&best.file), conf, ev));
    }
    out
}

/// `python FILE`, or `python -m pkg` for a package's `__main__.py` (its relative imports need
/// the package context).
fn run_command(file: &str) -> String {
    match file.strip_suffix("/__main__.py") {
        Some(pkg) if !pkg.contains('/') => format!("python -m {pkg}"),
        _ => format!("python {file}"),
    }
}

/// The script that imports `module` and starts: a bot that runs its Flask keep-alive server
/// is started by the bot's file, not by a WSGI server pointed at the keep-alive module.
pub fn starter_of<'a>(module: &str, scripts: &'a [Script]) -> Option<&'a Script> {
    scripts.iter().find(|s| {
        s.module() != module
            && s.imports(module)
            && BOT_LIBS.iter().any(|l| s.imports(l))
            && kind_of(s, scripts).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(files: &[(&str, &str)]) -> Vec<(String, String)> {
        let v = RepoView::from_memory(files.iter().copied());
        let s = scripts(&v);
        started(&v, &s).into_iter().map(|c| (c.kind, c.command)).collect()
    }

    #[test]
    fn imports_are_top_level_names() {
        let s = Script::parse("a.py", "import os, discord.ext as d\nfrom telegram.ext import Application\n");
        assert!(s.imports("discord") && s.imports("telegram") && s.imports("os"));
        assert!(!s.imports("ext"));
    }

    #[test]
    fn a_discord_bot_is_a_worker() {
        let bot = [("bot.py", "import discord\nclient = discord.Client()\nclient.run(TOKEN)\n")];
        assert_eq!(kinds(&bot), vec![("worker".to_string(), "python bot.py".to_string())]);
    }

    #[test]
    fn a_bot_with_a_keep_alive_server_is_web() {
        let files = [
            ("main.py", "import discord\nfrom keep_alive import keep_alive\nkeep_alive()\nbot.run(TOKEN)\n"),
            ("keep_alive.py", "from flask import Flask\napp = Flask('')\ndef run():\n  app.run(host='0.0.0.0')\n"),
        ];
        assert_eq!(kinds(&files), vec![("web".to_string(), "python main.py".to_string())]);
    }

    #[test]
    fn a_library_module_that_is_never_started_is_not_an_entry() {
        let files = [("helpers.py", "import telegram\ndef send(bot):\n    bot.run(x)\n")];
        assert!(kinds(&files).is_empty());
    }

    #[test]
    fn one_shot_scripts_by_word_not_by_substring() {
        assert!(
            one_shot("setup.py") && one_shot("migrate_db.py") && one_shot("tests_api.py") && one_shot("seed-data.py")
        );
        assert!(!one_shot("latest.py") && !one_shot("manager_bot.py") && !one_shot("contest.py"));
    }

    #[test]
    fn a_main_block_that_hands_over_to_a_library_loop_is_a_worker_but_a_thread_start_is_not() {
        let task_server = [("workflow.py", "from sdk import task, start\nif __name__ == '__main__':\n    start()\n")];
        assert_eq!(kinds(&task_server), vec![("worker".to_string(), "python workflow.py".to_string())]);
        let one_shot = [(
            "scrape.py",
            "import threading\nif __name__ == '__main__':\n    t = threading.Thread()\n    t.start()\n",
        )];
        assert!(kinds(&one_shot).is_empty());
    }

    #[test]
    fn a_schedule_loop_is_a_worker() {
        let files = [(
            "jobs.py",
            "import schedule, time\nschedule.every(1).minutes.do(f)\nwhile True:\n    schedule.run_pending()\n",
        )];
        assert_eq!(kinds(&files), vec![("worker".to_string(), "python jobs.py".to_string())]);
    }
}
