//! Plugin templates, end to end: `switchyard plugin new` in each language writes a project that
//! `switchyard up --build` builds and loads.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Host, run};

fn template_builds_and_loads(language: &str) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("my-{language}-filter");
    let output = run(&[
        "plugin",
        "new",
        &name,
        "--lang",
        language,
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let entry = String::from_utf8(output.stdout).unwrap();
    assert!(entry.contains(&format!("[plugins.{name}]")), "{entry}");
    assert!(
        dir.path().join(&name).join("wit/plugin.wit").exists(),
        "the WIT contract comes along"
    );

    // The printed entry is all routes.toml needs: the host builds the plugin and loads it.
    let host = Host::start_with(&entry, &["--build"]);
    assert!(host.url.starts_with("http://127.0.0.1:"));
    let again = run(&[
        "plugin",
        "new",
        &name,
        "--lang",
        language,
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing project is never overwritten"
    );
}

#[test]
fn the_rust_template_builds_and_loads() {
    template_builds_and_loads("rust");
}

#[test]
fn the_javascript_template_builds_and_loads() {
    template_builds_and_loads("js");
}

#[test]
fn the_python_template_builds_and_loads() {
    template_builds_and_loads("python");
}

#[test]
fn plugin_names_are_checked() {
    let output = run(&[
        "plugin", "new", "Bad Name", "--lang", "rust", "--dir", "/tmp",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a plugin name"));
}
