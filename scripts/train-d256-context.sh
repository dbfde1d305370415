#!/usr/bin/env bash
# A short fine-tune of the default model with some images' visible tokens re-drawn by a smaller
# width before each step (`--small-width-context P`): the wider widths then learn to finish
# pictures whose first tokens a small sub-model chose, as the MaGNeTS split makes them do
# (docs/RESULTS.md "Training the wide widths on small widths' tokens"). CONTEXT=0 is the control:
# the same fine-tune on real tokens only. Same data, objective and distillation as the warm
# restarts (scripts/train-d256-restart.sh), at a lower rate. Resumable: run it again with the
# same RUN to continue from $RUN/checkpoint.
#
#   CONTEXT=0.5 RUN=data/runs/d256-context OMP_NUM_THREADS=1 scripts/train-d256-context.sh
#   CONTEXT=0 RUN=data/runs/d256-context-control OMP_NUM_THREADS=1 scripts/train-d256-context.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CONTEXT:?set CONTEXT, the probability of a re-drawn image (0 = the control run)}"
: "${RUN:?set RUN, a folder under data/runs/}"
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --init "${INIT:-models/magnets-emoji-d256.safetensors}" \
  --data models/all-art/emoji_tokens.safetensors \
  --flip --images data/emoji32-all.safetensors --flip-cache models/all-art/emoji_tokens_flip.safetensors \
  --snapshot "$RUN/snapshot" --out "$RUN" --small-width-context "$CONTEXT" \
  --steps "${STEPS:-2000}" --batch 32 --lr 2e-4 --warmup 100 --ema 0.999 --distill 0.8 \
  --checkpoint-every 250 --sample-every 1000 --log-every 25 --seed 3 --minutes "${MINUTES:-60}" "$@"
