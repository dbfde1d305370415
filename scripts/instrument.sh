#!/usr/bin/env bash
# The all-art data and the quality instrument built on it, one step per command, each
# resumable and each the exact command behind its numbers in docs/RESULTS.md:
#
#   scripts/instrument.sh data        # npm pack + render: data/emoji32-all.safetensors (8 vendors)
#                                     #   + data/emoji32-openmoji.safetensors (held-out art style)
#                                     #   + docs/data_all_art.png (contact sheet, every vendor)
#   scripts/instrument.sh tokenizer   # models/tokenizer-all-art.safetensors (warm start from the shipped
#                                     #   tokenizer, fixed 1,100 steps; checkpoints in data/tokenizer-next-ckpt)
#   scripts/instrument.sh tokens      # models/all-art/emoji_tokens.safetensors + the page's decoder assets
#                                     #   (models/tokenizer-all-art-decoder.safetensors, .palette.json)
#   scripts/instrument.sh classifier  # models/all-art/classifier.safetensors (FID-emoji features)
#   scripts/instrument.sh classifier-all  # models/all-art/classifier-all-real.safetensors: trained on
#                                     #   every real image (both splits) with style augmentation; the
#                                     #   held-out art style (OpenMoji) is its only unseen test
#                                     #   (width 2, 24 epochs: TRAIN_DEVICE=tch, ~25 min here; on flex
#                                     #   the MAX_MINUTES=60 cap stops it before epoch 24)
#   scripts/instrument.sh floors      # FID floors with bootstrap intervals (CLASSIFIER=... picks one)
#
# Long steps take MAX_MINUTES (a cap; the step counts are fixed so a run repeats;
# TOKENIZER_STEPS / CLASSIFIER_EPOCHS change them). TRAIN_DEVICE=tch trains the tokenizer and
# the classifier on LibTorch (~14x faster here).
set -euo pipefail
cd "$(dirname "$0")/.."
# The model-making build (LibTorch + the SVG renderer, its own target dir): the `svg-art`
# feature changes shared dependency features, so it never goes into the default build.
BIN=${MAGNETS_BIN:-scripts/magnets-fast.sh}
DATA=data/emoji32-all.safetensors
STYLE=data/emoji32-openmoji.safetensors
TOK=models/tokenizer-all-art  # the tokenizer the d256 and clip models share
ALL=models/all-art            # its token dataset and the FID classifier
mkdir -p "$ALL"

case "${1:-}" in
  data)
    "$BIN" data --all-art --contact-sheet docs/data_all_art.png ;;
  tokenizer)
    "$BIN" train-tokenizer --data "$DATA" --init models/tokenizer.safetensors --steps "${TOKENIZER_STEPS:-1100}" --lr 5e-4 \
      --max-minutes "${MAX_MINUTES:-25}" --checkpoint-dir data/tokenizer-next-ckpt --out "$TOK.safetensors" \
      --device "${TRAIN_DEVICE:-flex}" ;;
  tokens)
    "$BIN" tokenize --data "$DATA" --tokenizer "$TOK.safetensors" --out "$ALL/emoji_tokens.safetensors" \
      --contact-sheet docs/tokenizer_next_recon.png --recon-dir data/recon-heldout-next
    "$BIN" web-assets --tokenizer "$TOK.safetensors" \
      --decoder-out "$TOK-decoder.safetensors" --palette-out "$TOK.palette.json" ;;
  classifier)
    "$BIN" train-classifier --data "$DATA" --style-test "$STYLE" --init models/classifier.safetensors \
      --epochs "${CLASSIFIER_EPOCHS:-5}" --lr 2e-3 --max-minutes "${MAX_MINUTES:-15}" --out "$ALL/classifier.safetensors" \
      --device "${TRAIN_DEVICE:-flex}" ;;
  classifier-all)
    "$BIN" train-classifier --data "$DATA" --style-test "$STYLE" --train-on all --augment "${AUGMENT:-style}" \
      --width "${CLASSIFIER_WIDTH:-2}" --epochs "${CLASSIFIER_EPOCHS:-24}" --lr 2e-3 --max-minutes "${MAX_MINUTES:-60}" \
      --out "${CLASSIFIER_OUT:-$ALL/classifier-all-real.safetensors}" --device "${TRAIN_DEVICE:-flex}" ;;
  floors)
    C="--data $DATA --classifier ${CLASSIFIER:-$ALL/classifier.safetensors} --json"
    "$BIN" eval-images --split held-out --reference train $C
    "$BIN" eval-images --split train $C
    "$BIN" eval-images --split train --limit 1000 $C
    "$BIN" eval-images --images data/recon-heldout-next --labels data/recon-heldout-next/labels.json $C ;;
  *)
    sed -n '2,20p' "$0"; exit 2 ;;
esac
