//! PHP: `composer.json`, or a bare `index.php`. Paketo's php group serves the app with PHP's
//! built-in server by default, from a document root the framework decides (Laravel and Symfony
//! serve `public/`), so the start command is that server on `$PORT`.

use super::{read_json, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode};
use crate::view::RepoView;

pub struct Php;

/// (composer package, framework); the first three are apps by themselves.
const FRAMEWORKS: &[(&str, &str)] = &[
    ("laravel/framework", "laravel"),
    ("symfony/framework-bundle", "symfony"),
    ("slim/slim", "slim"),
    ("johnpbloch/wordpress", "wordpress"),
    ("roots/wordpress", "wordpress"),
];

/// Document roots tried in order when the framework does not fix one.
const DOCROOTS: &[&str] = &["public", "web", "htdocs"];

fn requires(composer: &serde_json::Value) -> impl Iterator<Item = (&String, &serde_json::Value)> {
    ["require", "require-dev"]
        .into_iter()
        .filter_map(|k| composer.get(k).and_then(|r| r.as_object()))
        .flat_map(|o| o.iter())
}

fn framework_of(view: &RepoView, composer: Option<&serde_json::Value>) -> Option<&'static str> {
    let from_composer =
        composer.and_then(|c| FRAMEWORKS.iter().find(|(p, _)| requires(c).any(|(k, _)| k == p)).map(|(_, f)| *f));
    from_composer.or_else(|| {
        if view.is_file("artisan") {
            Some("laravel")
        } else if view.is_file("wp-config.php") || view.is_file("wp-config-sample.php") || view.is_file("wp-load.php") {
            Some("wordpress")
        } else {
            None
        }
    })
}

impl Ecosystem for Php {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::PHP_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Php
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        let mut evidence = Vec::new();
        let mut strength = Strength::Normal;
        if view.is_file("composer.json") {
            evidence.push(Evidence::new(view.repo_path("composer.json"), "php.composer"));
            let composer = read_json(view, "composer.json").ok().flatten();
            if matches!(framework_of(view, composer.as_ref()), Some("laravel" | "symfony" | "slim")) {
                strength = Strength::Strong;
            }
        }
        if view.is_file("index.php") {
            evidence.push(Evidence::new(view.repo_path("index.php"), "php.index"));
        }
        (!evidence.is_empty()).then_some(Detection { language: LanguageName::Php, strength, evidence })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        let composer = match read_json(view, "composer.json") {
            Ok(c) => c,
            Err(w) => {
                a.warnings.push(w);
                None
            }
        };
        if let Some(c) = &composer {
            a.evidence.push(Evidence::new(view.repo_path("composer.json"), "php.composer"));
            a.version = c
                .get("require")
                .and_then(|r| r.get("php"))
                .and_then(|v| v.as_str())
                .map(|v| (v.to_string(), view.repo_path("composer.json")));
        }
        let framework = framework_of(view, composer.as_ref());
        a.framework = framework.map(str::to_string);

        let docroot = if matches!(framework, Some("laravel" | "symfony")) {
            Some("public")
        } else {
            DOCROOTS.iter().copied().find(|d| view.is_file(&format!("{d}/index.php"))).or_else(|| {
                let root_app = view.is_file("index.php") || composer.is_some();
                root_app.then_some(".")
            })
        };
        match docroot {
            Some(root) => {
                let index = if root == "." { "index.php".to_string() } else { format!("{root}/index.php") };
                let ev_file = if view.is_file(&index) { index } else { "composer.json".to_string() };
                let ev = vec![Evidence::new(view.repo_path(&ev_file), "php.docroot")];
                a.processes.push(Candidate::new("web", format!("php -S 0.0.0.0:$PORT -t {root}"), 0.6, ev));
            }
            None => a.questions.push(Question {
                code: QuestionCode::NoWebCommand,
                detail: "no PHP document root: looked for public/, web/, htdocs/ and a root index.php".into(),
            }),
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &[
            "php",
            "composer",
            "php-fpm",
            "httpd",
            "nginx",
            "apache2-foreground",
            "heroku-php-apache2",
            "heroku-php-nginx",
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::WarningCode;

    #[test]
    fn laravel_is_strong_and_serves_public() {
        let v = RepoView::from_memory([
            ("composer.json", r#"{"require": {"php": "^8.2", "laravel/framework": "^11.0"}}"#),
            ("artisan", "#!/usr/bin/env php"),
            ("public/index.php", "<?php"),
        ]);
        assert_eq!(Php.detect(&v).unwrap().strength, Strength::Strong);
        let a = Php.analyze(&v);
        assert_eq!(a.version, Some(("^8.2".into(), "composer.json".into())));
        assert_eq!(a.framework.as_deref(), Some("laravel"));
        assert_eq!(a.processes[0].command, "php -S 0.0.0.0:$PORT -t public");
        assert_eq!(a.processes[0].evidence[0].file, "public/index.php");
    }

    #[test]
    fn docroots_and_plain_index() {
        let v = RepoView::from_memory([("index.php", "<?php echo 1;")]);
        let d = Php.detect(&v).unwrap();
        assert_eq!((d.strength, d.evidence[0].rule.as_str()), (Strength::Normal, "php.index"));
        assert_eq!(Php.analyze(&v).processes[0].command, "php -S 0.0.0.0:$PORT -t .");
        let v = RepoView::from_memory([("composer.json", "{}"), ("htdocs/index.php", "<?php")]);
        assert_eq!(Php.analyze(&v).processes[0].command, "php -S 0.0.0.0:$PORT -t htdocs");
        let v =
            RepoView::from_memory([("composer.json", r#"{"require":{"roots/wordpress":"6"}}"#), ("web/index.php", "")]);
        let a = Php.analyze(&v);
        assert_eq!(a.framework.as_deref(), Some("wordpress"));
        assert_eq!(a.processes[0].command, "php -S 0.0.0.0:$PORT -t web");
        assert!(Php.detect(&RepoView::from_memory([("src/index.php", "")])).is_none());
    }

    #[test]
    fn malformed_composer_is_a_warning() {
        let v = RepoView::from_memory([("composer.json", "{\"require\": ")]);
        assert_eq!(Php.detect(&v).unwrap().strength, Strength::Normal);
        let a = Php.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::ManifestMalformed);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
    }
}
