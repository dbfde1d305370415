#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian machine (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WB_VERSION"; then
  echo "== cargo install wasm-bindgen-cli $WB_VERSION"
  # --locked can fail when the registry lacks an exact locked dependency (seen: webpki-roots
  # 1.0.11); then resolve afresh, still pinned to the same wasm-bindgen-cli version.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked || cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

if [ -f tests/browser/package.json ]; then
  (cd tests/browser && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --silent || npm install --no-audit --no-fund --silent; })
fi
