#!/bin/sh
# Builds the Python example plugins into ../../target/plugins/, installing the build tool
# (componentize-py, from PyPI, in .venv) on first use. The SDK comes from ../sdk/python.
set -eu
cd "$(dirname "$0")"
[ -x .venv/bin/componentize-py ] || { python3 -m venv .venv && .venv/bin/pip install --quiet componentize-py==0.25.1; }
mkdir -p ../../target/plugins
build() { # MODULE WORLD OUT
  .venv/bin/componentize-py -d ../../wit -w "$2" componentize "$1" -p . -p ../sdk/python -o "../../target/plugins/$3"
}
build high_value filter py_high_value.wasm
build shipping_zone enricher py_shipping_zone.wasm
build order_created consumer py_order_created.wasm
# `--baselines`: also the filter as written before the SDK, which `bench micro` compares with.
if [ "${1:-}" = --baselines ]; then
  .venv/bin/componentize-py -d ../../wit -w filter componentize bindings_high_value -p ../../tests/plugins/python -o ../../target/plugins/py_bindings_high_value.wasm
fi
