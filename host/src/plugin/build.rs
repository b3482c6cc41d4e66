//! `switchyard up --build`: runs each plugin's `build` command from routes.toml before loading,
//! as `spin up --build` does. Output streams to stderr; the first failure stops the build and
//! names its plugin.

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

/// Runs every distinct build command (a command shared by several plugins runs once).
pub fn build_all(plugins: &[PluginConfig]) -> Result<(), BuildError> {
    let mut done: Vec<(&str, &Path)> = Vec::new();
    for plugin in plugins {
        let Some(command) = plugin.build.as_deref() else {
            continue;
        };
        if done.contains(&(command, plugin.workdir.as_path())) {
            continue;
        }
        tracing::info!(plugin = plugin.name, command, workdir = %plugin.workdir.display(), "building plugin");
        run(command, &plugin.workdir).map_err(|problem| BuildError {
            plugin: plugin.name.clone(),
            command: command.to_string(),
            problem,
        })?;
        done.push((command, plugin.workdir.as_path()));
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
