#!/usr/bin/env bash
# Builds the page's two wasm bundles and stages the models:
#   www/pkg          feature `web`           WebGPU engine, burn-free (checked below)
#   www/pkg-fallback feature `web-fallback`  burn-flex CPU reference, loaded only without WebGPU
#   www/models/      the shipped models (models/models.json), each with its measured FID table,
#                    its tokenizer's decoder and palette (+ manifest.json: the model list, sha256s)
# Usage: scripts/build-web.sh [--no-fallback] [--models-only]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
FALLBACK=1; MODELS_ONLY=0
for a in "$@"; do
  case "$a" in
    --no-fallback) FALLBACK=0 ;;
    --models-only) MODELS_ONLY=1 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

gz() { gzip -9 -c "$1" | wc -c; }

build_bundle() { # feature outdir profile [rustflags]
  local feature=$1 out=$2 profile=$3 flags=${4:-}
  echo "== RUSTFLAGS='$flags' cargo build --target wasm32-unknown-unknown --features $feature --profile $profile"
  RUSTFLAGS="$flags" cargo build --target wasm32-unknown-unknown --no-default-features --features "$feature" --profile "$profile"
  local wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/magnets.wasm"
  rm -rf "$out"
  wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name magnets "$wasm"
  if command -v wasm-opt >/dev/null 2>&1; then
    wasm-opt -Os --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
      "$out/magnets_bg.wasm" -o "$out/magnets_bg.wasm.opt" && mv "$out/magnets_bg.wasm.opt" "$out/magnets_bg.wasm"
  fi
}

if [ "$MODELS_ONLY" = 0 ]; then
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WB_VERSION"; then
    echo "wasm-bindgen-cli $WB_VERSION is missing: run scripts/setup.sh" >&2; exit 1
  fi
  build_bundle web www/pkg wasm-release
  # The WebGPU bundle must not contain burn: neither in the dependency graph nor in the binary.
  if cargo tree -e normal --target wasm32-unknown-unknown --no-default-features --features web --prefix none 2>/dev/null | grep -q '^burn'; then
    echo "FAIL: the WebGPU bundle's dependency graph contains burn" >&2; exit 1
  fi
  if grep -a -q -E 'burn_(tensor|flex|core|backend)' "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/magnets.wasm"; then
    echo "FAIL: the WebGPU bundle contains burn symbols" >&2; exit 1
  fi
  echo "ok: WebGPU bundle is burn-free"
  # The CPU engine: wasm SIMD128 everywhere (burn-flex's kernels also need `burn/simd`, in the
  # feature) and its own profile (Cargo.toml `wasm-fallback`), so that the two bundles' builds
  # keep separate artifacts and neither rebuilds the other's dependencies.
  if [ "$FALLBACK" = 1 ]; then build_bundle web-fallback www/pkg-fallback wasm-fallback "-C target-feature=+simd128"; fi
fi

# ---- models (models/models.json: every listed model whose weights are here; scripts/stage-models.mjs)
node scripts/stage-models.mjs

# ---- sizes
echo "== sizes (gzip -9)"
total=0
report() { local f=$1; [ -f "$f" ] || return 0; local raw gzb; raw=$(stat -c %s "$f"); gzb=$(gz "$f"); total=$((total + gzb)); printf '  %-42s %9d bytes  %9d gz\n' "$f" "$raw" "$gzb"; }
# The first visit downloads the bundle, the page and one model (the one a hardware GPU starts with).
DEFAULT_FILES=$(node -e 'const m = require("./www/models/manifest.json"); for (const f of m.models.find((x) => x.id === m.default).page_files) console.log("www/" + f)')
for f in www/pkg/magnets_bg.wasm www/pkg/magnets.js www/index.html www/*.js www/style.css www/favicon.svg $DEFAULT_FILES; do report "$f"; done
echo "  first visit (WebGPU path: wasm + JS + CSS + HTML + the default model): $total bytes gz"
if [ -f www/pkg-fallback/magnets_bg.wasm ]; then
  printf '  fallback bundle (only without WebGPU): %d bytes gz\n' "$(gz www/pkg-fallback/magnets_bg.wasm)"
fi
