#!/usr/bin/env bash
# Where the paper's split loses against the full model, one width at a time, on a test seed with
# paired intervals (docs/RESULTS.md "Where in the decode"): XL12, M3XL9, S3XL9, S3M3XL6 and
# S3M3L3XL3, all with the KV cache, and XL12 without it (the baseline), each row's FID features
# kept, then the split against the baseline and each link of the chain as a
# paired gap (`magnets fid-gap`: the same draws, the reference resampled with them). Decoded with
# the default model's `sampling` from models/models.json (a run's weights are not in the
# registry), so that a re-nested or retrained D 256 model compares with the shipped one's rows.
#
#   WEIGHTS=data/runs/d256-m96/model.safetensors OUT=data/attribution/m96 scripts/split-attribution.sh
#
# SAMPLES= (10,000) and SEED= (0, the eval table's test seed) change the draws. A row whose
# features are already in OUT is not decoded again (~7–12 min per row on two threads).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${WEIGHTS:?set WEIGHTS, the model to measure}"
: "${OUT:?set OUT, a folder for the rows (e.g. data/attribution/NAME)}"
BIN=${MAGNETS_BIN:-scripts/magnets-fast.sh}
CLASSIFIER=models/all-art/classifier-all-real.safetensors
DATA=data/emoji32-all.safetensors
read -r TEMPERATURE TAU GUIDANCE GUIDANCE_SCHEDULE < <(node -e '
  const s = require("./models/models.json").models.find((m) => m.id === "d256").sampling;
  console.log(s.temperature, s.tau, s.guidance, s.guidance_schedule ?? "constant")')
mkdir -p "$OUT"
# ROW names a file; XL12-nocache is the MaskGIT baseline itself, which #13's "within 10%" reads against.
for row in XL12 M3XL9 S3XL9 S3M3XL6 S3M3L3XL3 XL12-nocache; do
  [ -e "$OUT/$row.features.safetensors" ] && continue
  schedule=${row%-nocache}; cache=$([ "$row" = "$schedule" ] && echo on || echo off)
  "$BIN" eval --weights "$WEIGHTS" --schedule "$schedule" --cache "$cache" --engine torch \
    --samples "${SAMPLES:-10000}" --seed "${SEED:-0}" --batch 64 --temperature "$TEMPERATURE" --noise "$TAU" \
    --guidance "$GUIDANCE" --guidance-schedule "$GUIDANCE_SCHEDULE" --classifier "$CLASSIFIER" --data "$DATA" --json \
    --features-out "$OUT/$row.features.safetensors" > "$OUT/$row.json"
done
gap() { "$BIN" fid-gap --baseline "$OUT/$1.features.safetensors" --other "$OUT/$2.features.safetensors" \
  --classifier "$CLASSIFIER" --data "$DATA"; }
gap XL12-nocache S3M3L3XL3  # the target's gap: the split against the MaskGIT baseline
gap XL12 S3M3L3XL3   # the whole gap on the cache's terms (every link below is cached)
gap M3XL9 S3XL9      # S instead of M for the first 5 tokens
gap S3XL9 S3M3XL6    # M's three steps
gap S3M3XL6 S3M3L3XL3  # L's three steps
