#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, then runs the main job on the
# default model: drafts for a prompt, and captions for the sample images in assets/samples/.
# Outputs go to out/ (drafts in out/drafts/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
model=assets/models/default
if [ ! -f "$model/model.safetensors" ]; then
  # No trained model is shipped yet: initialise one from the default config.
  model=out/model
  ./build/bin/duet init-model --config assets/configs/duet-small.json -o "$model"
fi
prompt=${1:-"a pumpkin-shaped hat"}
./build/bin/duet generate --model "$model" -n 8 --seed 42 --rerank -o out/drafts "$prompt"
./build/bin/duet caption --model "$model" assets/samples/*.png
