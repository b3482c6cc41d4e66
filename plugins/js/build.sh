#!/bin/sh
# Builds the JavaScript example plugins into ../../target/plugins/, installing the build tools
# (componentize-js, from npm) on first use.
set -eu
cd "$(dirname "$0")"
[ -d node_modules/@bytecodealliance/componentize-js ] || npm ci --no-audit --no-fund --loglevel=error
exec node build.mjs "$@"
