//! Ruby: a Gemfile (or `gems.rb`) at the root. Paketo's ruby group picks the web server from
//! the Gemfile (puma, thin, unicorn, then rackup), so the inferred commands follow that order.

use super::{manifest_warning, version_file, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode};
use crate::view::RepoView;

pub struct Ruby;

/// Gems that make a Gemfile an app rather than a library or a tooling helper.
const APP_GEMS: &[&str] = &["rails", "sinatra", "rack", "puma", "hanami", "roda"];

/// Root scripts tried first for a classic Sinatra app, in this order.
const SINATRA_SCRIPTS: &[&str] = &["app.rb", "main.rb", "server.rb", "web.rb", "application.rb"];

fn gemfile(view: &RepoView) -> Option<&'static str> {
    ["Gemfile", "gems.rb"].into_iter().find(|f| view.is_file(f))
}

/// The first quoted string at the start of `s` (`'x'` or `"x"`).
fn quoted(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &s[1..];
    rest.find(q).map(|end| &rest[..end])
}

/// Gem names declared with `gem 'name'` / `gem("name", ...)`; group blocks count too.
fn parse_gems(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("gem")?;
            let rest = rest.strip_prefix('(').or_else(|| rest.strip_prefix(|c: char| c.is_whitespace()))?;
            quoted(rest).map(str::to_string)
        })
        .collect()
}

/// `ruby "3.3.7"` in a Gemfile (ignores `ruby file: ".ruby-version"`, read separately).
fn gemfile_ruby(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("ruby")?;
        let rest = rest.strip_prefix('(').or_else(|| rest.strip_prefix(|c: char| c.is_whitespace()))?;
        quoted(rest).filter(|v| !v.is_empty() && v.len() <= 64).map(str::to_string)
    })
}

/// A root script that runs a classic Sinatra app by itself (`require 'sinatra'`, or
/// `sinatra/base` with `run!`).
fn sinatra_script(view: &RepoView) -> Option<String> {
    let mut files = view.root_files_ending(".rb");
    files.retain(|f| f != "gems.rb");
    files.sort_by_key(|f| SINATRA_SCRIPTS.iter().position(|s| s == f).unwrap_or(usize::MAX));
    files.into_iter().find(|f| {
        view.text(f).is_some_and(|t| {
            t.lines().any(|l| {
                let l = l.trim();
                l.strip_prefix("require")
                    .and_then(quoted)
                    .is_some_and(|r| r == "sinatra" || (r == "sinatra/base" && t.contains("run!")))
            })
        })
    })
}

impl Ecosystem for Ruby {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::RUBY_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Ruby
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        let file = gemfile(view)?;
        let mut evidence = vec![Evidence::new(view.repo_path(file), "ruby.gemfile")];
        let gems = view.text(file).map(|t| parse_gems(&t)).unwrap_or_default();
        let app_gem = gems.iter().any(|g| APP_GEMS.contains(&g.as_str()));
        if view.is_file("config.ru") {
            evidence.push(Evidence::new(view.repo_path("config.ru"), "ruby.rackup"));
        }
        let strength = if app_gem || view.is_file("config.ru") { Strength::Strong } else { Strength::Normal };
        Some(Detection { language: LanguageName::Ruby, strength, evidence })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        let Some(file) = gemfile(view) else { return a };
        let gf = view.repo_path(file);
        let text = match view.read_text(file) {
            Ok(t) => t,
            Err(e) => {
                a.warnings.push(manifest_warning(view, file, &e));
                String::new()
            }
        };
        let gems = parse_gems(&text);
        let has = |g: &str| gems.iter().any(|x| x == g);

        a.version = version_file(view, ".ruby-version")
            .map(|(v, f)| (v.strip_prefix("ruby-").unwrap_or(&v).to_string(), f))
            .or_else(|| gemfile_ruby(&text).map(|v| (v, gf.clone())));

        let rails = has("rails") || view.is_file("config/application.rb");
        let rackup = view.is_file("config.ru");
        a.framework = if rails {
            Some("rails")
        } else if has("hanami") {
            Some("hanami")
        } else if has("sinatra") {
            Some("sinatra")
        } else if has("roda") {
            Some("roda")
        } else if has("rack") || rackup {
            Some("rack")
        } else {
            None
        }
        .map(str::to_string);

        let gemfile_ev = Evidence::new(gf.clone(), "ruby.gemfile");
        // Only a config that binds $PORT itself can stand without `-p $PORT`.
        let puma_conf = has("puma") && view.text("config/puma.rb").is_some_and(|t| t.contains("PORT"));
        let unicorn_conf = view.is_file("config/unicorn.rb") && has("unicorn");
        if (rails || rackup) && (puma_conf || unicorn_conf) {
            // The app's own server config names its port and workers: run the server with it.
            let (cmd, conf_file, rule) = if puma_conf {
                ("bundle exec puma -C config/puma.rb", "config/puma.rb", "ruby.puma_config")
            } else {
                ("bundle exec unicorn -p $PORT -c ./config/unicorn.rb", "config/unicorn.rb", "ruby.unicorn_config")
            };
            let ev = vec![Evidence::new(view.repo_path(conf_file), rule), gemfile_ev.clone()];
            a.processes.push(Candidate::new("web", cmd, 0.67, ev));
        } else if rails {
            let mut ev = vec![gemfile_ev.clone()];
            if view.is_file("config/application.rb") {
                ev.push(Evidence::new(view.repo_path("config/application.rb"), "ruby.rails"));
            }
            // ruby.gemfile earned 0.75 (2/2, eval/calibration.md).
            let confidence = if ev.len() == 2 && has("rails") { 0.75 } else { 0.7 };
            a.processes.push(Candidate::new("web", "bundle exec rails server -b 0.0.0.0 -p $PORT", confidence, ev));
        } else if rackup {
            // Same precedence as Paketo's ruby group: the server gem the app bundles wins.
            let cmd = if has("puma") {
                "bundle exec puma --bind tcp://0.0.0.0:$PORT config.ru"
            } else if has("thin") {
                "bundle exec thin start -a 0.0.0.0 -p $PORT -R config.ru"
            } else if has("unicorn") {
                "bundle exec unicorn --listen 0.0.0.0:$PORT config.ru"
            } else {
                "bundle exec rackup config.ru -p $PORT -o 0.0.0.0"
            };
            let ev = vec![gemfile_ev.clone(), Evidence::new(view.repo_path("config.ru"), "ruby.rackup")];
            a.processes.push(Candidate::new("web", cmd, 0.75, ev));
        } else if has("sinatra") {
            match sinatra_script(view) {
                Some(script) if super::is_plain_name(&script) => {
                    let ev = vec![gemfile_ev.clone(), Evidence::new(view.repo_path(&script), "ruby.sinatra_script")];
                    let cmd = format!("bundle exec ruby {script} -p $PORT -o 0.0.0.0");
                    a.processes.push(Candidate::new("web", cmd, 0.7, ev));
                }
                _ => {}
            }
        }
        if a.processes.is_empty() {
            a.questions.push(Question {
                code: QuestionCode::NoWebCommand,
                detail: format!(
                    "no web command for ruby: looked for rails ({gf}, config/application.rb), config.ru and a root \
                     script requiring sinatra"
                ),
            });
        }

        if has("sidekiq") {
            let mut cmd = "bundle exec sidekiq".to_string();
            let mut ev = vec![gemfile_ev.clone()];
            if view.is_file("config/sidekiq.yml") {
                cmd.push_str(" -C config/sidekiq.yml");
                ev.push(Evidence::new(view.repo_path("config/sidekiq.yml"), "ruby.sidekiq"));
            }
            a.processes.push(Candidate::new("worker", cmd, 0.6, ev));
        } else if has("resque") {
            a.processes.push(Candidate::new("worker", "QUEUE=* bundle exec rake resque:work", 0.5, vec![gemfile_ev]));
        } else if has("good_job") {
            a.processes.push(Candidate::new("worker", "bundle exec good_job start", 0.5, vec![gemfile_ev]));
        } else if has("delayed_job") || has("delayed_job_active_record") {
            a.processes.push(Candidate::new("worker", "bundle exec rake jobs:work", 0.5, vec![gemfile_ev]));
        }
        a.evidence.push(Evidence::new(gf, "ruby.gemfile"));
        if let Some((_, f)) = &a.version {
            if f.ends_with(".ruby-version") {
                a.evidence.push(Evidence::new(f.clone(), "ruby.version"));
            }
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &["ruby", "bundle", "rails", "rackup", "puma", "unicorn", "thin", "sidekiq", "rake", "hanami", "passenger"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::WarningCode;

    fn web(a: &Analysis) -> Option<&str> {
        a.processes.iter().find(|p| p.kind == "web").map(|p| p.command.as_str())
    }

    #[test]
    fn rails_app_is_strong_with_version_and_server() {
        let v = RepoView::from_memory([
            ("Gemfile", "source 'https://rubygems.org'\nruby \"3.3.7\"\ngem 'rails', '~> 7.1'\ngem \"puma\"\n"),
            ("config/application.rb", "module App; end"),
            ("config.ru", "run Rails.application"),
        ]);
        let d = Ruby.detect(&v).unwrap();
        assert_eq!(d.strength, Strength::Strong);
        let a = Ruby.analyze(&v);
        assert_eq!(a.version, Some(("3.3.7".into(), "Gemfile".into())));
        assert_eq!(a.framework.as_deref(), Some("rails"));
        assert_eq!(web(&a), Some("bundle exec rails server -b 0.0.0.0 -p $PORT"));
        assert!(a.questions.is_empty());
    }

    #[test]
    fn ruby_version_file_wins_and_drops_prefix() {
        let v = RepoView::from_memory([("Gemfile", "ruby '3.1.0'\ngem 'rake'\n"), (".ruby-version", "ruby-3.2.2\n")]);
        let a = Ruby.analyze(&v);
        assert_eq!(a.version, Some(("3.2.2".into(), ".ruby-version".into())));
        assert_eq!(Ruby.detect(&v).unwrap().strength, Strength::Normal);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
    }

    #[test]
    fn rack_app_uses_the_bundled_server() {
        let v = RepoView::from_memory([("Gemfile", "gem 'rack'\ngem 'puma'\n"), ("config.ru", "run App")]);
        assert_eq!(web(&Ruby.analyze(&v)), Some("bundle exec puma --bind tcp://0.0.0.0:$PORT config.ru"));
        let v = RepoView::from_memory([("Gemfile", "gem 'rack'\n"), ("config.ru", "run App")]);
        let a = Ruby.analyze(&v);
        assert_eq!(web(&a), Some("bundle exec rackup config.ru -p $PORT -o 0.0.0.0"));
        assert_eq!(a.framework.as_deref(), Some("rack"));
    }

    #[test]
    fn classic_sinatra_script() {
        let v = RepoView::from_memory([
            ("Gemfile", "source 'x'\n# gem 'rails'\ngroup :web do\n  gem(\"sinatra\")\nend\n"),
            ("helper.rb", "puts 1"),
            ("hello.rb", "require 'sinatra'\nget('/') { 'hi' }\n"),
        ]);
        let a = Ruby.analyze(&v);
        assert_eq!(a.framework.as_deref(), Some("sinatra"));
        assert_eq!(web(&a), Some("bundle exec ruby hello.rb -p $PORT -o 0.0.0.0"));
    }

    #[test]
    fn workers_from_gems() {
        let v = RepoView::from_memory([
            ("Gemfile", "gem 'rails'\ngem 'sidekiq'\n"),
            ("config/sidekiq.yml", ":queues: [default]"),
        ]);
        let a = Ruby.analyze(&v);
        let w = a.processes.iter().find(|p| p.kind == "worker").unwrap();
        assert_eq!(w.command, "bundle exec sidekiq -C config/sidekiq.yml");
        let v = RepoView::from_memory([("gems.rb", "gem 'resque'\n")]);
        let a = Ruby.analyze(&v);
        assert_eq!(a.processes[0].command, "QUEUE=* bundle exec rake resque:work");
    }

    #[test]
    fn binary_gemfile_is_a_warning() {
        let v = RepoView::from_memory([("Gemfile", &b"\0\x01gem"[..])]);
        assert_eq!(Ruby.detect(&v).unwrap().strength, Strength::Normal);
        let a = Ruby.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::ManifestBinary);
        assert!(Ruby.detect(&RepoView::from_memory([("Rakefile", "")])).is_none());
    }
}
