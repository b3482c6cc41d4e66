//! Compiled plugin code on disk. A component is compiled once and its machine code kept as a
//! `.cwasm` file in the cache dir, named by a SHA-256 of the component's bytes and of the
//! engine's settings; a restart maps that file instead of compiling again, so even the 12-18 MB
//! JavaScript and Python components load in milliseconds (hashing them takes a few more).
//! A component is known by its content, never by its name, size or modification time: another
//! component put in its place is compiled anew.
//!
//! The cache dir must be writable only by the host: wasmtime runs the code of a `.cwasm` file
//! as it finds it. The host creates the dir open to its own user only, and neither reads nor
//! writes a dir that other users may write to.

use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The component at `wasm`, from the cache when it holds this component's code, else compiled
/// (and then cached). `cache_dir` is one that [`trusted`] accepts. Errors are for users: they
/// say what is wrong with the file.
pub(super) fn component(
    engine: &Engine,
    wasm: &Path,
    cache_dir: Option<&Path>,
) -> Result<Component, String> {
    let bytes = std::fs::read(wasm).map_err(|err| format!("cannot read the component: {err}"))?;
    let cached = cache_dir.map(|dir| dir.join(format!("{}.cwasm", key(engine, &bytes))));
    if let Some(cached) = cached.as_deref().filter(|path| path.exists()) {
        match load(engine, cached) {
            Ok(component) => return Ok(component),
            Err(err) => {
                tracing::warn!(path = %cached.display(), error = %err, "ignoring an unusable cached plugin")
            }
        }
    }
    let compiled = engine
        .precompile_component(&bytes)
        .map_err(|err| format!("not a valid WebAssembly component: {err:#}"))?;
    if let Some(cached) = &cached {
        store(cached, &compiled);
    }
    from_compiled(engine, &compiled)
        .map_err(|err| format!("cannot load its compiled code: {err:#}"))
}

/// The name of the compiled code of `component` for this engine and this host version.
fn key(engine: &Engine, component: &[u8]) -> String {
    let mut settings = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let digest = Sha256::new()
        .chain_update(settings.finish().to_le_bytes())
        .chain_update(env!("CARGO_PKG_VERSION"))
        .chain_update([0])
        .chain_update(component)
        .finalize();
    digest.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// Writes atomically (a new temporary file renamed into place, so that two writers of one
/// key never mix); a failure only costs a recompile.
fn store(path: &Path, compiled: &[u8]) {
    let Some(dir) = path.parent() else { return };
    let written = private_dir(dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(dir))
        .and_then(|mut temporary| {
            temporary.write_all(compiled)?;
            temporary.persist(path).map_err(|err| err.error)?;
            Ok(())
        });
    if let Err(err) = written {
        tracing::warn!(path = %path.display(), error = %err, "cannot cache compiled plugin code");
    }
}

/// Whether compiled code may be read from and written to `dir`: no one but its owner may write
/// to it. A dir that is not there yet is created so.
pub(super) fn trusted(dir: &Path) -> bool {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        if mode & 0o022 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                "compiled plugin code is not cached: other users may write to the cache dir; make it writable by the host alone (chmod go-w)"
            );
            return false;
        }
    }
    true
}

/// Creates `dir` (and its parents) if it is missing, the dir itself open to this user only.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        created => created,
    }
}

#[allow(unsafe_code)]
fn load(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires that the file hold code it produced. This cache dir is written
    // only by `store` above, with the output of `Engine::precompile_component` for the
    // component whose content names the file; no one else may write to it (`trusted`), which
    // the README asks of the host's data dir too. wasmtime itself checks the file's version
    // and engine settings and refuses a mismatch.
    unsafe { Component::deserialize_file(engine, path) }
}

#[allow(unsafe_code)]
fn from_compiled(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `compiled` was produced just now by `Engine::precompile_component` of this engine.
    unsafe { Component::deserialize(engine, compiled) }
}
