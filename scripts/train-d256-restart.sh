#!/usr/bin/env bash
# The warm restarts that made the default model (models/magnets-emoji-d256.safetensors): the
# 12,000-step D 256 model of scripts/train-d256.sh (its EMA, models/d256/trained-12000-steps.safetensors)
# trained again with the learning rate back up (5e-4, warmup 200, cosine to 1e-5 over 6,000 steps = 192,000 samples,
# 11 augmented epochs), same data, objective and distillation as scripts/train-d256.sh. The
# 12,000-step run's held-out CE had flattened with its learning rate at the end of the cosine; the
# restart bought 0.045-0.060 nats at every width. INIT= starts a further restart from other
# weights with RUN= a new run dir: the default model is the second restart,
# INIT=models/d256/restart-1.safetensors RUN=data/runs/d256-restart2 (0.03 more). Resumable like train-d256.sh (run it again to
# continue from $RUN/checkpoint, or from models/d256/$(basename $RUN)/snapshot on a fresh
# clone; --init only applies when neither exists). SNAPSHOT= puts the snapshot elsewhere; STEPS=,
# LR=, WARMUP= and SEED= change the schedule (the other D 256 runs reuse this recipe through them).
#
#   MINUTES=120 OMP_NUM_THREADS=1 scripts/train-d256-restart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-data/runs/d256-restart}
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --init "${INIT:-models/d256/trained-12000-steps.safetensors}" \
  --data models/all-art/emoji_tokens.safetensors \
  --flip --images data/emoji32-all.safetensors --flip-cache models/all-art/emoji_tokens_flip.safetensors \
  --snapshot "${SNAPSHOT:-models/d256/$(basename "$RUN")/snapshot}" \
  --tokenizer models/tokenizer-all-art.safetensors --out "$RUN" \
  --steps "${STEPS:-6000}" --batch 32 --lr "${LR:-5e-4}" --warmup "${WARMUP:-200}" --ema 0.999 --distill 0.8 \
  --checkpoint-every 250 --sample-every 1000 --log-every 25 --seed "${SEED:-2}" --minutes "${MINUTES:-60}" "$@"
