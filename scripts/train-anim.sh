#!/usr/bin/env bash
# The clip model (frame prediction, `magnets eval-clips`): D 128, depth 4, head_dim 16, widths 16/32/64/128,
# 8 frames of 8×8 tokens, the first frame given; on the animated Fluent clips tokenized with the
# all-art tokenizer (models/anim/anim_tokens.safetensors), trained with LibTorch's autograd in
# bf16 (scripts/magnets-fast.sh). The clips loop, so each training clip starts at a random frame.
# Fixed steps and seed, so the run repeats; resumable like scripts/train-d256.sh: run the same
# command again to continue (each invocation stops cleanly after MINUTES, default 60); every
# checkpoint also leaves models/anim/snapshot (f16 weights + step: commit it).
#
#   scripts/train-anim.sh                 # train (or resume) for up to 60 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-data/runs/anim}
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --config models/magnets-anim.config.json --data models/anim/anim_tokens.safetensors --loop-frames \
  --snapshot models/anim/snapshot --tokenizer models/tokenizer-all-art.safetensors --out "$RUN" \
  --steps "${STEPS:-1800}" --batch 16 --lr 1e-3 --warmup 200 --ema 0.999 --distill 0.8 \
  --checkpoint-every 250 --sample-every 1000 --log-every 25 --seed 0 --minutes "${MINUTES:-60}" "$@"
