#!/bin/sh
# Builds plugin.wasm, installing componentize-py (from PyPI, in .venv) on first use. The SDK is
# in sdk/, on the module path.
set -eu
cd "$(dirname "$0")"
[ -x .venv/bin/componentize-py ] || { python3 -m venv .venv && .venv/bin/pip install --quiet componentize-py==0.25.1; }
exec .venv/bin/componentize-py -d wit -w {{world}} componentize plugin -p . -p sdk -o plugin.wasm
