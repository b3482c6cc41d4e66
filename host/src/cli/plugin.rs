//! `switchyard plugin new`: a working plugin project from a template, in Rust, JavaScript or
//! Python, with the WIT contract beside it.

use std::path::Path;
use std::process::ExitCode;

/// The template files of each language: (path in the project, text).
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../plugins/templates/rust/Cargo.toml"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../../../plugins/templates/rust/.cargo/config.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugins/templates/rust/src/lib.rs"),
    ),
];
const JS: &[(&str, &str)] = &[
    (
        "package.json",
        include_str!("../../../plugins/templates/js/package.json"),
    ),
    (
        "plugin.js",
        include_str!("../../../plugins/templates/js/plugin.js"),
    ),
    (
        "build.mjs",
        include_str!("../../../plugins/templates/js/build.mjs"),
    ),
    (
        "build.sh",
        include_str!("../../../plugins/templates/js/build.sh"),
    ),
];
const PYTHON: &[(&str, &str)] = &[
    (
        "plugin.py",
        include_str!("../../../plugins/templates/python/plugin.py"),
    ),
    (
        "build.sh",
        include_str!("../../../plugins/templates/python/build.sh"),
    ),
];
const WIT: &str = include_str!("../../../wit/plugin.wit");

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Language {
    Rust,
    Js,
    Python,
}

/// The world a template implements.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    Filter,
    Enricher,
    Consumer,
}

/// Writes `dir/NAME/` and prints the routes.toml entry for it.
pub fn new(language: Language, _kind: Kind, name: &str, dir: &Path) -> ExitCode {
    match write(language, name, dir) {
        Ok(entry) => {
            println!("{entry}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("switchyard: {err}");
            ExitCode::from(1)
        }
    }
}

fn write(language: Language, name: &str, dir: &Path) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(format!(
            "`{name}` is not a plugin name: use lowercase letters, digits and `-`, starting with a letter"
        ));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(format!("`{}` already exists", root.display()));
    }
    let krate = name.replace('-', "_");
    let files = match language {
        Language::Rust => RUST,
        Language::Js => JS,
        Language::Python => PYTHON,
    };
    let write_file = |path: &str, text: &str| -> Result<(), String> {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("cannot create `{}`: {err}", parent.display()))?;
        }
        let text = text.replace("{{name}}", name).replace("{{crate}}", &krate);
        std::fs::write(&target, text)
            .map_err(|err| format!("cannot write `{}`: {err}", target.display()))?;
        if path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755));
        }
        Ok(())
    };
    for (path, text) in files {
        write_file(path, text)?;
    }
    write_file("wit/plugin.wit", WIT)?;
    write_file(".gitignore", "target/\nnode_modules/\n.venv/\n*.wasm\n")?;

    let folder = root.display();
    let (wasm, build, memory) = match language {
        Language::Rust => (
            format!("{folder}/target/wasm32-wasip2/release/{krate}.wasm"),
            "cargo build --release",
            "32MiB",
        ),
        Language::Js => (format!("{folder}/plugin.wasm"), "sh build.sh", "256MiB"),
        Language::Python => (format!("{folder}/plugin.wasm"), "sh build.sh", "256MiB"),
    };
    Ok(format!(
        "# Add to routes.toml, then run `switchyard up --build`:\n\
         [plugins.{name}]\nworld = \"filter\"\nwasm = \"{wasm}\"\nbuild = \"{build}\"\nworkdir = \"{folder}\"\nmemory = \"{memory}\"\n"
    ))
}
