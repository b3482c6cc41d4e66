#!/bin/sh
# Builds plugin.wasm, installing componentize-js (from npm, in node_modules) on first use.
set -eu
cd "$(dirname "$0")"
[ -d node_modules/@bytecodealliance/componentize-js ] || npm install --no-audit --no-fund --loglevel=error
exec node build.mjs
