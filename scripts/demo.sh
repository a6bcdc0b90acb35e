#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, starts the four servers on loopback
# with the default model (`duet up`), generates drafts for an English and a Korean prompt through
# the gateway, captions the sample images in assets/samples/, and shuts the servers down.
# Outputs go to out/: drafts and contact sheets in out/drafts/ and out/drafts-ko/, captions in
# out/captions.jsonl. Usage: scripts/demo.sh [english prompt] [korean prompt]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p out
# The default model, trained by `duet train` on the emoji corpus (assets/models/duet-emoji/).
model=${DUET_MODEL:-assets/models/duet-emoji}
prompt=${1:-"jack-o-lantern"}
prompt_ko=${2:-"로봇 얼굴"}
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
./build/bin/duet generate --server "$address" -n 8 --seed 42 --rerank -o out/drafts-ko "$prompt_ko"
./build/bin/duet caption --server "$address" assets/samples/*.png | tee out/captions.jsonl
