#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: Rust unit/integration tests (burn reference,
# WGSL engine on Mesa lavapipe) and the headless-Chromium page tests (WebGPU on SwiftShader).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
# The Vulkan loader (lavapipe) complains on every device creation without a runtime dir.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/runtime-$(id -u)}"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
./scripts/setup.sh
echo "== cargo test --release"
cargo test --release
if [ -x scripts/test-browser.sh ]; then
  echo "== browser tests"
  ./scripts/test-browser.sh
fi
echo "== all tests passed"
