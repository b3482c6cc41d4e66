//! `switchyard up --build`: runs each plugin's `build` command from routes.toml before loading,
//! as `spin up --build` does. Output streams to stderr (or, on a terminal, to a display that
//! shows which build runs); the first failure stops the build and names its plugin.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::config::PluginConfig;

/// A plugin whose build command failed.
#[derive(Debug, thiserror::Error)]
#[error("building plugin `{plugin}` failed: `{command}` {problem}")]
pub struct BuildError {
    pub plugin: String,
    pub command: String,
    pub problem: String,
}

/// What a terminal shows of the builds while they run, in place of their plain output.
pub trait BuildDisplay: Sync {
    /// Build `index` (from 1) of `count` starts: `plugin`'s `command`.
    fn start(&self, plugin: &str, command: &str, index: usize, count: usize);
    /// A line the running build wrote, on its stdout or its stderr.
    fn line(&self, line: &str);
}

/// Runs every distinct build command (a command shared by several plugins runs once). Their
/// output goes to stderr as it comes, or, with a `display`, line by line to it.
pub fn build_all(
    plugins: &[PluginConfig],
    display: Option<&dyn BuildDisplay>,
) -> Result<(), BuildError> {
    let mut builds: Vec<(&PluginConfig, &str)> = Vec::new();
    for plugin in plugins {
        let Some(command) = plugin.build.as_deref() else {
            continue;
        };
        let same = |(built, done): &(&PluginConfig, &str)| {
            *done == command && built.workdir == plugin.workdir
        };
        if !builds.iter().any(same) {
            builds.push((plugin, command));
        }
    }
    for (index, (plugin, command)) in builds.iter().enumerate() {
        let ran = match display {
            None => {
                tracing::info!(plugin = plugin.name, command, workdir = %plugin.workdir.display(), "building plugin");
                run(command, &plugin.workdir)
            }
            Some(display) => {
                display.start(&plugin.name, command, index + 1, builds.len());
                run_shown(command, &plugin.workdir, display)
            }
        };
        ran.map_err(|problem| BuildError {
            plugin: plugin.name.clone(),
            command: command.to_string(),
            problem,
        })?;
    }
    Ok(())
}

/// Runs `command` with `sh -c` in `workdir`, its output going to our stderr.
pub fn run(command: &str, workdir: &Path) -> Result<(), String> {
    let stderr = || {
        std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::inherit())
    };
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(stderr())
        .stderr(stderr())
        .status()
        .map_err(|err| format!("could not start in `{}`: {err}", workdir.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}

/// Runs `command` with `sh -c` in `workdir`, each line of its output going to `display`.
fn run_shown(command: &str, workdir: &Path, display: &dyn BuildDisplay) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("could not start in `{}`: {err}", workdir.display()))?;
    let outputs: [Option<Box<dyn std::io::Read + Send>>; 2] = [
        child.stdout.take().map(|out| Box::new(out) as _),
        child.stderr.take().map(|err| Box::new(err) as _),
    ];
    std::thread::scope(|scope| {
        for output in outputs.into_iter().flatten() {
            scope.spawn(move || {
                let lines = std::io::BufRead::lines(std::io::BufReader::new(output));
                lines
                    .map_while(Result::ok)
                    .for_each(|line| display.line(&line));
            });
        }
    });
    let status = child
        .wait()
        .map_err(|err| format!("could not be waited for: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}
