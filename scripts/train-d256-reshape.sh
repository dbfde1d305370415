#!/usr/bin/env bash
# The default model reshaped and trained again the way its warm restarts were
# (scripts/train-d256-restart.sh's rate, steps and objective): nested at other sub-model widths
# (WIDTHS, e.g. a wider M or L; the widest stays the model's D), so that the new prefixes become
# sub-models — a slice the training never ran is no sub-model (docs/RESULTS.md "Where the
# paper's split loses") — or grown deeper (DEPTH, a multiple of its depth: the added blocks start
# silent, `magnets init --depth`).
# Resumable: run it again with the same RUN to continue from $RUN/checkpoint (or $RUN/snapshot).
#
#   WIDTHS=32,96,128,256 RUN=data/runs/d256-m96 MINUTES=60 OMP_NUM_THREADS=2 scripts/train-d256-reshape.sh
#   WIDTHS=32,64,160,256 RUN=data/runs/d256-l160 MINUTES=60 OMP_NUM_THREADS=2 scripts/train-d256-reshape.sh
#   FROM=data/runs/d256-m96/model.safetensors WIDTHS=64,96,128,256 RUN=data/runs/d256-s64 ... (start from other
#   weights than the default model's: here the trained 96-wide M, with the old M as S)
#   DEPTH=12 RUN=data/runs/d256-depth12 MINUTES=60 OMP_NUM_THREADS=2 scripts/train-d256-reshape.sh
#     (measured, not shipped: docs/RESULTS.md "Nor does a deeper model"; SNAPSHOT=models/… commits
#     a run's snapshot where it has to outlive this machine's data/)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RUN:?set RUN, a folder under data/runs/}"
if [ -n "${WIDTHS:-}" ] && [ -z "${DEPTH:-}" ]; then RESHAPE=(--widths "$WIDTHS")
elif [ -n "${DEPTH:-}" ] && [ -z "${WIDTHS:-}" ]; then RESHAPE=(--depth "$DEPTH")
else echo "set one of WIDTHS (e.g. WIDTHS=32,96,128,256) or DEPTH (e.g. DEPTH=12)" >&2; exit 2
fi
FROM=${FROM:-models/magnets-emoji-d256.safetensors}
INIT=$RUN/init.safetensors
if [ ! -e "$INIT" ]; then
  mkdir -p "$RUN"
  scripts/magnets-fast.sh init --from "$FROM" "${RESHAPE[@]}" --out "$INIT"
fi
# The warm restarts' recipe; the snapshot stays under data/ (an experiment, not a shipped model)
# unless SNAPSHOT= names a committed one (a run that has to outlive this machine's data/).
INIT=$INIT RUN=$RUN SNAPSHOT=${SNAPSHOT:-$RUN/snapshot} exec scripts/train-d256-restart.sh "$@"
