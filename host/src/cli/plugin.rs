//! `switchyard plugin new`: a plugin project for any world, in Rust, JavaScript or Python,
//! written on its language's SDK. The project carries the SDK and the WIT contract, so that it
//! builds wherever it is, with `sh build.sh`, into `plugin.wasm`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::kit;

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

impl Kind {
    /// The world's name in the WIT package and in routes.toml.
    fn world(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Enricher => "enricher",
            Kind::Consumer => "consumer",
        }
    }
}

impl Language {
    fn files(self) -> &'static kit::Language {
        match self {
            Language::Rust => &kit::RUST,
            Language::Js => &kit::JS,
            Language::Python => &kit::PYTHON,
        }
    }

    /// What its components need: a JavaScript or Python guest carries its interpreter.
    fn memory(self) -> &'static str {
        match self {
            Language::Rust => "32MiB",
            Language::Js | Language::Python => "256MiB",
        }
    }
}

/// Why `plugin new` wrote no project.
#[derive(Debug, thiserror::Error)]
enum NewError {
    #[error(
        "`{0}` is not a plugin name: use lowercase letters, digits and `-`, starting with a letter, at most 64 characters"
    )]
    Name(String),
    #[error("`{0}` cannot be the name of a Rust plugin: Rust or the SDK has a crate of that name")]
    Crate(String),
    #[error("`{0}` already exists; choose another name or `--dir`")]
    Exists(PathBuf),
    #[error("cannot create `{path}`: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes the project `dir/NAME/` and prints its routes.toml entry.
pub fn new(language: Language, kind: Kind, name: &str, dir: &Path) -> ExitCode {
    match create(language, kind, name, dir) {
        Ok(entry) => {
            print!("{entry}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("switchyard: {err}");
            ExitCode::from(1)
        }
    }
}

fn create(language: Language, kind: Kind, name: &str, dir: &Path) -> Result<String, NewError> {
    check_name(language, name)?;
    let root = dir.join(name);
    std::fs::create_dir_all(dir).map_err(|source| NewError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    // Creating the folder is the check that it is new: an existing project is never touched.
    std::fs::create_dir(&root).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => NewError::Exists(root.clone()),
        _ => NewError::Create {
            path: root.clone(),
            source,
        },
    })?;
    let written = project(language, kind, name)
        .into_iter()
        .try_for_each(|(path, text)| write(&root, &path, &text));
    if written.is_err() {
        // The folder is ours and holds only what we wrote: no half project is left behind.
        let _ = std::fs::remove_dir_all(&root);
    }
    written?;
    // `--dir .`, the default, writes paths as `NAME/...`.
    let folder = if dir == Path::new(".") {
        PathBuf::from(name)
    } else {
        root
    };
    Ok(entry(language, kind, name, &folder))
}

fn check_name(language: Language, name: &str) -> Result<(), NewError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(NewError::Name(name.to_string()));
    }
    // Cargo refuses a package named as a crate of Rust's, or as one it depends on.
    const TAKEN: [&str; 7] = [
        "std",
        "core",
        "alloc",
        "test",
        "proc-macro",
        "switchyard-plugin",
        "switchyard-plugin-macros",
    ];
    if matches!(language, Language::Rust) && TAKEN.contains(&name) {
        return Err(NewError::Crate(name.to_string()));
    }
    Ok(())
}

/// The project's files, by their path in it: the template with its placeholders filled in, the
/// SDK under `sdk/`, and the contract.
fn project(language: Language, kind: Kind, name: &str) -> Vec<(String, Cow<'static, str>)> {
    let files = language.files();
    let fill = |text: &str| -> Cow<'static, str> {
        let text = text
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{world}}", kind.world());
        Cow::Owned(text)
    };
    let source = files
        .worlds
        .iter()
        .find(|(file, _)| file.split('.').next() == Some(kind.world()))
        .map(|(_, text)| *text)
        .expect("each language has a template for each world (a test checks the lists)");

    let mut project: Vec<(String, Cow<'static, str>)> = Vec::new();
    for (path, text) in files.common {
        project.push((path.to_string(), fill(text)));
    }
    project.push((files.source.to_string(), fill(source)));
    for (path, text) in files.sdk {
        project.push((format!("sdk/{path}"), Cow::Borrowed(text)));
    }
    // The contract: the Rust SDK reads it from its own folder; componentize-js and -py from
    // the project's `wit/`.
    let wit = match language {
        Language::Rust => "sdk/wit/plugin.wit",
        Language::Js | Language::Python => "wit/plugin.wit",
    };
    project.push((wit.into(), Cow::Borrowed(kit::WIT)));
    let ignored = "target/\nnode_modules/\n.venv/\n__pycache__/\nplugin.wasm\n";
    project.push((".gitignore".into(), Cow::Borrowed(ignored)));
    project
}

fn write(root: &Path, path: &str, text: &str) -> Result<(), NewError> {
    let target = root.join(path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|source| NewError::Create {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(&target, text).map_err(|source| NewError::Write {
        path: target.clone(),
        source,
    })?;
    if path.ends_with(".sh") {
        use std::os::unix::fs::PermissionsExt;
        let executable = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(&target, executable).map_err(|source| NewError::Write {
            path: target,
            source,
        })?;
    }
    Ok(())
}

/// The routes.toml entry of the project in `folder`, with how to use the plugin.
fn entry(language: Language, kind: Kind, name: &str, folder: &Path) -> String {
    let quoted = |text: &str| toml::Value::String(text.to_string()).to_string();
    let folder_text = folder.display().to_string();
    let wasm = folder.join("plugin.wasm").display().to_string();
    let mut entry = String::from("# Add to routes.toml, then run `switchyard up --build`.\n");
    if folder.is_relative() {
        entry.push_str(
            "# Paths are relative to routes.toml's folder: these fit one in this folder.\n",
        );
    }
    entry.push_str(&format!(
        "[plugins.{name}]\n\
         world = \"{world}\"\n\
         wasm = {wasm}\n\
         build = \"sh build.sh\"\n\
         workdir = {workdir}\n\
         memory = \"{memory}\"\n",
        world = kind.world(),
        wasm = quoted(&wasm),
        workdir = quoted(&folder_text),
        memory = language.memory(),
    ));
    let usage = match kind {
        Kind::Filter => format!(
            "# config = {{ attribute = \"total\", threshold = 100 }}\n\
             # Use it in a pipe: filter_plugin = \"{name}\"\n"
        ),
        Kind::Enricher => format!(
            "# config = {{ field = \"enrichedBy\", value = \"{name}\" }}\n\
             # Use it in a pipe: enrichment = \"{name}\"\n"
        ),
        Kind::Consumer => format!(
            "# Give it a queue:\n\
             # [consumers.{name}]\n\
             # queue = \"QUEUE\"\n\
             # handler = \"{name}\"\n"
        ),
    };
    entry.push_str(&usage);
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_names_the_world_the_build_and_the_memory() {
        let entry = entry(Language::Python, Kind::Enricher, "tag", Path::new("/p/tag"));
        assert_eq!(
            entry,
            "# Add to routes.toml, then run `switchyard up --build`.\n\
             [plugins.tag]\n\
             world = \"enricher\"\n\
             wasm = \"/p/tag/plugin.wasm\"\n\
             build = \"sh build.sh\"\n\
             workdir = \"/p/tag\"\n\
             memory = \"256MiB\"\n\
             # config = { field = \"enrichedBy\", value = \"tag\" }\n\
             # Use it in a pipe: enrichment = \"tag\"\n"
        );
        let parsed: toml::Table = toml::from_str(&entry).unwrap();
        assert_eq!(parsed["plugins"]["tag"]["world"].as_str(), Some("enricher"));
    }

    #[test]
    fn each_project_gets_its_worlds_source_with_the_placeholders_filled_in() {
        for language in [Language::Rust, Language::Js, Language::Python] {
            for kind in [Kind::Filter, Kind::Enricher, Kind::Consumer] {
                let files = project(language, kind, "my-plugin");
                let source = language.files().source;
                let (_, text) = files.iter().find(|(path, _)| path == source).unwrap();
                assert!(text.contains(kind.world()), "{language:?} {kind:?}: {text}");
                for (path, text) in &files {
                    let template = !path.starts_with("sdk/");
                    assert!(
                        !(template && text.contains("{{")),
                        "{path} keeps a placeholder"
                    );
                }
            }
        }
    }

    #[test]
    fn names_that_are_not_plugin_names_are_refused() {
        for name in ["", "Bad Name", "1st", "a_b", &"a".repeat(65)] {
            let err = check_name(Language::Js, name).unwrap_err();
            assert!(err.to_string().contains("is not a plugin name"), "{err}");
        }
        let err = check_name(Language::Rust, "test").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`test` cannot be the name of a Rust plugin: Rust or the SDK has a crate of that name"
        );
        assert!(check_name(Language::Js, "test").is_ok());
        assert!(check_name(Language::Rust, "my-filter-2").is_ok());
    }
}
