#!/usr/bin/env bash
# The demo: installs what it needs, builds the page, and serves it with the shipped default model
# on http://localhost:8080 (PORT=… to change). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
./scripts/setup.sh
./scripts/build-web.sh
PORT="${PORT:-8080}"
echo "== open http://localhost:$PORT/  (WebGPU: recent Chrome/Edge; elsewhere the CPU fallback runs)"
exec node scripts/serve.mjs --root www --port "$PORT" --host "${HOST:-0.0.0.0}"
