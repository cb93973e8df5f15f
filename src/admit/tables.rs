//! The allow-list per language: its servers and runners with their known options, and its
//! interpreters. Kept together here, where a security review reads them side by side; each
//! ecosystem names its table (`Ecosystem::admission`), and a language without one admits no
//! model or README command (its plans stay `needs_review`).

use crate::plan::LanguageName;

/// What an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A flag.
    None,
    /// A plain value (a number, a host:port, a name).
    Value,
    /// A file that must exist in the app (it is code or configuration the program loads).
    File,
    /// A relative directory inside the app.
    Dir,
}

#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Spellings; one ending in `*` matches by prefix (`-Xmx*`) and carries its value inline.
    pub names: &'static [&'static str],
    pub arg: Arg,
}

const fn opt(names: &'static [&'static str], arg: Arg) -> Opt {
    Opt { names, arg }
}

/// How a program's positional words are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A server or runner: positionals are targets (`app.main:app`) and subcommands.
    Server,
    /// An interpreter: the first positional is a script that must exist in the app; what
    /// follows is the script's own arguments. `module` is the flag that runs a module instead.
    Interpreter { module: Option<&'static str> },
    /// `npm start`, `yarn dev`: runs a script that must exist in package.json.
    PackageScripts,
}

#[derive(Debug, Clone, Copy)]
pub struct Program {
    pub name: &'static str,
    pub shape: Shape,
    pub opts: &'static [Opt],
    /// When not empty, a server's first positional is one of these (or a script of the app):
    /// `rails server`, never `rails runner`.
    pub subcommands: &'static [&'static str],
}

const fn server(name: &'static str, opts: &'static [Opt]) -> Program {
    Program { name, shape: Shape::Server, opts, subcommands: &[] }
}

const fn with_subcommands(name: &'static str, subcommands: &'static [&'static str], opts: &'static [Opt]) -> Program {
    Program { name, shape: Shape::Server, opts, subcommands }
}

const fn interpreter(name: &'static str, module: Option<&'static str>, opts: &'static [Opt]) -> Program {
    Program { name, shape: Shape::Interpreter { module }, opts, subcommands: &[] }
}

const fn scripts(name: &'static str) -> Program {
    Program { name, shape: Shape::PackageScripts, opts: &[], subcommands: &[] }
}

/// One language's allow-list.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub programs: &'static [Program],
    /// Words that run the rest of the command (`bundle exec`, `uv run`), skipped in front.
    pub wrappers: &'static [&'static [&'static str]],
}

impl Table {
    pub fn program(&self, name: &str) -> Option<&'static Program> {
        self.programs.iter().find(|p| p.name == name)
    }
}

use Arg::{Dir, File, None as Flag, Value};

const GUNICORN: &[Opt] = &[
    opt(&["-b", "--bind"], Value),
    opt(&["-w", "--workers"], Value),
    opt(&["-k", "--worker-class"], Value),
    opt(&["-t", "--timeout"], Value),
    opt(&["--threads"], Value),
    opt(&["--log-level"], Value),
    opt(&["--access-logfile", "--error-logfile"], Value),
    opt(&["--graceful-timeout", "--keep-alive", "--max-requests", "--max-requests-jitter"], Value),
    opt(&["--forwarded-allow-ips", "--worker-tmp-dir"], Value),
    opt(&["--preload", "--reload", "--capture-output"], Flag),
    opt(&["--chdir"], Dir),
    opt(&["-c", "--config"], File),
];
const UVICORN: &[Opt] = &[
    opt(&["--host", "--port", "--workers", "--log-level", "--root-path", "--loop", "--http", "--ws"], Value),
    opt(&["--forwarded-allow-ips", "--timeout-keep-alive", "--limit-concurrency"], Value),
    opt(&["--proxy-headers", "--no-access-log", "--factory", "--reload", "--no-server-header"], Flag),
    opt(&["--app-dir"], Dir),
];
const HYPERCORN: &[Opt] =
    &[opt(&["-b", "--bind", "-w", "--workers", "-k", "--worker-class", "--access-logfile", "--log-level"], Value)];
const DAPHNE: &[Opt] =
    &[opt(&["-b", "--bind", "-p", "--port", "-v", "--verbosity"], Value), opt(&["--proxy-headers"], Flag)];
const CELERY: &[Opt] = &[
    opt(&["-A", "--app", "-l", "--loglevel", "-c", "--concurrency", "-Q", "--queues", "-P", "--pool"], Value),
    opt(&["-n", "--hostname", "-s", "--schedule", "-S", "--scheduler", "--max-tasks-per-child"], Value),
    opt(&["-B", "--beat", "-E", "--without-gossip", "--without-mingle", "--without-heartbeat"], Flag),
];
const FLASK: &[Opt] = &[opt(&["-A", "--app", "-h", "--host", "-p", "--port"], Value), opt(&["--debug"], Flag)];
const STREAMLIT: &[Opt] = &[opt(
    &[
        "--server.port*",
        "--server.address*",
        "--server.headless*",
        "--server.enableCORS*",
        "--browser.gatherUsageStats*",
    ],
    Flag,
)];
const PYTHON: &[Opt] = &[opt(&["-u", "-B", "-O", "-OO"], Flag)];
const WORKER_OPTS: &[Opt] =
    &[opt(&["--url", "-u", "-q", "--queue", "-c", "--config", "-w", "--with-scheduler"], Value)];

pub const PYTHON_TABLE: Table = Table {
    programs: &[
        server("gunicorn", GUNICORN),
        server("uvicorn", UVICORN),
        server("hypercorn", HYPERCORN),
        server("daphne", DAPHNE),
        server("granian", &[opt(&["--interface", "--host", "--port", "--workers"], Value)]),
        server("waitress-serve", &[opt(&["--port*", "--host*", "--listen*", "--threads*"], Flag)]),
        with_subcommands("celery", &["worker", "beat", "flower"], CELERY),
        with_subcommands("flask", &["run"], FLASK),
        with_subcommands(
            "fastapi",
            &["run"],
            &[opt(&["--host", "--port", "--workers"], Value), opt(&["--proxy-headers"], Flag)],
        ),
        with_subcommands("streamlit", &["run"], STREAMLIT),
        with_subcommands("rq", &["worker"], WORKER_OPTS),
        server("dramatiq", &[opt(&["-p", "--processes", "-t", "--threads", "-Q", "--queues"], Value)]),
        interpreter("python", Some("-m"), PYTHON),
        interpreter("python3", Some("-m"), PYTHON),
    ],
    wrappers: &[&["uv", "run"], &["poetry", "run"], &["pipenv", "run"], &["pdm", "run"], &["hatch", "run"]],
};

const NODE: &[Opt] = &[
    opt(&["--enable-source-maps", "--no-warnings", "--no-deprecation", "--trace-warnings"], Flag),
    opt(&["--max-old-space-size=*", "--max-http-header-size=*", "--stack-size=*"], Flag),
];
pub const NODE_TABLE: Table = Table {
    programs: &[
        interpreter("node", None, NODE),
        interpreter("tsx", None, &[]),
        interpreter("ts-node", None, &[opt(&["--transpile-only", "-T"], Flag)]),
        interpreter("bun", None, &[opt(&["--smol"], Flag)]),
        scripts("npm"),
        scripts("yarn"),
        scripts("pnpm"),
        with_subcommands(
            "next",
            &["start"],
            &[opt(&["-p", "--port", "-H", "--hostname", "--keepAliveTimeout"], Value)],
        ),
        with_subcommands("nuxt", &["start", "preview"], &[opt(&["--port", "--host"], Value)]),
        with_subcommands("nest", &["start"], &[]),
        server("remix-serve", &[]),
        server("react-router-serve", &[]),
        with_subcommands("vite", &["preview"], &[opt(&["--port", "--host"], Value), opt(&["--strictPort"], Flag)]),
        server(
            "serve",
            &[opt(&["-l", "--listen", "-p"], Value), opt(&["-s", "--single", "-n", "--no-clipboard"], Flag)],
        ),
        server("pm2-runtime", &[opt(&["-i", "--instances"], Value)]),
    ],
    wrappers: &[],
};

const PUMA: &[Opt] = &[
    opt(&["-C", "--config"], File),
    opt(&["-p", "--port", "-b", "--bind", "-t", "--threads", "-w", "--workers", "-e", "--environment"], Value),
];
pub const RUBY_TABLE: Table = Table {
    programs: &[
        server("puma", PUMA),
        with_subcommands(
            "rails",
            &["server", "s"],
            &[opt(&["-p", "--port", "-b", "--binding", "-e", "--environment"], Value), opt(&["-C", "--config"], File)],
        ),
        server("rackup", &[opt(&["-p", "--port", "-o", "--host", "-E", "--env", "-s", "--server"], Value)]),
        server(
            "unicorn",
            &[opt(&["-c", "--config-file"], File), opt(&["-p", "--port", "-E", "--env", "-l", "--listen"], Value)],
        ),
        with_subcommands(
            "thin",
            &["start"],
            &[opt(&["-p", "--port", "-a", "--address", "-e", "--environment"], Value), opt(&["-R", "--rackup"], File)],
        ),
        server(
            "sidekiq",
            &[
                opt(&["-C", "--config", "-r", "--require"], File),
                opt(&["-q", "--queue", "-c", "--concurrency", "-e", "--environment"], Value),
            ],
        ),
        server("rake", &[]),
        with_subcommands("good_job", &["start"], &[opt(&["--max-threads", "--queues"], Value)]),
        with_subcommands("hanami", &["server"], &[opt(&["-p", "--port"], Value)]),
        interpreter("ruby", None, &[]),
    ],
    wrappers: &[&["bundle", "exec"]],
};

pub const GO_TABLE: Table = Table { programs: &[server("go", &[])], wrappers: &[] };
pub const RUST_TABLE: Table = Table {
    programs: &[with_subcommands(
        "cargo",
        &["run"],
        &[opt(&["--release"], Flag), opt(&["--bin", "-p", "--package", "--features"], Value)],
    )],
    wrappers: &[],
};
pub const JAVA_TABLE: Table = Table {
    programs: &[
        server(
            "java",
            &[
                opt(&["-jar"], File),
                opt(&["-cp", "-classpath"], Value),
                opt(&["-Xmx*", "-Xms*", "-Xss*"], Flag),
                opt(
                    &["-Dserver.port=*", "-Dspring.profiles.active=*", "-Dfile.encoding=*", "-Djava.security.egd=*"],
                    Flag,
                ),
                opt(
                    &[
                        "-XX:+UseContainerSupport",
                        "-XX:MaxRAMPercentage=*",
                        "-XX:InitialRAMPercentage=*",
                        "-XX:+ExitOnOutOfMemoryError",
                    ],
                    Flag,
                ),
            ],
        ),
        server("mvn", &[opt(&["-q"], Flag)]),
        server("gradle", &[]),
    ],
    wrappers: &[],
};
pub const PHP_TABLE: Table = Table {
    programs: &[
        interpreter("php", None, &[opt(&["-S"], Value), opt(&["-t"], Dir)]),
        server("heroku-php-apache2", &[opt(&["-C", "-F"], File)]),
        server("heroku-php-nginx", &[opt(&["-C", "-F"], File)]),
        with_subcommands("frankenphp", &["php-server", "run"], &[opt(&["--listen", "-l", "--root", "-r"], Value)]),
        server("php-fpm", &[opt(&["-F", "--nodaemonize"], Flag)]),
    ],
    wrappers: &[],
};
pub const DOTNET_TABLE: Table = Table {
    programs: &[with_subcommands(
        "dotnet",
        &["run"],
        &[
            opt(&["--project"], Dir),
            opt(&["--urls", "-c", "--configuration", "--launch-profile"], Value),
            opt(&["--no-build", "--no-restore"], Flag),
        ],
    )],
    wrappers: &[],
};
pub const ELIXIR_TABLE: Table = Table {
    programs: &[with_subcommands(
        "mix",
        &["phx.server", "run"],
        &[opt(&["--no-halt", "--no-compile", "--no-deps-check"], Flag)],
    )],
    wrappers: &[],
};
pub const DENO_TABLE: Table = Table {
    programs: &[Program {
        name: "deno",
        shape: Shape::Server,
        subcommands: &["run", "task", "serve"],
        opts: &[
            opt(
                &[
                    "--allow-net*",
                    "--allow-read*",
                    "--allow-env*",
                    "--allow-write*",
                    "--allow-sys*",
                    "-A",
                    "--unstable*",
                ],
                Flag,
            ),
            opt(&["--port"], Value),
            opt(&["--config", "-c", "--import-map"], File),
        ],
    }],
    wrappers: &[],
};
/// Admits nothing: a static site runs no command of its own.
pub const NONE: Table = Table { programs: &[], wrappers: &[] };

/// The allow-list of `language`.
pub fn table(language: LanguageName) -> &'static Table {
    crate::cascade::ecosystem(language).map_or(&NONE, |e| e.admission())
}
