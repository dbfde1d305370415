#!/usr/bin/env bash
# Training minutes on a borrowed GPU machine (this workplace's device tool): build here, carry
# the binary and the run's checkpoint, train there with burn on Vulkan (wgpu) for the minutes
# there are, bring the checkpoint back, resume here or in the next session.
#
#   here:  scripts/device-train.sh pack RUN_DIR DATA.safetensors
#            release binary (stripped, xz) + RUN_DIR/checkpoint + the token data into
#            .devcarry/train (git-ignored; checkpoint split into parts under 16 MB)
#   there: scripts/device-train.sh run "$OUT" MINUTES [extra `magnets train` flags]
#            carry: .gl (Vulkan loader debs, see docs/TEAM_NOTES.md) and .devcarry/train
#   here:  scripts/device-train.sh unpack FILES_AT RUN_DIR
#            puts the returned checkpoint into RUN_DIR/checkpoint (the old one kept as .bak)
#
# The device tool returns at most 64 MB in files of 16 MB: a checkpoint (model + EMA + AdamW
# moments, f32) over that comes back without the optimizer state, and the resumed run starts
# AdamW afresh (it says so). `run` also works here on Mesa lavapipe, to check the CPU-side
# steps before spending GPU minutes: `scripts/device-train.sh run /tmp/out 1 --max-steps 3`.
set -euo pipefail
CARRY=.devcarry/train
PART=15m
case "${1:-}" in
pack)
  RUN=${2:?run directory}; DATA=${3:?token data file}
  . scripts/env.sh
  [ -f "$RUN/checkpoint/state.json" ] || { echo "$RUN/checkpoint/state.json is missing: start the run here first (magnets train --out $RUN --max-steps 1 ...)" >&2; exit 2; }
  [ -f "$DATA" ] || { echo "token data $DATA is missing" >&2; exit 2; }
  cargo build --release
  rm -rf "$CARRY" && mkdir -p "$CARRY"
  strip -o /tmp/devtrain-magnets "$CARGO_TARGET_DIR/release/magnets"
  xz -T2 -6 -c /tmp/devtrain-magnets > "$CARRY/magnets.xz"
  cp "$DATA" "$CARRY/data.safetensors"
  tar -C "$RUN" -cf - checkpoint | split -b "$PART" - "$CARRY/checkpoint.tar.part-"
  du -sh "$CARRY"; ls -la "$CARRY"
  ;;
run)
  OUT=${2:?output folder}; MINUTES=${3:?minutes}; shift 3
  mkdir -p "$OUT" /tmp/devtrain
  if command -v nvidia-smi > /dev/null; then
    for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done; ldconfig
    if ! ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep -qi nvidia; then
      export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
      export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    fi
    export CUBECL_WGPU_DEFAULT_DEVICE='DiscreteGpu(0)'
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  fi
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
  xz -dc "$CARRY/magnets.xz" > /tmp/devtrain/magnets && chmod +x /tmp/devtrain/magnets
  rm -rf /tmp/devtrain/run && mkdir -p /tmp/devtrain/run
  cat "$CARRY"/checkpoint.tar.part-* | tar -C /tmp/devtrain/run -xf -
  # Checkpoint every ~2 minutes of GPU time is cheap next to the loss of a whole lease.
  set +e
  /tmp/devtrain/magnets train --device "${DEVICE:-wgpu}" --data "$CARRY/data.safetensors" \
    --out /tmp/devtrain/run --minutes "$MINUTES" --checkpoint-every "${CHECKPOINT_EVERY:-200}" \
    --sample-every 0 "$@" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | tail -n 40 | tee "$OUT/train.log"
  rc=${PIPESTATUS[0]}
  set -e
  cp /tmp/devtrain/run/train.jsonl "$OUT/train.jsonl" 2>/dev/null || true
  CK=/tmp/devtrain/run/checkpoint
  size=$(du -sb "$CK" | cut -f1)
  if [ "$size" -gt $((60 * 1024 * 1024)) ]; then
    echo "checkpoint is $size bytes: returning it without the optimizer state (AdamW restarts on resume)"
    rm -f "$CK/optimizer.bpk"
  fi
  tar -C /tmp/devtrain/run -cf - checkpoint | split -b "$PART" - "$OUT/checkpoint.tar.part-"
  ls -la "$OUT"
  exit "$rc"
  ;;
unpack)
  FROM=${2:?folder with the returned files}; RUN=${3:?run directory}
  ls "$FROM"/checkpoint.tar.part-* > /dev/null
  [ -d "$RUN/checkpoint" ] && rm -rf "$RUN/checkpoint.bak" && mv "$RUN/checkpoint" "$RUN/checkpoint.bak"
  mkdir -p "$RUN"
  cat "$FROM"/checkpoint.tar.part-* | tar -C "$RUN" -xf -
  [ -f "$FROM/train.jsonl" ] && cat "$FROM/train.jsonl" >> "$RUN/train.jsonl"
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print('checkpoint at step', s['step'])" "$RUN/checkpoint/state.json"
  ;;
*)
  echo "usage: $0 pack RUN_DIR DATA | run OUT MINUTES [train flags] | unpack FILES_AT RUN_DIR" >&2; exit 2
  ;;
esac
