//! .NET: a project file (`*.csproj`, `*.fsproj`, `*.vbproj`) or a solution at the root.
//! Paketo's dotnet-core group publishes the app into the working directory, so the start
//! command runs `<AssemblyName>.dll` there and binds Kestrel to `$PORT` with `--urls`.

use super::{is_plain_name, manifest_warning, read_json, Analysis, Candidate, Detection, Ecosystem, Strength};
use crate::plan::{Evidence, LanguageName, Question, QuestionCode};
use crate::view::RepoView;

pub struct Dotnet;

const PROJECT_EXTS: &[&str] = &[".csproj", ".fsproj", ".vbproj"];

/// Solution-less project search goes this deep below the root.
const PROJECT_DEPTH: usize = 3;

fn is_project(path: &str) -> bool {
    PROJECT_EXTS.iter().any(|e| path.ends_with(e))
}

/// Text between `<tag>` and `</tag>`, trimmed.
fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let i = xml.find(&open)? + open.len();
    let j = xml[i..].find(&format!("</{name}>"))? + i;
    Some(xml[i..j].trim().to_string()).filter(|s| !s.is_empty())
}

/// Project paths a solution lists: `Project("{..}") = "Name", "dir\Name.csproj", "{..}"`.
fn solution_projects(sln: &str) -> Vec<String> {
    sln.lines()
        .filter(|l| l.trim_start().starts_with("Project("))
        .filter_map(|l| l.split('"').nth(5).map(|p| p.replace('\\', "/")))
        .filter(|p| is_project(p))
        .collect()
}

/// `net8.0` -> `8.0`, `netcoreapp3.1` -> `3.1`; the first of `<TargetFrameworks>`.
fn target_version(project: &str) -> Option<String> {
    let tfm = tag(project, "TargetFramework").or_else(|| tag(project, "TargetFrameworks"))?;
    let first = tfm.split(';').next()?.trim();
    let v = first.strip_prefix("netcoreapp").or_else(|| first.strip_prefix("net"))?;
    let v = v.split('-').next()?;
    (v.starts_with(|c: char| c.is_ascii_digit()) && v.contains('.')).then(|| v.to_string())
}

fn question(detail: String) -> Question {
    Question { code: QuestionCode::NoWebCommand, detail }
}

impl Ecosystem for Dotnet {
    fn admission(&self) -> &'static crate::admit::tables::Table {
        &crate::admit::tables::DOTNET_TABLE
    }

    fn language(&self) -> LanguageName {
        LanguageName::Dotnet
    }

    fn detect(&self, view: &RepoView) -> Option<Detection> {
        let mut evidence: Vec<Evidence> = Vec::new();
        for (name, is_dir) in view.list_dir("") {
            if is_dir {
                continue;
            }
            if is_project(&name) {
                evidence.push(Evidence::new(view.repo_path(&name), "dotnet.project"));
            } else if name.ends_with(".sln") || name.ends_with(".slnx") {
                evidence.push(Evidence::new(view.repo_path(&name), "dotnet.sln"));
            }
        }
        (!evidence.is_empty()).then_some(Detection {
            language: LanguageName::Dotnet,
            strength: Strength::Strong,
            evidence,
        })
    }

    fn analyze(&self, view: &RepoView) -> Analysis {
        let mut a = Analysis::default();
        match read_json(view, "global.json") {
            Ok(Some(g)) => {
                a.evidence.push(Evidence::new(view.repo_path("global.json"), "dotnet.global_json"));
                a.version = g
                    .get("sdk")
                    .and_then(|s| s.get("version"))
                    .and_then(|v| v.as_str())
                    .map(|v| (v.to_string(), view.repo_path("global.json")));
            }
            Ok(None) => {}
            Err(w) => a.warnings.push(w),
        }

        // Candidates: root projects, else the solutions' projects, else projects nearby.
        let root: Vec<String> =
            view.list_dir("").into_iter().filter(|(n, d)| !d && is_project(n)).map(|(n, _)| n).collect();
        let mut candidates = root.clone();
        if candidates.is_empty() {
            for sln in view.root_files_ending(".sln") {
                match view.read_text(&sln) {
                    Ok(t) => {
                        a.evidence.push(Evidence::new(view.repo_path(&sln), "dotnet.sln"));
                        candidates.extend(solution_projects(&t).into_iter().filter(|p| view.is_file(p)));
                    }
                    Err(e) => a.warnings.push(manifest_warning(view, &sln, &e)),
                }
            }
            if candidates.is_empty() {
                candidates = view.find_files(PROJECT_DEPTH, is_project);
            }
            candidates.sort();
            candidates.dedup();
        }

        let mut texts: Vec<(String, String)> = Vec::new();
        for p in &candidates {
            match view.read_text(p) {
                Ok(t) => texts.push((p.clone(), t)),
                Err(e) => a.warnings.push(manifest_warning(view, p, &e)),
            }
        }
        let web: Vec<&(String, String)> = texts.iter().filter(|(_, t)| t.contains("Microsoft.NET.Sdk.Web")).collect();
        // A single root project is the app whatever its SDK; elsewhere only a web project is.
        let chosen = match (web.as_slice(), texts.as_slice()) {
            ([one], _) => Some(*one),
            ([], [only]) if root.len() == 1 => Some(only),
            _ => None,
        };
        let Some((path, text)) = chosen else {
            let names = candidates.join(", ");
            a.questions.push(question(if web.len() > 1 {
                format!("several ASP.NET projects and none is obviously the app: {names}")
            } else if candidates.is_empty() {
                "no .NET project file found at the root, in a solution or below".into()
            } else {
                format!("no ASP.NET (Microsoft.NET.Sdk.Web) project among: {names}")
            }));
            return a;
        };

        let file = view.repo_path(path);
        a.evidence.push(Evidence::new(file.clone(), "dotnet.project"));
        if a.version.is_none() {
            a.version = target_version(text).map(|v| (v, file.clone()));
        }
        let is_web = text.contains("Microsoft.NET.Sdk.Web");
        if is_web {
            a.framework = Some("aspnetcore".into());
        }
        let stem = path.rsplit('/').next().and_then(|n| n.rsplit_once('.')).map_or("", |(s, _)| s);
        let assembly = tag(text, "AssemblyName").unwrap_or_else(|| stem.to_string());
        if !is_plain_name(&assembly) || assembly.contains('/') {
            a.questions.push(question(format!("the assembly name {assembly:?} in {file} is not a plain file name")));
            return a;
        }
        let ev = vec![Evidence::new(file.clone(), "dotnet.assembly")];
        if text.contains("Microsoft.NET.Sdk.Worker") {
            a.processes.push(Candidate::new("worker", format!("dotnet {assembly}.dll"), 0.6, ev));
            a.questions
                .push(question(format!("{file} is a worker service (Microsoft.NET.Sdk.Worker): no web process")));
        } else {
            let confidence = if is_web { 0.6 } else { 0.5 };
            let cmd = format!("dotnet {assembly}.dll --urls http://0.0.0.0:$PORT");
            a.processes.push(Candidate::new("web", cmd, confidence, ev));
        }
        a
    }

    fn programs(&self) -> &'static [&'static str] {
        &["dotnet"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::WarningCode;

    const WEB: &str = r#"<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
</Project>"#;

    #[test]
    fn root_web_project() {
        let v = RepoView::from_memory([("Api.csproj", WEB), ("Program.cs", "")]);
        let d = Dotnet.detect(&v).unwrap();
        assert_eq!((d.strength, d.evidence[0].rule.as_str()), (Strength::Strong, "dotnet.project"));
        let a = Dotnet.analyze(&v);
        assert_eq!(a.version, Some(("8.0".into(), "Api.csproj".into())));
        assert_eq!(a.framework.as_deref(), Some("aspnetcore"));
        assert_eq!(a.processes[0].command, "dotnet Api.dll --urls http://0.0.0.0:$PORT");
    }

    #[test]
    fn global_json_and_assembly_name() {
        let proj = "<Project Sdk=\"Microsoft.NET.Sdk.Web\"><PropertyGroup>\
                    <TargetFramework>netcoreapp3.1</TargetFramework><AssemblyName>Shop.Web</AssemblyName>\
                    </PropertyGroup></Project>";
        let v = RepoView::from_memory([("global.json", r#"{"sdk": {"version": "8.0.100"}}"#), ("app.fsproj", proj)]);
        let a = Dotnet.analyze(&v);
        assert_eq!(a.version, Some(("8.0.100".into(), "global.json".into())));
        assert_eq!(a.processes[0].command, "dotnet Shop.Web.dll --urls http://0.0.0.0:$PORT");
        assert_eq!(target_version("<TargetFramework>netcoreapp3.1</TargetFramework>").as_deref(), Some("3.1"));
        assert_eq!(
            target_version("<TargetFrameworks>net6.0-windows;net8.0</TargetFrameworks>").as_deref(),
            Some("6.0")
        );
        assert_eq!(target_version("<TargetFramework>netstandard2.0</TargetFramework>"), None);
    }

    #[test]
    fn solution_picks_the_web_project() {
        let sln = "Microsoft Visual Studio Solution File\n\
                   Project(\"{FAE04EC0}\") = \"Web\", \"src\\Web\\Web.csproj\", \"{1}\"\nEndProject\n\
                   Project(\"{FAE04EC0}\") = \"Lib\", \"src\\Lib\\Lib.csproj\", \"{2}\"\nEndProject\n";
        let v = RepoView::from_memory([
            ("App.sln", sln),
            ("src/Web/Web.csproj", WEB),
            ("src/Lib/Lib.csproj", "<Project Sdk=\"Microsoft.NET.Sdk\"></Project>"),
        ]);
        assert_eq!(Dotnet.detect(&v).unwrap().evidence[0].rule, "dotnet.sln");
        let a = Dotnet.analyze(&v);
        assert_eq!(a.processes[0].command, "dotnet Web.dll --urls http://0.0.0.0:$PORT");
        assert_eq!(a.processes[0].evidence[0].file, "src/Web/Web.csproj");
        let two = RepoView::from_memory([("A.sln", ""), ("a/A.csproj", WEB), ("b/B.csproj", WEB)]);
        let a = Dotnet.analyze(&two);
        assert!(a.processes.is_empty());
        assert!(a.questions[0].detail.contains("a/A.csproj, b/B.csproj"));
    }

    #[test]
    fn broken_files_do_not_panic() {
        let v = RepoView::from_memory([("global.json", "{"), ("My App.csproj", WEB)]);
        let a = Dotnet.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::ManifestMalformed);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
        let v = RepoView::from_memory([("x.csproj", &b"\0\0"[..])]);
        let a = Dotnet.analyze(&v);
        assert_eq!(a.warnings[0].code, WarningCode::ManifestBinary);
        assert_eq!(a.questions[0].code, QuestionCode::NoWebCommand);
        assert!(Dotnet.detect(&RepoView::from_memory([("src/x.csproj", "")])).is_none());
    }
}
