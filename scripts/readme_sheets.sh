#!/usr/bin/env bash
# Redraws the contact sheets shown in the README: 8 drafts (seeds 0-7, default sampling from the
# model's config.json) for each prompt below, from the shipped model, through `duet up`.
# Writes docs/images/sheet-<n>.png. Needs a build (scripts/build.sh). Usage: scripts/readme_sheets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
model=${DUET_MODEL:-assets/models/duet-emoji}
address=127.0.0.1:${DUET_PORT:-50070}
prompts=("jack-o-lantern" "top hat" "racing car" "할로윈" "마술사 모자" "로봇 얼굴")
mkdir -p out docs/images
./build/bin/duet up --model "$model" --listen "$address" > out/sheets-up.log 2>&1 &
up_pid=$!
trap 'kill -TERM $up_pid 2>/dev/null || true; wait $up_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q "all four servers SERVING" out/sheets-up.log && break
  kill -0 $up_pid 2>/dev/null || { cat out/sheets-up.log; exit 1; }
  sleep 0.5
done
for i in "${!prompts[@]}"; do
  ./build/bin/duet generate --server "$address" -n 8 --seed 0 -o "out/sheet-$i" "${prompts[$i]}" > /dev/null
  cp "out/sheet-$i/contact_sheet.png" "docs/images/sheet-$i.png"
  echo "docs/images/sheet-$i.png: ${prompts[$i]}"
done
