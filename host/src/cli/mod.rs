//! The `switchyard` command line: `up` runs the host, `check` validates routes.toml, `deploy`
//! makes the AWS resources, `pattern` tests event patterns, `dlq` and `replay` operate a host,
//! `tap` watches one.

mod pattern;
mod plugin;
mod progress;
mod remote;
mod run;
mod tap;
mod test;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config;
use crate::plugin::Plugins;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "The transactional outbox pattern in one host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the host with the routes in routes.toml.
    Up {
        #[arg(long, default_value = "routes.toml", env = "SWITCHYARD_ROUTES")]
        routes: PathBuf,
        #[command(flatten)]
        routes_text: RoutesText,
        /// Overrides `host.listen` (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Overrides `host.admin.listen`: the admin door on a listener of its own.
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// Overrides `host.data_dir`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Runs each plugin's `build` command before loading it.
        #[arg(long)]
        build: bool,
    },
    /// Checks routes.toml; prints `ok`, or every problem with its line, and exits non-zero.
    Check {
        #[arg(long, default_value = "routes.toml", env = "SWITCHYARD_ROUTES")]
        routes: PathBuf,
        #[command(flatten)]
        routes_text: RoutesText,
    },
    /// Creates or updates the AWS resources routes.toml names (tables with streams, lease and
    /// idempotency tables, queues with redrive and queue policies, buses, archives, rules and
    /// targets). Running it again changes nothing.
    Deploy {
        #[arg(long, default_value = "routes.toml", env = "SWITCHYARD_ROUTES")]
        routes: PathBuf,
        /// Prints what would change, and changes nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Runs the tests of routes.toml (`routes.test.toml` beside it): each puts an input
    /// through the routes, with the real plugins, and checks what happens at named points (a
    /// pipe, a bus, a queue, a consumer). No socket, nothing kept outside a temporary directory.
    /// Exits 0 when all pass, 1 when one fails (shown as a diff), 2 when they cannot run.
    Test {
        #[arg(long, default_value = "routes.toml", env = "SWITCHYARD_ROUTES")]
        routes: PathBuf,
        /// The tests; by default ROUTES with `.test.toml` for `.toml`.
        #[arg(long)]
        tests: Option<PathBuf>,
    },
    /// Event patterns (EventBridge's language).
    #[command(subcommand)]
    Pattern(PatternCommand),
    /// WebAssembly plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Replays the events archived on a bus, in their original order, through its rules.
    Replay {
        #[arg(long)]
        bus: String,
        /// RFC 3339 time, e.g. 2026-11-24T10:00:00Z.
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "routes.toml", env = "SWITCHYARD_ROUTES")]
        routes: PathBuf,
        /// The host's admin door; by default `host.admin.listen`, or else `host.listen`, from
        /// routes.toml.
        #[arg(long)]
        url: Option<String>,
    },
    /// Writes a routes.toml from an AWS SAM or CloudFormation template (YAML or JSON): tables,
    /// API Gateway -> DynamoDB integrations, pipes, buses, rules, archives, queues, and the SQS
    /// consumers and pipe enrichments of Python and Node.js Lambda functions, as plugin projects
    /// under `plugins/` beside the output. Lists on stderr what each resource became, or why
    /// nothing. Exits 2 when the template cannot be read.
    Import {
        template: PathBuf,
        /// The routes.toml to write; stdout when not given.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replaces an existing `--out` file and plugin projects.
        #[arg(long)]
        force: bool,
        /// `AWS::Region`.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// `AWS::StackName`; by default the template's file name without its extension.
        #[arg(long)]
        stack_name: Option<String>,
    },
    /// Dead-letter queues of a running host: list, show and redrive their messages.
    Dlq {
        #[command(subcommand)]
        action: DlqCommand,
        #[arg(
            long,
            default_value = "routes.toml",
            env = "SWITCHYARD_ROUTES",
            global = true
        )]
        routes: PathBuf,
        /// The host's admin door; by default `host.admin.listen`, or else `host.listen`, from
        /// routes.toml.
        #[arg(long, global = true)]
        url: Option<String>,
    },
    /// Prints the events passing one point of a running host as they pass, one JSON object per
    /// line: `{"point", "time", "data"}`. POINT is `pipe/NAME/in` (the change records a pipe
    /// reads), `pipe/NAME/out` (what it delivers), `rule/BUS/RULE` (the events a rule matched),
    /// `queue/NAME` (the messages sent to a queue) or `consumer/NAME` (each message's outcome).
    /// Runs until `--limit` lines or Ctrl-C (exit 0), or until the host goes away (exit 1). A
    /// tap that reads too slowly loses lines, never events: how many is said on stderr.
    Tap {
        point: String,
        /// Only the lines whose `data` matches this EventBridge event pattern (JSON).
        #[arg(long)]
        pattern: Option<String>,
        /// Stops after this many lines.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        /// How many lines the host holds for this tap while it is behind (default 1000).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=crate::tap::MAX_BUFFER as u64))]
        buffer: Option<u64>,
        #[arg(long, default_value = "routes.toml", env = "SWITCHYARD_ROUTES")]
        routes: PathBuf,
        /// The host's admin door; by default `host.admin.listen`, or else `host.listen`, from
        /// routes.toml.
        #[arg(long)]
        url: Option<String>,
    },
}

/// The routes of `up` and `check` as text, for a container that takes its configuration from
/// the environment.
#[derive(clap::Args)]
struct RoutesText {
    /// routes.toml's text itself, in place of the `--routes` file. Relative paths in it resolve
    /// against the working directory, and problems are shown at `$SWITCHYARD_ROUTES_TOML:LINE`.
    #[arg(
        long = "routes-toml",
        value_name = "TOML",
        env = ROUTES_TOML_ENV,
        hide_env_values = true,
        conflicts_with = "routes"
    )]
    text: Option<String>,
}

const ROUTES_TOML_ENV: &str = "SWITCHYARD_ROUTES_TOML";

impl RoutesText {
    /// The routes: this text when given, else the file at `routes`.
    fn load(&self, routes: &Path) -> Result<config::Config, config::ConfigError> {
        match &self.text {
            // The name stands for the file in messages; its empty parent is the working directory.
            Some(text) => config::compile(text, Path::new(&format!("${ROUTES_TOML_ENV}"))),
            None => config::load(routes),
        }
    }
}

#[derive(Subcommand)]
enum DlqCommand {
    /// Lists the messages of QUEUE, oldest first, one JSON object per line.
    List {
        queue: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Shows one message.
    Show { queue: String, id: String },
    /// Moves every message of QUEUE back to the queue it came from, or to `--to`.
    Redrive {
        queue: String,
        #[arg(long)]
        to: Option<String>,
        /// At most this many messages per second.
        #[arg(long)]
        rate: Option<f64>,
        /// Only this message (repeat for more); by default every message of QUEUE.
        #[arg(long = "message-id", value_name = "ID")]
        message_ids: Vec<String>,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Writes a working plugin project to `DIR/NAME` and prints its routes.toml entry.
    New {
        name: String,
        #[arg(long, value_enum)]
        lang: plugin::Language,
        /// What the plugin does: keep or drop events, enrich them, or consume queue messages.
        #[arg(long, value_enum, default_value = "filter")]
        world: plugin::Kind,
        /// The folder to create the project in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Runs one plugin of routes.toml on a JSON input and prints its answer; its log lines go
    /// to stderr. No host, data dir or socket. Exits 0 when the plugin answered, 1 when it
    /// failed, 2 when the input or routes.toml cannot be used.
    ///
    /// A filter or enricher takes a stream record, an EventBridge event, or an item (made the
    /// record of its insert), or an array of them; a consumer takes messages: `{"body": "..."}`
    /// (with `id`, `receiveCount`, `attributes` if you like) or any JSON value as a body.
    Run {
        name: String,
        /// The input; stdin when not given.
        #[arg(long)]
        input: Option<PathBuf>,
        #[arg(long, default_value = "routes.toml", env = "SWITCHYARD_ROUTES")]
        routes: PathBuf,
    },
}

#[derive(Subcommand)]
enum PatternCommand {
    /// Tests events against patterns, like `aws events test-event-pattern`.
    ///
    /// Without options, reads JSON Lines `{"pattern": ..., "event": ...}` from stdin (each may be
    /// a JSON object or a string holding its text) and writes one line per input line:
    /// `{"matches": true}`, `{"matches": false}` or `{"error": "..."}`. With `--pattern` and
    /// `--event`, tests one pair and exits 0 on a match, 1 on none, 2 when either is invalid.
    Match {
        #[arg(long, requires = "event")]
        pattern: Option<PathBuf>,
        #[arg(long, requires = "pattern")]
        event: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `plugin run` shows the plugin's own lines, down to debug, and little else.
    let default_filter = match cli.command {
        Command::Plugin(PluginCommand::Run { .. }) => "warn,switchyard::plugin=debug",
        Command::Test { .. } => "warn",
        _ => "info",
    };
    // `up` installs its logger once routes.toml says whether traces are exported beside it.
    if !matches!(cli.command, Command::Up { .. }) {
        crate::telemetry::init(default_filter, None);
    }
    match cli.command {
        Command::Check {
            routes,
            routes_text,
        } => match routes_text.load(&routes) {
            Ok(config) => {
                // A missing component is a routes.toml problem, shown at its `wasm` key, once.
                let missing = config.missing_components();
                missing.iter().for_each(|problem| eprintln!("{problem}"));
                let cache = crate::server::plugin_cache(&config);
                let errors = Plugins::load(&config, Some(&cache))
                    .err()
                    .unwrap_or_default();
                let errors = errors.iter().filter(|err| {
                    let key = format!("plugins.{}.wasm", err.plugin);
                    !missing.iter().any(|problem| problem.key == key)
                });
                let mut failed = !missing.is_empty();
                for err in errors {
                    eprintln!("{err}");
                    failed = true;
                }
                if failed {
                    ExitCode::from(1)
                } else {
                    println!("ok");
                    ExitCode::SUCCESS
                }
            }
            Err(err) => {
                eprintln!("{err}");
                ExitCode::from(1)
            }
        },
        Command::Plugin(PluginCommand::New {
            name,
            lang,
            world,
            dir,
        }) => plugin::new(lang, world, &name, &dir),
        Command::Plugin(PluginCommand::Run {
            name,
            input,
            routes,
        }) => run::run(&routes, &name, input.as_deref()),
        Command::Test { routes, tests } => test::run(&routes, tests.as_deref()),
        Command::Import {
            template,
            out,
            force,
            region,
            stack_name,
        } => {
            let out_dir = match out.as_deref().map(std::path::Path::parent) {
                Some(Some(dir)) => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let options = crate::import::Options {
                region,
                stack_name,
                out_dir,
            };
            let bar = progress::spinner("importing");
            let converting = progress::importing(&bar);
            crate::import::run(&template, out.as_deref(), force, options, &converting)
        }
        Command::Deploy { routes, dry_run } => match config::load(&routes) {
            Ok(config) => deploy(&config, dry_run),
            Err(err) => {
                eprintln!("{err}");
                ExitCode::from(1)
            }
        },
        Command::Replay {
            bus,
            from,
            to,
            routes,
            url,
        } => match config::load(&routes) {
            Ok(config) => remote::run(&config, url, &bus, remote::Action::Replay { from, to }),
            Err(err) => {
                eprintln!("{err}");
                ExitCode::from(1)
            }
        },
        Command::Dlq {
            action,
            routes,
            url,
        } => {
            let config = match config::load(&routes) {
                Ok(config) => config,
                Err(err) => {
                    eprintln!("{err}");
                    return ExitCode::from(1);
                }
            };
            let (queue, action) = match action {
                DlqCommand::List { queue, limit } => (queue, remote::Action::List { limit }),
                DlqCommand::Show { queue, id } => (queue, remote::Action::Show { id }),
                DlqCommand::Redrive {
                    queue,
                    to,
                    rate,
                    message_ids,
                } => {
                    let only = Some(message_ids).filter(|ids| !ids.is_empty());
                    (queue, remote::Action::Redrive { to, rate, only })
                }
            };
            remote::run(&config, url, &queue, action)
        }
        Command::Tap {
            point,
            pattern,
            limit,
            buffer,
            routes,
            url,
        } => match config::load(&routes) {
            Ok(config) => {
                let options = tap::Options {
                    point,
                    pattern,
                    limit,
                    buffer: buffer.map(|b| b as usize),
                };
                tap::run(&config, url, options)
            }
            Err(err) => {
                eprintln!("{err}");
                ExitCode::from(1)
            }
        },
        Command::Pattern(PatternCommand::Match { pattern, event }) => match (pattern, event) {
            (Some(pattern), Some(event)) => pattern::match_files(&pattern, &event),
            _ => pattern::match_lines(),
        },
        Command::Up {
            routes,
            routes_text,
            listen,
            admin_listen,
            data_dir,
            build,
        } => {
            let mut config = match routes_text.load(&routes) {
                Ok(config) => config,
                Err(err) => {
                    eprintln!("{err}");
                    eprintln!("switchyard: not starting; fix routes.toml first");
                    return ExitCode::from(1);
                }
            };
            if let Some(listen) = listen {
                config.host.listen = listen;
            }
            if let Some(admin_listen) = admin_listen {
                config.host.admin.listen = Some(admin_listen);
            }
            // routes.toml's own addresses are checked already, with their lines.
            if let Some(problem) = config.host.exposed_admin() {
                let flag = match admin_listen {
                    Some(address) => format!("--admin-listen {address}"),
                    None => format!("--listen {}", config.host.listen),
                };
                eprintln!("switchyard: `{flag}`: {problem}");
                eprintln!("switchyard: not starting");
                return ExitCode::from(1);
            }
            if let Some(data_dir) = data_dir {
                config.host.data_dir = data_dir;
            }
            let traces = crate::telemetry::init(default_filter, Some(&config.host.traces));
            if build && let Err(err) = progress::build_plugins(&config.plugins) {
                eprintln!("switchyard: {err}");
                return ExitCode::from(1);
            }
            let runtime = match async_runtime(tokio::runtime::Builder::new_multi_thread()) {
                Ok(runtime) => runtime,
                Err(code) => return code,
            };
            let served = runtime.block_on(crate::server::run(config));
            // Spans still held go out before the process ends.
            drop(runtime);
            traces.shutdown();
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("switchyard: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `switchyard deploy`: one line per change, `+ ` made or `~ ` planned, then a summary.
fn deploy(config: &config::Config, dry_run: bool) -> ExitCode {
    if config.host.backend != config::Backend::Aws {
        eprintln!(
            "switchyard: `host.backend` is \"embedded\" in this routes.toml; deploy is for \"aws\""
        );
        return ExitCode::from(1);
    }
    let runtime = match async_runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let bar = progress::spinner(if dry_run { "planning" } else { "deploying" });
    let checking = progress::deploying(&bar);
    let plan = runtime.block_on(async {
        let store = crate::backend::aws::AwsStore::connect(
            &config.aws,
            &config.tables,
            &config.queues,
            &config.buses,
        )
        .await;
        (store.deploy_with(&config.queues, &config.buses, dry_run, &checking)).await
    });
    bar.finish_and_clear();
    match plan {
        Ok(plan) => {
            let mark = if dry_run { "~" } else { "+" };
            for change in &plan {
                println!("{mark} {change}");
            }
            match (plan.len(), dry_run) {
                (0, _) => println!("no changes"),
                (n, true) => println!("{n} changes planned; run without --dry-run to make them"),
                (n, false) => println!("{n} changes made"),
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("switchyard: deploy failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The tokio runtime a command runs on; when it cannot start, says so and gives the exit code.
fn async_runtime(
    mut builder: tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|err| {
        eprintln!("switchyard: cannot start the async runtime: {err}");
        ExitCode::FAILURE
    })
}
