//! A plugin project for a Lambda function: the function's own source, unchanged, under
//! `function/`, a two-line module that runs it through the SDK's Lambda adapter, the SDK and the
//! contract that `plugin new` writes, and a `build.sh` for `switchyard up --build`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Importer;
use super::functions::{Code, Function, Runtime};
use super::template::Resource;
use crate::kit;

/// A file of a project: text made here, or a file of the function's source copied unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Copy(PathBuf),
}

/// A plugin project to write, under the routes.toml's folder.
#[derive(Debug)]
pub struct Project {
    /// `plugins/NAME`, relative to the routes.toml's folder.
    pub dir: String,
    pub files: Vec<(String, Content)>,
}

/// Why a project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("`{0}` exists; use --force to write over it")]
    Exists(PathBuf),
    #[error("cannot write `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes each project under `root`; an existing project folder only with `force`.
pub fn write_projects(projects: &[Project], root: &Path, force: bool) -> Result<(), WriteError> {
    for project in projects {
        let dir = root.join(&project.dir);
        if dir.exists() && !force {
            return Err(WriteError::Exists(dir));
        }
    }
    for project in projects {
        let dir = root.join(&project.dir);
        for (path, content) in &project.files {
            let target = dir.join(path);
            let io = |source| WriteError::Io {
                path: target.clone(),
                source,
            };
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            match content {
                Content::Text(text) => std::fs::write(&target, text).map_err(io)?,
                Content::Copy(from) => std::fs::copy(from, &target).map(drop).map_err(io)?,
            }
            if path.ends_with(".sh") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                    .map_err(io)?;
            }
        }
    }
    Ok(())
}

impl Importer<'_> {
    /// The project's files: the template's build files, the SDK, the contract, the function's
    /// code under `function/`, and the module that runs it through the adapter.
    pub(super) fn project_files(
        &mut self,
        resource: &Resource,
        spec: &Function,
        world: &str,
        name: &str,
    ) -> Result<Vec<(String, Content)>, String> {
        let language = match spec.runtime {
            Runtime::Python => &kit::PYTHON,
            Runtime::Node => &kit::JS,
        };
        let fill = |text: &str| text.replace("{{name}}", name).replace("{{world}}", world);
        let mut files = Vec::new();
        for (path, text) in language.common {
            let mut text = fill(text);
            if spec.runtime == Runtime::Python && *path == "build.sh" {
                // The function's modules sit in function/, on componentize-py's path.
                let path_args = "-p . -p sdk";
                if !text.contains(path_args) {
                    return Err("the Python template's build.sh no longer has `-p . -p sdk`: the importer needs updating".into());
                }
                text = text.replace(path_args, "-p . -p sdk -p function");
            }
            files.push((path.to_string(), Content::Text(text)));
        }
        for (path, text) in language.sdk {
            files.push((format!("sdk/{path}"), Content::Text(text.to_string())));
        }
        files.push(("wit/plugin.wit".into(), Content::Text(kit::WIT.into())));
        let ignored = "node_modules/\n.venv/\n__pycache__/\nplugin.wasm\n";
        files.push((".gitignore".into(), Content::Text(ignored.into())));

        let source_files = match &spec.code {
            Code::Inline(code) => {
                let file = match spec.runtime {
                    Runtime::Python => format!("{}.py", spec.module.replace('.', "/")),
                    Runtime::Node => format!("{}.js", spec.module),
                };
                vec![(file, Content::Text(code.clone()))]
            }
            Code::Dir(dir) => {
                self.note_dependencies(resource, dir);
                self.copy_source(dir)?
            }
        };
        let (wrapper, text) = match spec.runtime {
            Runtime::Python => {
                let module = spec.module.replace('/', ".");
                let file = format!("{}.py", module.replace('.', "/"));
                let package = format!("{}/__init__.py", module.replace('.', "/"));
                if !source_files
                    .iter()
                    .any(|(path, _)| *path == file || *path == package)
                {
                    self.note(
                        resource,
                        format!("its handler module `{module}` is not in its code"),
                    );
                }
                if module == "plugin" || module.starts_with("switchyard_plugin") {
                    return Err(format!(
                        "its handler module `{module}` has the name of the plugin's own module"
                    ));
                }
                let adapter = if world == "consumer" {
                    "lambda_sqs"
                } else {
                    "lambda_enrichment"
                };
                let text = format!(
                    "\"\"\"{name}: the Lambda function {id} (handler `{handler}`), unchanged, as a Switchyard {world}.\"\"\"\n\n\
                     from {module} import {export}\n\
                     from switchyard_plugin import {adapter}\n\n\
                     {adapter}({export})\n",
                    id = resource.id,
                    handler = format_args!("{}.{}", spec.module, spec.export),
                    export = spec.export,
                );
                ("plugin.py", text)
            }
            Runtime::Node => {
                let found = ["mjs", "js", "cjs"].iter().find_map(|ext| {
                    let file = format!("{}.{ext}", spec.module);
                    source_files
                        .iter()
                        .find(|(path, _)| *path == file)
                        .map(|(path, content)| (path.clone(), content.clone()))
                });
                let file = match &found {
                    Some((file, content)) => {
                        let text = match content {
                            Content::Text(text) => text.clone(),
                            Content::Copy(path) => {
                                std::fs::read_to_string(path).unwrap_or_default()
                            }
                        };
                        let common_js = file.ends_with(".cjs")
                            || (text.contains("exports.") && !text.contains("export "));
                        if common_js {
                            self.note(resource, format!("`{file}` is a CommonJS module: componentize-js takes ES modules (`export const {}`)", spec.export));
                        }
                        file.clone()
                    }
                    None => {
                        self.note(
                            resource,
                            format!("its handler file `{}.js` is not in its code", spec.module),
                        );
                        format!("{}.js", spec.module)
                    }
                };
                let (export, adapter) = if world == "consumer" {
                    ("handle", "sqs")
                } else {
                    ("enrich", "enrichment")
                };
                let text = format!(
                    "// {name}: the Lambda function {id} (handler `{module}.{handler}`), unchanged, as a Switchyard {world}.\n\
                     import {{ lambda }} from './sdk/switchyard.js';\n\
                     import {{ {handler} }} from './function/{file}';\n\n\
                     export const {export} = lambda.{adapter}({handler});\n",
                    id = resource.id,
                    module = spec.module,
                    handler = spec.export,
                );
                ("plugin.js", text)
            }
        };
        files.push((wrapper.into(), Content::Text(text)));
        files.extend(
            source_files
                .into_iter()
                .map(|(path, content)| (format!("function/{path}"), content)),
        );
        Ok(files)
    }

    /// The files of a function's code folder, by their path in it; build output, caches,
    /// installed packages, hidden files and the importer's own output are left behind.
    fn copy_source(&mut self, dir: &Path) -> Result<Vec<(String, Content)>, String> {
        const SKIP: [&str; 3] = ["__pycache__", "node_modules", "target"];
        const MAX_FILES: usize = 1000;
        if !dir.is_dir() {
            return Err(format!(
                "its code folder `{}` does not exist",
                dir.display()
            ));
        }
        // A code folder that holds the output (`CodeUri: .`) must not take in its projects.
        let output = self.options.out_dir.join("plugins").canonicalize().ok();
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(at) = stack.pop() {
            let entries = std::fs::read_dir(&at)
                .map_err(|err| format!("cannot read `{}`: {err}", at.display()))?;
            let mut entries: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for path in entries {
                let file_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let is_output = output.is_some() && path.canonicalize().ok() == output;
                if file_name.starts_with('.') || SKIP.contains(&file_name.as_str()) || is_output {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if path.is_file() {
                    let relative = path.strip_prefix(dir).map_err(|err| err.to_string())?;
                    found.push((
                        relative.to_string_lossy().into_owned(),
                        Content::Copy(path.clone()),
                    ));
                    if found.len() > MAX_FILES {
                        return Err(format!(
                            "its code folder `{}` has more than {MAX_FILES} files",
                            dir.display()
                        ));
                    }
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}

impl Importer<'_> {
    /// Dependencies a function declares are not installed into its plugin: say so.
    fn note_dependencies(&mut self, resource: &Resource, dir: &Path) {
        let requirements =
            std::fs::read_to_string(dir.join("requirements.txt")).unwrap_or_default();
        let listed = requirements
            .lines()
            .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'));
        if listed {
            self.note(resource, "requirements.txt is not installed: componentize-py bundles only the modules on its path (add them to function/)");
        }
        let package = std::fs::read_to_string(dir.join("package.json")).unwrap_or_default();
        let package: Value = serde_json::from_str(&package).unwrap_or(Value::Null);
        if package
            .get("dependencies")
            .and_then(Value::as_object)
            .is_some_and(|d| !d.is_empty())
        {
            self.note(resource, "package.json's dependencies are not installed: componentize-js takes the modules its source imports by path");
        }
    }
}
