#!/usr/bin/env bash
# Builds the page's two wasm bundles and stages the models:
#   www/pkg          feature `web`           WebGPU engine, burn-free (checked below)
#   www/pkg-fallback feature `web-fallback`  burn-flex CPU reference, loaded only without WebGPU
#   www/models/      the default model (+ its measured FID table) + tokenizer + its palette
#                    (+ manifest.json with sha256 for cache-busting)
# Usage: scripts/build-web.sh [--no-fallback] [--models-only]   (env MAGNETS_WEIGHTS=file to stage other weights)
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

build_bundle() { # feature outdir
  local feature=$1 out=$2
  echo "== cargo build --target wasm32-unknown-unknown --features $feature --profile wasm-release"
  cargo build --target wasm32-unknown-unknown --no-default-features --features "$feature" --profile wasm-release
  local wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/magnets.wasm"
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
  build_bundle web www/pkg
  # The WebGPU bundle must not contain burn: neither in the dependency graph nor in the binary.
  if cargo tree -e normal --target wasm32-unknown-unknown --no-default-features --features web --prefix none 2>/dev/null | grep -q '^burn'; then
    echo "FAIL: the WebGPU bundle's dependency graph contains burn" >&2; exit 1
  fi
  if grep -a -q -E 'burn_(tensor|flex|core|backend)' "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/magnets.wasm"; then
    echo "FAIL: the WebGPU bundle contains burn symbols" >&2; exit 1
  fi
  echo "ok: WebGPU bundle is burn-free"
  if [ "$FALLBACK" = 1 ]; then build_bundle web-fallback www/pkg-fallback; fi
fi

# ---- models
mkdir -p www/models
MAGNETS_BIN="$CARGO_TARGET_DIR/release/magnets"
random_flag=false
# MAGNETS_WEIGHTS=path overrides the shipped model (MAGNETS_WEIGHTS_RANDOM=1 labels it untrained).
WEIGHTS_SRC="${MAGNETS_WEIGHTS:-models/magnets-emoji.safetensors}"
rm -f www/models/magnets-emoji.eval.json
if [ -f "$WEIGHTS_SRC" ]; then
  cp "$WEIGHTS_SRC" www/models/magnets-emoji.safetensors
  # Measured FID per schedule (scripts/eval-table.mjs); the page checks it against the weights' sha256.
  EVAL_SRC="${WEIGHTS_SRC%.safetensors}.eval.json"
  [ -f "$EVAL_SRC" ] && cp "$EVAL_SRC" www/models/magnets-emoji.eval.json
  [ "${MAGNETS_WEIGHTS_RANDOM:-0}" = 1 ] && random_flag=true
else
  echo "== models/magnets-emoji.safetensors not found: using random weights (magnets init --seed 1)"
  [ -x "$MAGNETS_BIN" ] || cargo build --release
  "$MAGNETS_BIN" init --config models/default-config.json --seed 1 --out www/models/magnets-emoji.safetensors
  random_flag=true
fi
if [ -f models/tokenizer-decoder.safetensors ]; then
  # The page only decodes: it gets the decoder-only tokenizer (`magnets web-assets`, half the
  # bytes of models/tokenizer.safetensors) and its preview colour per code, which the page
  # checks against this file's sha256.
  cp models/tokenizer-decoder.safetensors www/models/tokenizer.safetensors
  cp models/tokenizer.palette.json www/models/tokenizer.palette.json
else
  rm -f www/models/tokenizer.safetensors www/models/tokenizer.palette.json
  echo "note: models/tokenizer-decoder.safetensors not found: the page shows tokens as colours"
fi
{
  echo '{"files": {'
  first=1
  for f in www/models/*.safetensors; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    r=false; [ "$name" = magnets-emoji.safetensors ] && r=$random_flag
    [ $first = 1 ] || echo ','
    first=0
    printf '  "%s": {"sha256": "%s", "bytes": %s, "random": %s}' "$name" "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$r"
  done
  echo; echo '}}'
} > www/models/manifest.json

# ---- sizes
echo "== sizes (gzip -9)"
total=0
report() { local f=$1; [ -f "$f" ] || return 0; local raw gzb; raw=$(stat -c %s "$f"); gzb=$(gz "$f"); total=$((total + gzb)); printf '  %-42s %9d bytes  %9d gz\n' "$f" "$raw" "$gzb"; }
for f in www/pkg/magnets_bg.wasm www/pkg/magnets.js www/index.html www/*.js www/style.css www/favicon.svg www/models/magnets-emoji.safetensors www/models/tokenizer.safetensors www/models/tokenizer.palette.json www/models/magnets-emoji.eval.json; do report "$f"; done
echo "  first visit (WebGPU path: wasm + JS + CSS + HTML + models): $total bytes gz"
if [ -f www/pkg-fallback/magnets_bg.wasm ]; then
  printf '  fallback bundle (only without WebGPU): %d bytes gz\n' "$(gz www/pkg-fallback/magnets_bg.wasm)"
fi
