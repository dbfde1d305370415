#!/usr/bin/env bash
# `magnets` built for making models: fast CPU training on LibTorch (`--device torch`, `tch`, ...)
# with burn-flex's AVX-512 kernels, and the art renderers of the data steps (SVG; Lottie through
# the system's rlottie) (features tch + x86-v4 + svg-art + lottie-art: one build, one target dir,
# since some of them change shared dependency features). Installs libtorch from the PyPI `torch`
# wheel into a virtual environment and rlottie (+ libclang, for its binding) with apt the first
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
if ! pkg-config --exists rlottie 2>/dev/null || ! compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null; then
  echo "== installing librlottie-dev and libclang-dev with apt (the Lottie renderer for magnets data --anim --source noto)" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q pkg-config librlottie-dev libclang-dev >&2
fi
PATH="$TORCH_VENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1 cargo build --release -q --features tch,x86-v4,svg-art,lottie-art
TORCH_LIB=$("$TORCH_VENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$CARGO_TARGET_DIR/release/magnets" "$@"
