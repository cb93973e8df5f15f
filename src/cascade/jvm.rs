//! Java and the JVM: Maven (`pom.xml`), Gradle (`build.gradle[.kts]`, `settings.gradle[.kts]`),
//! sbt and Leiningen, which Paketo's java group all builds. The start command runs the jar the
//! build produces, so the rules work out its path the way Maven and Gradle name it.
//!
//! The POM is read with string scanning rather than an XML parser: the few tags needed sit at
//! known places, and a malformed POM must still give what can be read.

use std::collections::HashMap;

use super::{is_plain_name, manifest_warning, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode};
use crate::view::RepoView;

pub struct Jvm;

/// (file, rule, strength): Maven and Gradle builds are apps; the rest only say "JVM here".
const INDICATORS: &[(&str, &str, Strength)] = &[
    ("pom.xml", "jvm.maven", Strength::Strong),
    ("build.gradle", "jvm.gradle", Strength::Strong),
    ("build.gradle.kts", "jvm.gradle", Strength::Strong),
    ("settings.gradle", "jvm.gradle", Strength::Normal),
    ("settings.gradle.kts", "jvm.gradle", Strength::Normal),
    ("build.sbt", "jvm.sbt", Strength::Normal),
    ("project.clj", "jvm.leiningen", Strength::Normal),
];

/// Loops over `${...}` resolution are capped: properties may refer to each other.
const MAX_RESOLVE: usize = 8;

/// `<properties>` entries read at most, so a hostile POM cannot make the scan quadratic.
const MAX_PROPERTIES: usize = 512;

// ---- XML scanning -------------------------------------------------------------------------

fn strip_comments(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("-->").map_or("", |j| &rest[i + j + 3..]);
    }
    out.push_str(rest);
    out
}

/// Byte range of the first `<tag>` or `<tag attr..>` element: (start of open tag, start of
/// content, end of content, end of close tag).
fn element(xml: &str, tag: &str) -> Option<(usize, usize, usize, usize)> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut from = 0;
    while let Some(i) = xml[from..].find(&open).map(|i| i + from) {
        let after = i + open.len();
        match xml[after..].chars().next() {
            Some('>') | Some(' ') | Some('\t') | Some('\n') | Some('\r') => {
                let content = xml[after..].find('>').map(|j| after + j + 1)?;
                let end = xml[content..].find(&close).map(|j| content + j)?;
                return Some((i, content, end, end + close.len()));
            }
            _ => from = after,
        }
    }
    None
}

fn inner<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    element(xml, tag).map(|(_, c, e, _)| &xml[c..e])
}

fn text_of(xml: &str, tag: &str) -> Option<String> {
    inner(xml, tag).map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && !s.contains('<'))
}

/// `xml` with every `tags` element cut out, in one pass per tag.
fn without(xml: &str, tags: &[&str]) -> String {
    let mut s = xml.to_string();
    for tag in tags {
        let mut out = String::with_capacity(s.len());
        let mut rest = s.as_str();
        while let Some((a, _, _, b)) = element(rest, tag) {
            out.push_str(&rest[..a]);
            rest = &rest[b..];
        }
        out.push_str(rest);
        s = out;
    }
    s
}

/// Simple `<name>value</name>` children of `<properties>`.
fn properties(pom: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(mut rest) = inner(pom, "properties") else {
        return out;
    };
    for _ in 0..MAX_PROPERTIES {
        let Some(i) = rest.find('<') else { break };
        let Some(j) = rest[i..].find('>').map(|j| i + j) else {
            break;
        };
        let name = &rest[i + 1..j];
        let close = format!("</{name}>");
        match rest[j + 1..].find(&close) {
            Some(k) if !name.starts_with('/') && !name.ends_with('/') => {
                out.insert(name.to_string(), rest[j + 1..j + 1 + k].trim().to_string());
                rest = &rest[j + 1 + k + close.len()..];
            }
            _ => rest = &rest[j + 1..],
        }
    }
    out
}

fn resolve(value: &str, props: &HashMap<String, String>) -> Option<String> {
    let mut v = value.to_string();
    for _ in 0..MAX_RESOLVE {
        let Some(i) = v.find("${") else { return Some(v) };
        let j = v[i..].find('}').map(|j| i + j)?;
        let with = props.get(&v[i + 2..j])?.clone();
        v.replace_range(i..=j, &with);
    }
    None
}

/// What the POM says about the project itself.
#[derive(Debug)]
struct Pom {
    packaging: String,
    modules: Vec<String>,
    /// The jar path, or why it is unknown.
    jar: Result<String, String>,
    java: Option<String>,
    /// `<mainClass>` anywhere in the build (assembly, shade, exec, boot plugins).
    main_class: Option<String>,
    text: String,
}

fn parse_pom(raw: &str) -> Pom {
    let xml = strip_comments(raw);
    // The project's own coordinates are the ones outside these blocks.
    let own = without(
        &xml,
        &["parent", "dependencies", "dependencyManagement", "build", "profiles", "reporting", "properties", "modules"],
    );
    let parent = inner(&xml, "parent").unwrap_or("");
    let mut props = properties(&xml);
    let artifact = text_of(&own, "artifactId");
    let version = text_of(&own, "version").or_else(|| text_of(parent, "version"));
    for (k, v) in [("artifactId", &artifact), ("version", &version)] {
        if let Some(v) = v {
            props.entry(format!("project.{k}")).or_insert_with(|| v.clone());
            props.entry(k.to_string()).or_insert_with(|| v.clone());
        }
    }
    let packaging = text_of(&own, "packaging").unwrap_or_else(|| "jar".into());
    let modules = inner(&xml, "modules")
        .map(|m| {
            m.split("<module>")
                .skip(1)
                .filter_map(|s| s.split("</module>").next())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    let final_name = inner(&xml, "build")
        .map(|b| without(b, &["plugins", "pluginManagement", "resources", "testResources", "extensions"]))
        .and_then(|b| text_of(&b, "finalName"));
    let ext = if packaging == "war" { "war" } else { "jar" };
    let jar = match (final_name, &artifact, &version) {
        (Some(f), _, _) => resolve(&f, &props).ok_or(format!("<finalName>{f}</finalName> uses unknown properties")),
        (None, Some(a), Some(v)) => {
            resolve(&format!("{a}-{v}"), &props).ok_or(format!("artifactId/version {a}-{v} use unknown properties"))
        }
        _ => Err("pom.xml names no artifactId and version".into()),
    }
    .map(|name| format!("target/{name}.{ext}"));
    let java = ["java.version", "maven.compiler.release", "maven.compiler.source"]
        .iter()
        .find_map(|k| props.get(*k).and_then(|v| resolve(v, &props)))
        .filter(|v| !v.is_empty());
    // maven-assembly-plugin's jar-with-dependencies: the runnable jar is the suffixed one.
    let jar = if xml.contains("<descriptorRef>jar-with-dependencies</descriptorRef>") {
        jar.map(|j| j.replace(".jar", "-jar-with-dependencies.jar"))
    } else {
        jar
    };
    let main_class = text_of(&xml, "mainClass").and_then(|m| resolve(&m, &props)).filter(|m| is_plain_name(m));
    Pom { packaging, modules, jar, java, main_class, text: xml }
}

/// Libraries of chat bots and gateway clients: with no web framework beside them, the app is
/// a worker.
const BOTS: &[&str] =
    &["net.dv8tion", "org.javacord", "com.discord4j", "org.telegram", "telegrambots", "com.slack.api"];

/// Web servers and frameworks: an app with one of these serves HTTP.
const WEB: &[&str] = &[
    "spring-boot-starter-web",
    "spring-boot-starter-webflux",
    "com.sparkjava",
    "io.javalin",
    "org.eclipse.jetty",
    "io.quarkus",
    "io.micronaut",
    "io.vertx",
    "io.ktor",
    "org.apache.tomcat",
    "<packaging>war</packaging>",
    "io.dropwizard",
];

/// True for a bot: a bot library and no web framework.
fn is_bot(build: &str) -> bool {
    BOTS.iter().any(|b| build.contains(b)) && !WEB.iter().any(|w| build.contains(w))
}

/// A jar that holds only the project's classes (no shade, assembly or Boot repackaging) next
/// to `maven-dependency-plugin`'s copy-dependencies: it runs from the classpath, not `-jar`.
fn classpath_run(pom: &Pom) -> bool {
    let t = &pom.text;
    t.contains("copy-dependencies")
        && !t.contains("maven-shade-plugin")
        && !t.contains("maven-assembly-plugin")
        && !t.contains("spring-boot-maven-plugin")
        && pom.packaging != "war"
}

/// The class whose source declares `static void main` under src/main/java: the app's entry
/// when the build names none. Several: no answer.
fn main_class_in_sources(view: &RepoView) -> Option<String> {
    let mains: Vec<String> = view
        .files()
        .filter(|p| p.starts_with("src/main/java/") && p.ends_with(".java"))
        .take(2000)
        .filter(|p| view.text(p).is_some_and(|t| t.contains("static void main(")))
        .map(|p| p["src/main/java/".len()..p.len() - ".java".len()].replace('/', "."))
        .collect();
    if let [only] = mains.as_slice() {
        Some(only.clone())
    } else {
        None
    }
}

/// In an aggregator POM, the module that builds the runnable jar: the one with the Spring Boot
/// plugin, else the only module whose build names a main class. Its jar path is prefixed by
/// the module directory.
fn app_module(view: &RepoView, pom: &Pom) -> Option<(String, Pom)> {
    let parsed: Vec<(String, Pom)> = pom
        .modules
        .iter()
        .filter(|m| is_plain_name(m))
        .filter_map(|m| view.text(&format!("{m}/pom.xml")).map(|t| (m.clone(), parse_pom(&t))))
        .filter(|(_, p)| p.packaging != "pom")
        .collect();
    let pick = |f: &dyn Fn(&Pom) -> bool| {
        let hits: Vec<usize> = parsed.iter().enumerate().filter(|(_, (_, p))| f(p)).map(|(i, _)| i).collect();
        if let [i] = hits.as_slice() {
            Some(*i)
        } else {
            None
        }
    };
    let i = pick(&|p| p.text.contains("spring-boot-maven-plugin")).or_else(|| pick(&|p| p.main_class.is_some()))?;
    parsed.into_iter().nth(i)
}

// ---- Gradle scanning ----------------------------------------------------------------------

/// A value assigned to `key` in a Gradle script: `key = 'v'`, `key "v"`, `key.set("v")`.
/// Ok(literal), Err(()) when set by an expression, None when not set.
fn gradle_value(script: &str, key: &str, top_level: bool) -> Option<Result<String, ()>> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    script.lines().find_map(|line| {
        let at = if top_level {
            line.starts_with(key).then_some(0)?
        } else {
            line.match_indices(key).map(|(i, _)| i).find(|&i| !line[..i].ends_with(word))?
        };
        let rest = &line[at + key.len()..];
        if rest.starts_with(word) {
            return None;
        }
        let rest = rest.trim_start();
        let rest = rest.strip_prefix(".set(").or_else(|| rest.strip_prefix('=')).unwrap_or(rest).trim_start();
        let q = rest.chars().next().filter(|c| *c == '\'' || *c == '"');
        Some(match q.and_then(|q| rest[1..].find(q).map(|e| &rest[1..=e])) {
            Some(v) if !v.contains('$') && !v.is_empty() => Ok(v.to_string()),
            _ => Err(()),
        })
    })
}

/// Digits (and dots) right after `marker`, e.g. `JavaLanguageVersion.of(` -> `17`.
fn number_after(text: &str, marker: &str) -> Option<String> {
    let i = text.find(marker)? + marker.len();
    let v: String = text[i..].chars().take_while(|c| c.is_ascii_digit() || *c == '_' || *c == '.').collect();
    let v = v.replace('_', ".");
    (!v.is_empty()).then_some(v)
}

fn gradle_java(script: &str) -> Option<String> {
    number_after(script, "JavaLanguageVersion.of(")
        .or_else(|| number_after(script, "jvmToolchain("))
        .or_else(|| number_after(script, "JavaVersion.VERSION_"))
        .or_else(|| {
            gradle_value(script, "sourceCompatibility", false)
                .and_then(Result::ok)
                .or_else(|| number_after(script, "sourceCompatibility = "))
        })
}

/// The body of a top-level `jar { ... }` block (old Gradle set `baseName` and `version` there).
fn jar_block(script: &str) -> Option<&str> {
    let from = if script.starts_with("jar {") { 0 } else { script.find("\njar {")? + 1 };
    let body = &script[from..];
    let end = body.find("\n}").unwrap_or(body.len());
    Some(&body[..end])
}

/// The jar Gradle builds: `archiveFileName`, else `<base>-<version>.jar` with base from
/// `archiveBaseName`/`baseName`, `rootProject.name` or the directory; Gradle leaves the
/// version out of the name when none is set.
fn gradle_jar(view: &RepoView, script: &str) -> Result<String, String> {
    if let Some(v) = gradle_value(script, "archiveFileName", false) {
        return v.map(|f| format!("build/libs/{f}")).map_err(|()| "archiveFileName is set by an expression".into());
    }
    let settings = ["settings.gradle", "settings.gradle.kts"].iter().find_map(|f| view.text(f)).unwrap_or_default();
    let dir = view.subdir().rsplit('/').next().filter(|d| !d.is_empty()).map(|d| Ok(d.to_string()));
    let base = gradle_value(script, "archiveBaseName", false)
        .or_else(|| gradle_value(script, "baseName", false))
        .or_else(|| gradle_value(&settings, "rootProject.name", false))
        .or(dir)
        .ok_or(
            "no archiveBaseName or rootProject.name: Gradle names the jar after the build directory, and Paketo's \
             executable-jar buildpack runs the jar it finds itself, so no command is invented; set rootProject.name \
             in settings.gradle to pin one",
        )?
        .map_err(|()| "the jar's base name is set by an expression")?;
    let props = view.text("gradle.properties").unwrap_or_default();
    let version = gradle_value(script, "archiveVersion", false)
        .or_else(|| jar_block(script).and_then(|b| gradle_value(b, "version", false)))
        .or_else(|| gradle_value(script, "version", true))
        .or_else(|| props.lines().find_map(|l| l.trim().strip_prefix("version=").map(|v| Ok(v.trim().to_string()))));
    match version {
        None => Ok(format!("build/libs/{base}.jar")),
        Some(Ok(v)) => Ok(format!("build/libs/{base}-{v}.jar")),
        Some(Err(())) => Err("the project version is set by an expression".into()),
    }
}

// ---- the ecosystem ------------------------------------------------------------------------

fn question(detail: String) -> Question {
    Question { code: QuestionCode::NoWebCommand, detail }
}

impl Ecosystem for Jvm {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::JAVA_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Java
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        let hits: Vec<_> = INDICATORS.iter().filter(|(f, _, _)| view.is_file(f)).collect();
        let strength = hits.iter().map(|(_, _, s)| *s).max()?;
        let evidence = hits.iter().map(|(f, r, _)| Evidence::new(view.repo_path(f), *r)).collect();
        Some(Detection { language: LanguageName::Java, strength, evidence })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        let read = |file: &str, a: &mut Analysis| -> Option<String> {
            if !view.is_file(file) {
                return None;
            }
            match view.read_text(file) {
                Ok(t) => {
                    let rule = INDICATORS.iter().find(|(f, _, _)| *f == file).map_or("jvm.build", |(_, r, _)| *r);
                    a.evidence.push(Evidence::new(view.repo_path(file), rule));
                    Some(t)
                }
                Err(e) => {
                    a.warnings.push(manifest_warning(view, file, &e));
                    None
                }
            }
        };

        // Version: system.properties (the Heroku convention Paketo users carry over) first.
        if let Some(t) = view.text("system.properties") {
            a.version = t
                .lines()
                .find_map(|l| l.trim().strip_prefix("java.runtime.version")?.trim_start().strip_prefix('='))
                .map(|v| (v.trim().to_string(), view.repo_path("system.properties")));
        }

        let pom_file = view.repo_path("pom.xml");
        let gradle_file = ["build.gradle.kts", "build.gradle"].into_iter().find(|f| view.is_file(f));
        let mut bot: bool;
        let mut classpath_main: Option<String> = None;
        let (jar, tool, file, spec) = if let Some(text) = read("pom.xml", &mut a) {
            let pom = parse_pom(&text);
            if a.version.is_none() {
                a.version = pom.java.clone().map(|v| (v, pom_file.clone()));
            }
            a.framework = framework(&pom.text);
            bot = is_bot(&pom.text);
            let mut spec = "jvm.maven";
            let jar = if pom.packaging == "pom" {
                match app_module(view, &pom) {
                    Some((dir, module)) => {
                        spec = "jvm.maven_module";
                        a.framework = framework(&module.text).or(a.framework.take());
                        bot = is_bot(&module.text);
                        module.jar.map(|j| format!("{dir}/{j}"))
                    }
                    None => Err(format!(
                        "pom.xml is an aggregator (packaging pom) of modules {}; which one is the app?",
                        pom.modules.join(", ")
                    )),
                }
            } else if a.framework.as_deref() == Some("quarkus") {
                Ok("target/quarkus-app/quarkus-run.jar".to_string())
            } else if classpath_run(&pom) {
                match pom.main_class.clone().or_else(|| main_class_in_sources(view)) {
                    Some(main) => {
                        classpath_main = Some(main);
                        spec = "jvm.maven_classpath";
                        Ok(String::new())
                    }
                    None => pom.jar,
                }
            } else {
                pom.jar
            };
            (jar, "maven", pom_file, spec)
        } else if let Some(gf) = gradle_file {
            let text = read(gf, &mut a).unwrap_or_default();
            if a.version.is_none() {
                a.version = gradle_java(&text).map(|v| (v, view.repo_path(gf)));
            }
            a.framework = framework(&text);
            bot = is_bot(&text);
            let jar = if a.framework.as_deref() == Some("quarkus") {
                Ok("build/quarkus-app/quarkus-run.jar".to_string())
            } else {
                gradle_jar(view, &text)
            };
            (jar, "gradle", view.repo_path(gf), "jvm.gradle")
        } else {
            for f in ["settings.gradle", "settings.gradle.kts", "build.sbt", "project.clj"] {
                read(f, &mut a);
            }
            let detail = if view.is_file("pom.xml") {
                format!("{pom_file} could not be read, so the jar to run is unknown")
            } else {
                "no pom.xml or build.gradle at the root (only settings.gradle, build.sbt or project.clj), so the \
                 jar to run is unknown"
                    .into()
            };
            a.questions.push(question(detail));
            return a;
        };

        let jar = jar.and_then(|j| {
            if is_plain_name(&j) || classpath_main.is_some() {
                Ok(j)
            } else {
                Err(format!("the jar path {j:?} is not a plain file name"))
            }
        });
        match jar {
            Ok(jar) => {
                let (prop, confidence) = match a.framework.as_deref() {
                    // jvm.maven earned 0.83 (4/4, eval/calibration.md), Spring Boot jars all.
                    Some("spring-boot") if spec == "jvm.maven" => ("-Dserver.port=$PORT ", 0.83),
                    // jvm.gradle earned 0.5 (1/2); the module and classpath rules 0.67 (1/1).
                    Some("spring-boot") if spec == "jvm.gradle" => ("-Dserver.port=$PORT ", 0.5),
                    Some("spring-boot") => ("-Dserver.port=$PORT ", 0.67),
                    Some("quarkus") => ("-Dquarkus.http.port=$PORT ", 0.7),
                    Some("micronaut") => ("-Dmicronaut.server.port=$PORT ", 0.65),
                    _ => ("", 0.5),
                };
                let run = match &classpath_main {
                    Some(main) => format!("-cp target/classes:target/dependency/* {main}"),
                    None => format!("-jar {jar}"),
                };
                let (kind, spec, confidence) =
                    if bot { ("worker", "jvm.bot", 0.67) } else { ("web", spec, confidence) };
                let cmd = format!("java {prop}$JAVA_OPTS {run}");
                // Spring profiles named after process types (application-worker.yml) are how
                // one jar runs as both: each process activates its own.
                let profile = |p: &str| {
                    ["properties", "yml", "yaml"]
                        .iter()
                        .map(|ext| format!("src/main/resources/application-{p}.{ext}"))
                        .find(|f| view.is_file(f))
                };
                let spring = a.framework.as_deref() == Some("spring-boot");
                match (spring, profile("worker")) {
                    (true, Some(worker_file)) => {
                        let web_cmd = match profile("web") {
                            Some(_) => format!("{cmd} --spring.profiles.active=web"),
                            None => cmd.clone(),
                        };
                        let ev = |f: &str| {
                            vec![
                                Evidence::new(file.clone(), spec),
                                Evidence::new(view.repo_path(f), "jvm.spring_profile"),
                            ]
                        };
                        a.processes.push(Candidate::new("web", web_cmd, confidence, ev(&worker_file)));
                        let worker_cmd = format!("{cmd} --spring.profiles.active=worker");
                        a.processes.push(Candidate::new("worker", worker_cmd, confidence.min(0.7), ev(&worker_file)));
                    }
                    _ => a.processes.push(Candidate::new(kind, cmd, confidence, vec![Evidence::new(file, spec)])),
                }
            }
            Err(why) => a.questions.push(question(format!("no java start command ({tool}): {why}"))),
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &["java", "mvn", "mvnw", "gradle", "gradlew", "sbt", "lein"]
    }
}

/// Spring Boot, Quarkus or Micronaut, from a build file's text.
fn framework(text: &str) -> Option<String> {
    let f = if text.contains("spring-boot") || text.contains("org.springframework.boot") {
        "spring-boot"
    } else if text.contains("io.quarkus") {
        "quarkus"
    } else if text.contains("io.micronaut") {
        "micronaut"
    } else {
        return None;
    };
    Some(f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::WarningCode;

    const POM: &str = r#"<?xml version="1.0"?>
<project>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.2.0</version>
  </parent>
  <!-- <artifactId>commented</artifactId> -->
  <groupId>com.example</groupId>
  <artifactId>demo</artifactId>
  <version>0.0.1-SNAPSHOT</version>
  <properties>
    <java.version>17</java.version>
  </properties>
  <dependencies>
    <dependency><artifactId>spring-boot-starter-web</artifactId><version>1</version></dependency>
  </dependencies>
</project>"#;

    fn web(a: &Analysis) -> &str {
        a.processes.iter().find(|p| p.kind == "web").map_or("", |p| p.command.as_str())
    }

    #[test]
    fn spring_boot_maven_jar() {
        let v = RepoView::from_memory([("pom.xml", POM), ("mvnw", "")]);
        let d = Jvm.detect(&v).unwrap();
        assert_eq!((d.strength, d.evidence[0].rule.as_str()), (Strength::Strong, "jvm.maven"));
        let a = Jvm.analyze(&v);
        assert_eq!(a.version, Some(("17".into(), "pom.xml".into())));
        assert_eq!(a.framework.as_deref(), Some("spring-boot"));
        assert_eq!(web(&a), "java -Dserver.port=$PORT $JAVA_OPTS -jar target/demo-0.0.1-SNAPSHOT.jar");
    }

    #[test]
    fn maven_final_name_packaging_and_inherited_version() {
        let pom = "<project><parent><artifactId>p</artifactId><version>2.0</version></parent>\
                   <artifactId>svc</artifactId><packaging>war</packaging>\
                   <properties><maven.compiler.release>21</maven.compiler.release></properties>\
                   <build><finalName>${project.artifactId}-app</finalName><plugins><plugin>\
                   <configuration><finalName>x</finalName></configuration></plugin></plugins></build></project>";
        let v = RepoView::from_memory([("pom.xml", pom), ("system.properties", "java.runtime.version=11\n")]);
        let a = Jvm.analyze(&v);
        assert_eq!(a.version, Some(("11".into(), "system.properties".into())));
        assert_eq!(web(&a), "java $JAVA_OPTS -jar target/svc-app.war");
        let v = RepoView::from_memory([("pom.xml", "<project><artifactId>a</artifactId></project>")]);
        assert_eq!(Jvm.analyze(&v).version, None);
        let v = RepoView::from_memory([(
            "pom.xml",
            "<project><artifactId>a</artifactId><packaging>pom</packaging><modules><module>web</module></modules></project>",
        )]);
        let a = Jvm.analyze(&v);
        assert!(a.processes.is_empty());
        assert!(a.questions[0].detail.contains("web"));
    }

    #[test]
    fn gradle_jar_names() {
        let build = "plugins {\n  id 'org.springframework.boot' version '3.2.0'\n}\nversion = '0.1.0'\n\
                     java {\n  toolchain {\n    languageVersion = JavaLanguageVersion.of(21)\n  }\n}\n";
        let v = RepoView::from_memory([("build.gradle", build), ("settings.gradle", "rootProject.name = 'shop'\n")]);
        let a = Jvm.analyze(&v);
        assert_eq!(a.version, Some(("21".into(), "build.gradle".into())));
        assert_eq!(web(&a), "java -Dserver.port=$PORT $JAVA_OPTS -jar build/libs/shop-0.1.0.jar");
        let kts = "plugins { id(\"io.micronaut.application\") }\nsourceCompatibility = JavaVersion.VERSION_1_8\n\
                   tasks.jar {\n  archiveBaseName.set(\"svc\")\n}\n";
        let a = Jvm.analyze(&RepoView::from_memory([("build.gradle.kts", kts)]));
        assert_eq!(a.version.as_ref().unwrap().0, "1.8");
        assert_eq!(web(&a), "java -Dmicronaut.server.port=$PORT $JAVA_OPTS -jar build/libs/svc.jar");
        let a = Jvm.analyze(&RepoView::from_memory([("build.gradle", "bootJar { archiveFileName = 'app.jar' }\n")]));
        assert_eq!(web(&a), "java $JAVA_OPTS -jar build/libs/app.jar");
        let old = "apply plugin: 'spring-boot'\njar {\n\tbaseName = 'chess'\n\tversion =  '0.0.1'\n}\n";
        let a = Jvm.analyze(&RepoView::from_memory([("build.gradle", old)]));
        assert_eq!(web(&a), "java -Dserver.port=$PORT $JAVA_OPTS -jar build/libs/chess-0.0.1.jar");
        let a = Jvm.analyze(&RepoView::from_memory([("build.gradle", "plugins { id 'java' }\n")]));
        assert!(a.processes.is_empty() && a.questions[0].detail.contains("runs the jar it finds itself"));
        let a = Jvm.analyze(&RepoView::from_memory([("build.gradle", "version = computeVersion()\n")]));
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
    }

    #[test]
    fn quarkus_and_secondary_builds() {
        let v = RepoView::from_memory([(
            "pom.xml",
            "<project><groupId>io.quarkus</groupId><artifactId>q</artifactId><version>1</version></project>",
        )]);
        let a = Jvm.analyze(&v);
        assert_eq!(web(&a), "java -Dquarkus.http.port=$PORT $JAVA_OPTS -jar target/quarkus-app/quarkus-run.jar");
        let v = RepoView::from_memory([("build.sbt", "name := \"x\"")]);
        assert_eq!(Jvm.detect(&v).unwrap().strength, Strength::Normal);
        assert_eq!(Jvm.analyze(&v).questions[0].code, QuestionCode::NoWebCommand);
    }

    #[test]
    fn broken_manifests_do_not_panic() {
        let v = RepoView::from_memory([("pom.xml", &b"\0PK"[..])]);
        let a = Jvm.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::ManifestBinary);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
        for junk in ["<project><artifactId>", "<project><artifactId>a b</artifactId><version>1</version>", "<<<>>>"] {
            let a = Jvm.analyze(&RepoView::from_memory([("pom.xml", junk)]));
            assert!(a.processes.is_empty(), "{junk}");
        }
    }
}
