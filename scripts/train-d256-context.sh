#!/usr/bin/env bash
# A short fine-tune of the default model with some images' visible tokens re-drawn by a smaller
# width before each step (`--small-width-context P`): the wider widths then learn to finish
# pictures whose first tokens a small sub-model chose, as the MaGNeTS split makes them do
# (docs/RESULTS.md "Training the wide widths on small widths' tokens"). CONTEXT=0 is the control:
# the same fine-tune on real tokens only. The warm restarts' recipe (scripts/train-d256-restart.sh:
# data, objective, distillation) at a lower rate. Resumable: run it again with the
# same RUN to continue from $RUN/checkpoint.
#
#   CONTEXT=0.5 RUN=data/runs/d256-context OMP_NUM_THREADS=1 scripts/train-d256-context.sh
#   CONTEXT=0 RUN=data/runs/d256-context-control OMP_NUM_THREADS=1 scripts/train-d256-context.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CONTEXT:?set CONTEXT, the probability of a re-drawn image (0 = the control run)}"
: "${RUN:?set RUN, a folder under data/runs/}"
INIT=${INIT:-models/magnets-emoji-d256.safetensors} RUN=$RUN SNAPSHOT=$RUN/snapshot STEPS=${STEPS:-2000} LR=2e-4 WARMUP=100 SEED=3 \
  exec scripts/train-d256-restart.sh --small-width-context "$CONTEXT" "$@"
