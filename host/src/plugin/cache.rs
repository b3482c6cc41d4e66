//! Compiled plugin code on disk. A component is compiled once and its machine code kept as a
//! `.cwasm` file in the cache dir, keyed by the component file (path, size, modification time)
//! and by the engine's settings; a restart maps that file instead of compiling again, so even
//! the 12-18 MB JavaScript and Python components load in milliseconds.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::time::UNIX_EPOCH;

use wasmtime::Engine;
use wasmtime::component::Component;

/// The component at `wasm`, from the cache when it holds this file's code, else compiled (and
/// then cached). Errors are for users: they say what is wrong with the file.
pub(super) fn component(
    engine: &Engine,
    wasm: &Path,
    cache_dir: Option<&Path>,
) -> Result<Component, String> {
    let meta =
        std::fs::metadata(wasm).map_err(|err| format!("cannot read the component: {err}"))?;
    let cached = cache_dir.map(|dir| dir.join(format!("{:016x}.cwasm", key(engine, wasm, &meta))));
    if let Some(cached) = cached.as_deref().filter(|path| path.exists()) {
        match load(engine, cached) {
            Ok(component) => return Ok(component),
            Err(err) => {
                tracing::warn!(path = %cached.display(), error = %err, "ignoring an unusable cached plugin")
            }
        }
    }
    let bytes = std::fs::read(wasm).map_err(|err| format!("cannot read the component: {err}"))?;
    let compiled = engine
        .precompile_component(&bytes)
        .map_err(|err| format!("not a valid WebAssembly component: {err:#}"))?;
    if let Some(cached) = &cached {
        store(cached, &compiled);
    }
    from_compiled(engine, &compiled)
        .map_err(|err| format!("cannot load its compiled code: {err:#}"))
}

fn key(engine: &Engine, wasm: &Path, meta: &std::fs::Metadata) -> u64 {
    let mut hasher = DefaultHasher::new();
    std::fs::canonicalize(wasm)
        .unwrap_or_else(|_| wasm.to_path_buf())
        .hash(&mut hasher);
    meta.len().hash(&mut hasher);
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    hasher.finish()
}

/// Writes atomically (a temporary file renamed into place); a failure only costs a recompile.
fn store(path: &Path, compiled: &[u8]) {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let temporary = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&temporary, compiled).and_then(|()| std::fs::rename(&temporary, path))
        });
    if let Err(err) = written {
        tracing::warn!(path = %path.display(), error = %err, "cannot cache compiled plugin code");
    }
}

#[allow(unsafe_code)]
fn load(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires that the file hold code it produced. This cache dir is written
    // only by `store` above, with the output of `Engine::precompile_component`; wasmtime itself
    // checks the file's version and engine settings and refuses a mismatch.
    unsafe { Component::deserialize_file(engine, path) }
}

#[allow(unsafe_code)]
fn from_compiled(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `compiled` was produced just now by `Engine::precompile_component` of this engine.
    unsafe { Component::deserialize(engine, compiled) }
}
