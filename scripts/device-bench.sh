#!/usr/bin/env bash
# The real-GPU numbers of docs/RESULTS.md ("On a real GPU"), for a borrowed NVIDIA machine (the
# device tool of this workplace; build here, run there):
#   here:  scripts/device-bench.sh pack        # release build + test binaries, stripped, xz,
#                                              # into .devcarry/gpu (keep .devcarry/ git-ignored)
#          (and the Vulkan loader debs in .gl/, see the device tool's README)
#   there: scripts/device-bench.sh run "$OUT"  # carry: .gl, .devcarry/gpu
# `run` writes bench.jsonl (one `magnets bench --json` object per run, tagged), profile.txt,
# large-profile.txt, d256-profile.txt and tests.txt into OUT, and prints a summary.
set -u
BIN=.devcarry/gpu
if [ "${1:-}" = pack ]; then
  set -e
  . scripts/env.sh
  cargo build --release
  cargo test --release --no-run 2>&1 | tee /tmp/devbin-tests.txt | tail -1
  mkdir -p "$BIN"
  strip -o /tmp/devbin-magnets "$CARGO_TARGET_DIR/release/magnets" && xz -T2 -6 -c /tmp/devbin-magnets > "$BIN/magnets.xz"
  for t in gpu_parity gpu_decoder; do
    exe=$(sed -n "s|.*Executable tests/$t.rs (\(.*\))|\1|p" /tmp/devbin-tests.txt)
    strip -o /tmp/devbin-$t "$exe" && xz -T2 -6 -c /tmp/devbin-$t > "$BIN/$t.xz"
  done
  ls -la "$BIN"
  exit 0
fi
[ "${1:-}" = run ] || { echo "usage: $0 pack | run OUT" >&2; exit 2; }
OUT=${2:?output folder}
mkdir -p "$OUT" /tmp/devbin
# Only on the device machine (an NVIDIA driver, no Vulkan loader): never unpack into / here.
if command -v nvidia-smi > /dev/null; then
  for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done; ldconfig
fi
if command -v nvidia-smi > /dev/null && ! ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep -qi nvidia; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} CUBECL_WGPU_DEFAULT_DEVICE='DiscreteGpu(0)'
for b in magnets gpu_parity gpu_decoder; do
  if [ -f "$BIN/$b.xz" ]; then xz -dc "$BIN/$b.xz" > /tmp/devbin/$b; else cp "$BIN/$b" /tmp/devbin/$b; fi
  chmod +x /tmp/devbin/$b
done
# The test binaries read files under their compile-time CARGO_MANIFEST_DIR.
[ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
W=models/magnets-emoji.safetensors
run() { # tag, bench args...
  local tag=$1; shift
  if timeout 120 /tmp/devbin/magnets bench --json "$@" > /tmp/devbin/o.json 2> /tmp/devbin/o.err; then
    python3 - "$tag" "$*" /tmp/devbin/o.json >> "$OUT/bench.jsonl" <<'PY'
import json, sys
d = json.load(open(sys.argv[3]))
print(json.dumps({"run": sys.argv[1], "args": sys.argv[2], **d}))
PY
    python3 -c "import json,sys;d=json.loads(open('$OUT/bench.jsonl').read().splitlines()[-1]);print(d['run'], {k: round(v, 3) for k, v in d.items() if isinstance(v, float)})"
  else
    echo "$tag failed:"; tail -3 /tmp/devbin/o.err
  fi
}
# The default model (D 256, depth 6) first: #13's real-GPU target is its MaGNeTS vs baseline at
# batch 16, which no GPU has measured yet; batch 32 is the rows of the page's guided decode of 16
# images (two passes each). burn-wgpu runs beside the first row only: device time is scarce.
# The engine runs a step ahead of the host by default; --compare-waiting times the waiting decode
# beside it (the per-step host round trip it hides is what bounded the small model on the H200).
D=models/magnets-emoji-d256.safetensors
run d256_b16 --weights $D --repeats 10 --compare-waiting
run d256_b32 --weights $D --repeats 10 --batch 32 --no-burn --compare-waiting
run d256_b16_tuned --weights $D --repeats 10 --schedule M1L7XL4 --no-burn
timeout 60 /tmp/devbin/magnets bench --weights $D --repeats 3 --no-burn --profile > "$OUT/d256-profile.txt" 2>&1
run b16 --weights $W --repeats 10 --compare-waiting
run b16_tuned --weights $W --repeats 10 --schedule M3L4XL5
run b64 --weights $W --repeats 5 --batch 64
run b1 --weights $W --repeats 5 --batch 1
run b16_f32 --weights $W --repeats 10 --no-burn --weight-storage f32
run b16_cpu_sampling --weights $W --repeats 10 --no-burn --cpu-sampling
run large_b16 --config models/bench-large-config.json --repeats 3
timeout 60 /tmp/devbin/magnets bench --weights $W --repeats 5 --no-burn --profile > "$OUT/profile.txt" 2>&1
timeout 60 /tmp/devbin/magnets bench --config models/bench-large-config.json --repeats 1 --no-burn --profile > "$OUT/large-profile.txt" 2>&1
grep -h -E "round trip|GPU ms|faster" "$OUT/profile.txt" "$OUT/large-profile.txt" "$OUT/d256-profile.txt"
{ timeout 90 /tmp/devbin/gpu_parity --test-threads 4; timeout 30 /tmp/devbin/gpu_decoder; } > "$OUT/tests.txt" 2>&1
grep -E "^test result" "$OUT/tests.txt"
