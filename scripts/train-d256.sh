#!/usr/bin/env bash
# The default model (models/magnets-emoji-d256.safetensors): D 256, depth 6, widths 32/64/128/256
# (5.0 M parameters), on the all-art tokens (models/all-art/), trained with LibTorch's autograd in bf16 (scripts/magnets-fast.sh).
# Fixed steps and seed, so the run repeats; resumable: run the same command again to continue
# from data/runs/d256/checkpoint (each invocation stops cleanly after MINUTES, default 60).
# Every checkpoint also leaves models/d256/snapshot (f16 weights + step, ~10 MB: commit it), from
# which a fresh clone resumes when data/ is gone (AdamW's moments restart at zero).
#
#   scripts/train-d256.sh                 # train (or resume) for up to 60 minutes
#   MINUTES=20 scripts/train-d256.sh      # a shorter slice
#
# 12,000 steps × 32 = 384,000 samples = 40 epochs of the 9,574 train images (the flipped copies
# count as augmentation; 23 epochs of the augmented set).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-data/runs/d256}
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --config models/magnets-emoji-d256.config.json --data models/all-art/emoji_tokens.safetensors \
  --flip --images data/emoji32-all.safetensors --flip-cache models/all-art/emoji_tokens_flip.safetensors \
  --snapshot models/d256/snapshot \
  --tokenizer models/tokenizer-all-art.safetensors --out "$RUN" \
  --steps 12000 --batch 32 --lr 7e-4 --warmup 300 --ema 0.999 --distill 0.8 \
  --checkpoint-every 250 --sample-every 1000 --log-every 25 --seed 0 --minutes "${MINUTES:-60}" "$@"
