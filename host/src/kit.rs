//! The plugin kit the binary carries: each language's template, its SDK and the WIT contract, as
//! `plugin new` and `import` write them into projects. A generated project lives anywhere, so it
//! gets copies, not repository paths.

/// `(path, text)` for each file of a folder of the repository, in an explicit list: a test checks
/// the list against the folder, so a new file cannot be left out silently.
macro_rules! files {
    ($folder:literal: $($path:literal),+ $(,)?) => {
        &[$(($path, include_str!(concat!("../../", $folder, "/", $path)))),+]
    };
}

/// A language's files: what every project gets, each world's source, and the SDK.
#[derive(Debug)]
pub struct Language {
    /// The files of every project, by their path in it.
    pub common: &'static [(&'static str, &'static str)],
    /// Where the world's source goes in the project.
    pub source: &'static str,
    /// The sources of the filter, enricher and consumer, by world name.
    pub worlds: &'static [(&'static str, &'static str)],
    /// The SDK's files, by their path in its folder; the project gets them under `sdk/`.
    pub sdk: &'static [(&'static str, &'static str)],
}

/// The contract, `wit/plugin.wit`.
pub const WIT: &str = include_str!("../../wit/plugin.wit");

pub const RUST: Language = Language {
    common: files!("plugins/templates/rust": "Cargo.toml", ".cargo/config.toml", "build.sh"),
    source: "src/lib.rs",
    worlds: files!("plugins/templates/rust/worlds": "filter.rs", "enricher.rs", "consumer.rs"),
    // Its `wit` link to the contract becomes a copy, `sdk/wit/plugin.wit`.
    sdk: files!(
        "plugins/sdk/rust":
        "Cargo.toml",
        "macros/Cargo.toml",
        "macros/src/lib.rs",
        "src/__private.rs",
        "src/config.rs",
        "src/dynamodb.rs",
        "src/error.rs",
        "src/event.rs",
        "src/eventbridge.rs",
        "src/json.rs",
        "src/lib.rs",
        "src/log.rs",
        "src/queue.rs",
    ),
};

pub const JS: Language = Language {
    common: files!("plugins/templates/js": "package.json", "build.mjs", "build.sh"),
    source: "plugin.js",
    worlds: files!("plugins/templates/js/worlds": "filter.js", "enricher.js", "consumer.js"),
    sdk: files!("plugins/sdk/js": "package.json", "switchyard.js", "lambda.js"),
};

pub const PYTHON: Language = Language {
    common: files!("plugins/templates/python": "build.sh"),
    source: "plugin.py",
    worlds: files!("plugins/templates/python/worlds": "filter.py", "enricher.py", "consumer.py"),
    sdk: files!(
        "plugins/sdk/python":
        "switchyard_plugin/__init__.py",
        "switchyard_plugin/aws_lambda.py",
        "switchyard_plugin/dynamodb.py",
    ),
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Every file under `folder`, as paths relative to it, but for what is not shipped: the
    /// SDKs' own tests, installed packages, caches, build output and lock files, and `skip`.
    fn on_disk(folder: &str, skip: &[&str]) -> BTreeSet<String> {
        const NOT_SHIPPED: [&str; 6] = [
            "test",
            "tests",
            "node_modules",
            "__pycache__",
            "target",
            "Cargo.lock",
        ];
        fn walk(root: &Path, at: &Path, skip: &[&str], found: &mut BTreeSet<String>) {
            for entry in std::fs::read_dir(at).unwrap() {
                let path = entry.unwrap().path();
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                let name = path.file_name().unwrap().to_str().unwrap();
                if NOT_SHIPPED.contains(&name) || skip.contains(&relative.as_str()) {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, skip, found);
                } else {
                    found.insert(relative);
                }
            }
        }
        let root = repo().join(folder);
        let mut found = BTreeSet::new();
        walk(&root, &root, skip, &mut found);
        found
    }

    fn listed(files: &[(&str, &str)]) -> BTreeSet<String> {
        files.iter().map(|(path, _)| path.to_string()).collect()
    }

    #[test]
    fn every_file_of_each_sdk_is_carried() {
        // The Rust SDK's `wit` links to the contract, which is carried as WIT.
        let link = std::fs::read_link(repo().join("plugins/sdk/rust/wit")).unwrap();
        assert_eq!(link, Path::new("../../../wit"));
        assert_eq!(on_disk("plugins/sdk/rust", &["wit"]), listed(RUST.sdk));
        assert_eq!(on_disk("plugins/sdk/js", &[]), listed(JS.sdk));
        assert_eq!(on_disk("plugins/sdk/python", &[]), listed(PYTHON.sdk));
    }

    #[test]
    fn every_file_of_each_template_is_carried() {
        for (folder, language) in [("rust", &RUST), ("js", &JS), ("python", &PYTHON)] {
            let mut carried = listed(language.common);
            carried.extend(
                language
                    .worlds
                    .iter()
                    .map(|(path, _)| format!("worlds/{path}")),
            );
            let folder = format!("plugins/templates/{folder}");
            assert_eq!(on_disk(&folder, &[]), carried, "{folder}");
        }
    }

    /// The tests build the JavaScript and Python templates with the tools the examples install
    /// (plugins/js/node_modules, plugins/python/.venv), so the versions must be the same.
    #[test]
    fn the_templates_pin_the_build_tools_the_examples_use() {
        let package = |text: &str| {
            let package: serde_json::Value = serde_json::from_str(text).unwrap();
            package["devDependencies"].clone()
        };
        let examples = std::fs::read_to_string(repo().join("plugins/js/package.json")).unwrap();
        assert_eq!(package(text(JS.common, "package.json")), package(&examples));

        let pin = |script: &str| {
            let at = script.find("componentize-py==").unwrap();
            let pin = script[at..].split_whitespace().next().unwrap();
            pin.trim_end_matches(';').to_string()
        };
        let examples = std::fs::read_to_string(repo().join("plugins/python/build.sh")).unwrap();
        assert_eq!(pin(text(PYTHON.common, "build.sh")), pin(&examples));
    }

    fn text(files: &[(&str, &'static str)], path: &str) -> &'static str {
        let file = files.iter().find(|(p, _)| *p == path);
        file.map(|(_, text)| *text).unwrap()
    }
}
