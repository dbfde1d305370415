#!/usr/bin/env bash
# The larger clip model (anim-large, models/magnets-anim-d256.safetensors) trained again on both
# clip sources: the Fluent clips it was trained on and Google's Noto animations, which move 1.7x
# as much and cover Food, Activities, Objects and Symbols (docs/RESULTS.md "A second clip
# source"). anim-large's own run stopped gaining at the full width on 618 clips; this one has
# 1,152 train clips. Warm start from its EMA weights with the rate back up (3e-4, warmup 100,
# cosine to 1e-5), otherwise scripts/train-anim-d256.sh's recipe (torch-bf16, batch 16,
# distillation 0.8, EMA 0.999, looping clips start at a random frame).
# Its EMA at step 1,500 ships as anim-large since (docs/RESULTS.md); the weights it started from
# are the earlier anim-large, read from git history (INIT overrides).
# Fixed steps and seed; resumable (run it again: $RUN/checkpoint; --init only applies when there is
# none). Each invocation stops cleanly after MINUTES (default 60); ~3.5 clips/s on two quiet
# threads, so the 1,500 steps take ~115 min.
#
#   MINUTES=100 OMP_NUM_THREADS=2 scripts/train-anim-noto.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-data/runs/anim-noto}
INIT=${INIT:-data/anim-large-fluent-only.safetensors}
if [ ! -s "$INIT" ]; then
  mkdir -p "$(dirname "$INIT")"
  git show b220bef:models/magnets-anim-d256.safetensors > "$INIT"
fi
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --init "$INIT" \
  --data models/anim/anim_tokens.safetensors --add-data models/anim/noto_tokens.safetensors --loop-frames \
  --tokenizer models/tokenizer-all-art.safetensors --out "$RUN" \
  --steps "${STEPS:-1500}" --batch 16 --lr 3e-4 --warmup 100 --ema 0.999 --distill 0.8 \
  --checkpoint-every 250 --sample-every 500 --log-every 25 --seed 1 --minutes "${MINUTES:-60}" "$@"
