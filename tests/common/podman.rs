//! Podman for the tests of the host's container image, without a registry or a daemon: Debian's
//! `podman` and `runc` (installed with apt-get when missing), with their storage in a temp dir
//! and their settings in a containers.conf of their own, so that nothing under /etc changes.
//! The image is the repository's Dockerfile, its `build` stage replaced by the files this module
//! lays out from the repository: the host built statically, routes.toml and its plugins.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::repo;

/// What this sandbox needs of podman: runc (crun refuses hybrid cgroups), cgroupfs, and
/// ulimits within the hard limits (podman's own defaults fail to be set).
const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"#;

/// A podman whose images, containers and volumes live in a temp dir, removed when dropped.
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    /// Podman ready to use; `Err` says why podman cannot be installed here.
    pub fn new() -> Result<Podman, String> {
        install()?;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("containers.conf"), CONTAINERS_CONF).unwrap();
        Ok(Podman { dir })
    }

    /// `podman ARGS` on this podman's storage.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("podman");
        command
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(args)
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"));
        command
    }

    /// Runs `podman ARGS`, fails the test if it fails, and returns its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.command(args).output().unwrap();
        assert!(
            output.status.success(),
            "`podman {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Builds the repository's Dockerfile as `tag`, from the files of its `build` stage laid out
    /// by this test run, pulling nothing.
    pub fn build_image(&self, tag: &str) {
        let files = self.dir.path().join("build");
        lay_out_image_files(&files);
        let build = format!("build={}", files.display());
        let dockerfile = repo().join("Dockerfile");
        // With the build stage replaced, nothing comes from the main context: an empty one spares
        // podman reading the repository.
        let context = self.dir.path().join("context");
        std::fs::create_dir_all(&context).unwrap();
        self.run(&[
            "build",
            "--pull=never",
            "--quiet",
            "--build-context",
            &build,
            "--file",
            dockerfile.to_str().unwrap(),
            "--tag",
            tag,
            context.to_str().unwrap(),
        ]);
    }

    /// Every file (not folder) of the image `tag`, relative to its root, sorted.
    pub fn image_files(&self, tag: &str) -> Vec<String> {
        let root = PathBuf::from(self.run(&["image", "mount", tag]).trim());
        let mut files = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap();
                    files.push(relative.display().to_string());
                }
            }
        }
        self.run(&["image", "unmount", tag]);
        files.sort();
        files
    }

    /// Runs a container in the background: `podman run --detach --name NAME ARGS`.
    pub fn start(&self, name: &str, args: &[&str]) -> Container<'_> {
        let mut all = vec!["run", "--detach", "--name", name];
        all.extend_from_slice(args);
        self.run(&all);
        Container {
            podman: self,
            name: name.to_string(),
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for args in [
            &["rm", "--all", "--force", "--volumes", "--time", "0"][..],
            &["volume", "rm", "--all", "--force"],
            &["rmi", "--all", "--force"],
        ] {
            let _ = self.command(args).stdout(Stdio::null()).status();
        }
    }
}

/// A container, removed with its anonymous volumes when dropped.
pub struct Container<'p> {
    podman: &'p Podman,
    pub name: String,
}

impl Container<'_> {
    /// What the container printed on stdout and stderr.
    pub fn logs(&self) -> String {
        let output = self.podman.command(&["logs", &self.name]).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// `{{.State.FIELD}}` of `podman inspect`, e.g. `ExitCode`, `Pid`, `Status`.
    pub fn state(&self, field: &str) -> String {
        let format = format!("{{{{.State.{field}}}}}");
        self.podman
            .run(&["inspect", "--format", &format, &self.name])
            .trim()
            .to_string()
    }

    /// Waits until `check` holds; fails with the logs after `within`, or once the container
    /// has exited.
    pub fn wait_for(&self, what: &str, within: Duration, mut check: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            if check(self) {
                return;
            }
            let status = self.state("Status");
            assert!(
                status == "running" && Instant::now() < deadline,
                "{what}: not within {within:?}; the container is {status}; its logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `podman stop --time SECONDS`: SIGTERM, and SIGKILL after SECONDS. Returns the exit code.
    pub fn stop(&self, seconds: u64) -> i32 {
        self.podman
            .run(&["stop", "--time", &seconds.to_string(), &self.name]);
        self.state("ExitCode").parse().unwrap()
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self
            .podman
            .command(&["rm", "--force", "--volumes", "--time", "0", &self.name])
            .stdout(Stdio::null())
            .status();
    }
}

/// Installs podman and runc with apt-get when either is missing; `Err` says why it cannot.
fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let present = |program: &str| {
                Command::new(program)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if present("podman") && present("runc") {
                return Ok(());
            }
            let apt = "export DEBIAN_FRONTEND=noninteractive; \
                 apt-get install -y -q podman runc ca-certificates || { apt-get update -q && apt-get install -y -q podman runc ca-certificates; }";
            let installed = Command::new("sh")
                .args(["-c", apt])
                .stdin(Stdio::null())
                .output();
            match installed {
                _ if present("podman") && present("runc") => Ok(()),
                Ok(output) => Err(format!(
                    "podman and runc are not installed, and `apt-get install podman runc` failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
                Err(err) => Err(format!(
                    "podman and runc are not installed, and apt-get cannot run: {err}"
                )),
            }
        })
        .clone()
}

/// Lays out the files of the Dockerfile's `build` stage in `dir`: `image/` (the host, statically
/// linked, routes.toml and the plugins it names, a /tmp) and `volume/` (the empty data dir).
fn lay_out_image_files(dir: &Path) {
    let image = dir.join("image");
    let etc = image.join("etc/switchyard");
    std::fs::create_dir_all(image.join("usr/local/bin")).unwrap();
    std::fs::create_dir_all(dir.join("volume")).unwrap();
    std::fs::copy(static_host(), image.join("usr/local/bin/switchyard")).unwrap();
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::copy(repo().join("routes.toml"), etc.join("routes.toml")).unwrap();
    for wasm in plugin_files() {
        let to = etc.join(&wasm);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(&wasm), to).unwrap();
    }
    let tmp = image.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
}

/// The `wasm` file of each plugin of the repository's routes.toml, as written there, once built.
pub fn plugin_files() -> Vec<String> {
    super::build_rust_plugins();
    let text = std::fs::read_to_string(repo().join("routes.toml")).unwrap();
    let routes: toml::Table = text.parse().unwrap();
    let plugins = routes["plugins"].as_table().unwrap();
    plugins
        .values()
        .map(|plugin| plugin["wasm"].as_str().unwrap().to_string())
        .collect()
}

/// The host, statically linked (glibc's `crt-static`) with the dev profile, built once per test
/// run for this machine's target with the repository's own cargo command. Its own target triple
/// keeps it apart from the test build; a release build would cost this many times over.
pub fn static_host() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "build",
                "--locked",
                "-p",
                "switchyard",
                "--bin",
                "switchyard",
            ])
            .args([
                "--target",
                &triple,
                "--message-format=json-render-diagnostics",
            ])
            .env(
                "RUSTFLAGS",
                "-C target-feature=+crt-static -C debuginfo=0 -C strip=debuginfo",
            )
            .current_dir(repo())
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "the static build of the host failed"
        );
        let executable = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from));
        executable.expect("cargo names the host's executable")
    })
}
