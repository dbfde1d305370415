#!/usr/bin/env bash
# anim-large (models/magnets-anim-d256.safetensors) fine-tuned with the changed tokens weighted:
# a masked future token whose code differs from the given frame's at the same spot counts
# CHANGED_WEIGHT times in the loss (`--changed-token-weight`). Plain CE's optimum is the data's
# p(code); most future tokens repeat the given frame, so the likeliest continuation is a still
# clip, and anim-large's Noto predictions move a third less than the real clips. A weight w
# moves the optimum to ∝ w·p for changed codes (docs/RESULTS.md "Leaning the clip model towards
# motion"). Same data and recipe as scripts/train-anim-noto.sh at a fine-tune's rate (1e-4,
# warmup 50, cosine to 1e-5). Fixed steps and seed; resumable; stops cleanly after MINUTES.
#
#   MINUTES=58 OMP_NUM_THREADS=2 scripts/train-anim-motion.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-data/runs/anim-motion}
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --init "${INIT:-models/magnets-anim-d256.safetensors}" --changed-token-weight "${CHANGED_WEIGHT:-2}" \
  --data models/anim/anim_tokens.safetensors --add-data models/anim/noto_tokens.safetensors --loop-frames \
  --tokenizer models/tokenizer-all-art.safetensors --out "$RUN" \
  --steps "${STEPS:-750}" --batch 16 --lr 1e-4 --warmup 50 --ema 0.999 --distill 0.8 \
  --checkpoint-every 125 --sample-every 375 --log-every 25 --seed 2 --minutes "${MINUTES:-60}" "$@"
