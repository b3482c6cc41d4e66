#!/bin/sh
# Builds plugin.wasm: the crate, built for wasm32-wasip2, copied out of Cargo's target folder
# (./target, or wherever CARGO_TARGET_DIR or your Cargo config puts it).
set -eu
cd "$(dirname "$0")"
# rustup adds the target on first use; without rustup, install it the way your Rust came.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cargo build --release
target=$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
cp "$target/wasm32-wasip2/release/{{crate}}.wasm" plugin.wasm
