#!/usr/bin/env bash
# Training throughput, every CPU candidate in one run (docs/RESULTS.md "Training throughput"):
# burn-flex as the default build has it, against the `tch,x86-v4` build: burn-flex with its
# AVX-512 matmul kernels, the LibTorch-autograd trainer (`torch`, `torch-bf16`) and burn on
# LibTorch (`tch`, `tch-bf16`), f32 and with bf16 matmuls (f32 master weights).
# Every candidate trains the same init on the same batches (`magnets train --bench`), so the
# loss curves are compared too, against a noise floor (the default flex with another seed).
#
#   scripts/train-bench.sh CONFIG STEPS [more `magnets train` flags, e.g. --data FILE --batch 32]
#
# The LibTorch build comes from scripts/magnets-fast.sh (installs libtorch the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:?model config json}; STEPS=${2:?timed steps}; shift 2
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/magnets-target}
CARGO_TARGET_DIR=$TARGET cargo build --release -q

OUT=$(mktemp -d)
echo "== default build: flex (+ noise floor)" >&2
"$TARGET/release/magnets" train --bench "$STEPS" --config "$CONFIG" --device flex --bench-noise --json "$@" > "$OUT/default.json"
echo "== tch,x86-v4 build: flex (AVX-512), torch-bf16, torch, tch-bf16, tch" >&2
./scripts/magnets-fast.sh train --bench "$STEPS" --config "$CONFIG" \
  --device "${FAST_DEVICES:-flex,torch-bf16,torch,tch-bf16,tch}" --json "$@" > "$OUT/fast.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
base, fast = (json.load(open(f"{out}/{n}.json")) for n in ("default", "fast"))
ref = base["results"][0]
rows = [("flex (default build)", ref)] + [(r["device"] + " (x86-v4)" * (r["device"] == "flex"), r) for r in fast["results"]]
def gap(a, b):  # per width: mean |difference| of the window means of two loss curves
    return [sum(abs(x - y) for x, y in zip(wa, wb)) / len(wa) for wa, wb in zip(a, b)]
fmt = lambda v: "/".join(f"{x:.3f}" for x in v)
c = base["config"]
print(f"config D={c['dim']} depth={c['depth']} widths={c['widths']} ({c['parameters']:,} parameters), "
      f"batch {base['batch']}, {base['warmup_steps']} + {base['timed_steps']} steps, {base['images']} images")
print(f"{'candidate':<22} {'images/s':>9} {'GFLOP/s':>8} {'vs flex':>8}  {'final CE ' + '/'.join(base['width_names']):<30} curve gap vs flex")
for name, r in rows:
    print(f"{name:<22} {r['images_per_s']:>9.1f} {r['train_gflops_per_s']:>8.1f} {r['images_per_s'] / ref['images_per_s']:>7.2f}x  "
          f"{fmt(r['final_ce']):<30} {fmt(gap(r['ce_windows'], ref['ce_windows']))}")
print(f"{'noise floor: flex, seed+1':<52} {'':<30} {fmt(gap(base['noise_ce_windows'], ref['ce_windows']))}")
json.dump({"default": base, "fast": fast}, open(f"{out}/all.json", "w"))
PY
echo "raw JSON: $OUT/all.json" >&2
