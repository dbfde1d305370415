#!/usr/bin/env bash
# A warm restart of the default model: the shipped D 256 weights (EMA) trained again with the
# learning rate back up (5e-4, warmup 200, cosine to 1e-5 over 6,000 steps = 192,000 samples,
# 11 augmented epochs), same data, objective and distillation as scripts/train-d256.sh. The
# shipped run's held-out CE had flattened with its learning rate at the end of the cosine; this
# asks what more compute at a useful rate buys. Resumable like train-d256.sh (run it again to
# continue from data/runs/d256-restart/checkpoint, or from models/d256/restart/snapshot on a
# fresh clone; --init only applies when neither exists).
#
#   MINUTES=120 OMP_NUM_THREADS=1 scripts/train-d256-restart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-data/runs/d256-restart}
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --init models/magnets-emoji-d256.safetensors \
  --data models/all-art/emoji_tokens.safetensors \
  --flip --images data/emoji32-all.safetensors --flip-cache models/all-art/emoji_tokens_flip.safetensors \
  --snapshot models/d256/restart/snapshot \
  --tokenizer models/tokenizer-all-art.safetensors --out "$RUN" \
  --steps 6000 --batch 32 --lr 5e-4 --warmup 200 --ema 0.999 --distill 0.8 \
  --checkpoint-every 250 --sample-every 1000 --log-every 25 --seed 2 --minutes "${MINUTES:-60}" "$@"
