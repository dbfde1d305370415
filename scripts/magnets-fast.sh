#!/usr/bin/env bash
# `magnets` built for making models: fast CPU training on LibTorch (`--device torch`, `tch`, ...)
# with burn-flex's AVX-512 kernels, and the SVG art renderer for the data step (features tch +
# x86-v4 + svg-art: one build, one target dir, since each of them changes shared dependency
# features). Installs libtorch from the PyPI `torch` wheel into a virtual environment the first
# time, builds into its own target dir, then runs the command:
#
#   scripts/magnets-fast.sh train --device tch-bf16 --data models/emoji_tokens.safetensors ...
#
# The demo, the tests and CI never need this build.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.9.0 # what tch 0.22 (burn-tch 0.22.1) links against
TORCH_VENV=${TORCH_VENV:-$HOME/.cache/torch-venv}
export CARGO_TARGET_DIR=${FAST_TARGET_DIR:-$HOME/.cache/magnets-target-tch}
if ! "$TORCH_VENV/bin/python" -c "import torch; assert torch.__version__.startswith('$TORCH_VERSION')" 2>/dev/null; then
  echo "== installing torch $TORCH_VERSION into $TORCH_VENV (libtorch for --device tch)" >&2
  python3 -m venv "$TORCH_VENV"
  "$TORCH_VENV/bin/pip" install -q "torch==$TORCH_VERSION"
fi
PATH="$TORCH_VENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1 cargo build --release -q --features tch,x86-v4,svg-art
TORCH_LIB=$("$TORCH_VENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$CARGO_TARGET_DIR/release/magnets" "$@"
