# Sourced (from the repository root) by the scripts: the build settings they share, said once.
# Cargo's target dir lives outside the clone so that a fresh clone (and CI) reuses the build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/magnets-target}"
# wasm-bindgen-cli must equal the wasm-bindgen crate exactly: read the pin from Cargo.toml.
WB_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
[ -n "$WB_VERSION" ] || { echo "scripts/env.sh: no exact wasm-bindgen pin in Cargo.toml" >&2; exit 1; }
