#!/usr/bin/env bash
# A larger clip model: the default image model (D 256, depth 6, S/M/L/XL = 32/64/128/256) lifted
# into a clip model of 8 frames, the first given (`magnets init --from … --clip …`: every frame's
# positions start as the image's, so it begins by reading each frame as an image it already
# knows), then trained on the animated Fluent clips like scripts/train-anim.sh (torch-bf16,
# distillation 0.8, EMA 0.999, looping clips start at a random frame). The small clip model's S is
# 16 features and flickers; this one's S is 32.
# Fixed steps and seed; resumable (run it again: $RUN/checkpoint, or models/anim-d256/snapshot on
# a fresh clone; the lifted init is only made and used when neither exists). Each invocation
# stops cleanly after MINUTES (default 60). Measured on two threads (`magnets train --bench 3
# --device torch-bf16 --config models/magnets-anim-d256.config.json --batch 16`): 3.95 clips/s,
# 115 GFLOP/s, so the 1,500 steps take about 100 min.
#
#   MINUTES=120 OMP_NUM_THREADS=2 scripts/train-anim-d256.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-data/runs/anim-d256}
SNAPSHOT=models/anim-d256/snapshot
IMAGE=${IMAGE:-models/magnets-emoji-d256.safetensors}
mkdir -p "$RUN"
if [ ! -f "$RUN/checkpoint/state.json" ] && [ ! -f "$SNAPSHOT/state.json" ] && [ ! -f "$RUN/init.safetensors" ]; then
  scripts/magnets-fast.sh init --from "$IMAGE" --clip models/magnets-anim-d256.config.json --seed 0 --out "$RUN/init.safetensors"
fi
exec scripts/magnets-fast.sh train --device "${TRAIN_DEVICE:-torch-bf16}" \
  --init "$RUN/init.safetensors" --data models/anim/anim_tokens.safetensors --loop-frames \
  --snapshot "$SNAPSHOT" --tokenizer models/tokenizer-all-art.safetensors --out "$RUN" \
  --steps "${STEPS:-1500}" --batch 16 --lr 5e-4 --warmup 200 --ema 0.999 --distill 0.8 \
  --checkpoint-every 250 --sample-every 1000 --log-every 25 --seed 0 --minutes "${MINUTES:-60}" "$@"
