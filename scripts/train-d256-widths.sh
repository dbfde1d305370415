#!/usr/bin/env bash
# The default model nested at other sub-model widths (WIDTHS, e.g. a wider M or L; the widest stays
# the model's D) and trained again the way its warm restarts were (scripts/train-d256-restart.sh's
# rate, steps and objective), so that the new prefixes become sub-models: a slice the training
# never ran is no sub-model (docs/RESULTS.md "Where the paper's split loses").
# Resumable: run it again with the same RUN to continue from $RUN/checkpoint (or $RUN/snapshot).
#
#   WIDTHS=32,96,128,256 RUN=data/runs/d256-m96 MINUTES=60 OMP_NUM_THREADS=2 scripts/train-d256-widths.sh
#   WIDTHS=32,64,160,256 RUN=data/runs/d256-l160 MINUTES=60 OMP_NUM_THREADS=2 scripts/train-d256-widths.sh
#   FROM=data/runs/d256-m96/model.safetensors WIDTHS=64,96,128,256 RUN=data/runs/d256-s64 ... (start from other
#   weights than the default model's: here the trained 96-wide M, with the old M as S)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${WIDTHS:?set WIDTHS, e.g. WIDTHS=32,96,128,256}"
: "${RUN:?set RUN, a folder under data/runs/}"
FROM=${FROM:-models/magnets-emoji-d256.safetensors}
INIT=$RUN/init.safetensors
if [ ! -e "$INIT" ]; then
  mkdir -p "$RUN"
  scripts/magnets-fast.sh init --from "$FROM" --widths "$WIDTHS" --out "$INIT"
fi
# The warm restarts' recipe; the snapshot stays under data/ (an experiment, not a shipped model).
INIT=$INIT RUN=$RUN SNAPSHOT=$RUN/snapshot exec scripts/train-d256-restart.sh "$@"
