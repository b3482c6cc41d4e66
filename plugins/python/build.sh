#!/bin/sh
# Builds the Python example plugins into ../../target/plugins/, installing the build tool
# (componentize-py, from PyPI, in .venv) on first use.
set -eu
cd "$(dirname "$0")"
[ -x .venv/bin/componentize-py ] || { python3 -m venv .venv && .venv/bin/pip install --quiet componentize-py==0.25.1; }
mkdir -p ../../target/plugins
.venv/bin/componentize-py -d ../../wit -w filter componentize high_value -o ../../target/plugins/py_high_value.wasm
.venv/bin/componentize-py -d ../../wit -w enricher componentize shipping_zone -o ../../target/plugins/py_shipping_zone.wasm
