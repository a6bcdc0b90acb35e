#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, starts the four servers on loopback
# with the default model (`duet up`), generates drafts for a prompt through the gateway, captions
# the sample images in assets/samples/, and shuts the servers down.
# Outputs go to out/: drafts and a contact sheet in out/drafts/, captions in out/captions.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p out
model=assets/models/default
if [ ! -f "$model/model.safetensors" ]; then
  # No trained model is shipped yet: initialise one from the default config.
  model=out/model
  ./build/bin/duet init-model --config assets/configs/duet-small.json -o "$model"
fi
prompt=${1:-"a pumpkin-shaped hat"}
address=127.0.0.1:${DUET_PORT:-50050}

./build/bin/duet up --model "$model" --listen "$address" > out/up.log 2>&1 &
up_pid=$!
trap 'kill -TERM $up_pid 2>/dev/null || true; wait $up_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q "all four servers SERVING" out/up.log && break
  kill -0 $up_pid 2>/dev/null || { cat out/up.log; exit 1; }
  sleep 0.5
done
grep "listening on" out/up.log

./build/bin/duet generate --server "$address" -n 8 --seed 42 --rerank -o out/drafts "$prompt"
./build/bin/duet caption --server "$address" assets/samples/*.png | tee out/captions.jsonl
