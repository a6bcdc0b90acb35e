#!/usr/bin/env bash
# Training samples/s of each stage in float32 and in bfloat16 on the emoji data, with the default
# model's shapes and the default training config's batches: a short `duet train` per dtype
# (STEPS steps of each stage, logged every 10), then the median samples_per_s of metrics.jsonl,
# the first logged window (warm-up) left out. Numbers go to docs/benchmarks.md.
# Usage: bench/training/train_throughput.sh [DATA_DIR] [STEPS]   (data: `duet data emoji`)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-data/emoji}
steps=${2:-40}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dtype in float32 bfloat16; do
  ./build/bin/duet train --data "$data" -o "$out/$dtype" \
    --model-config training/configs/duet-emoji.json --config training/configs/train-default.json \
    --image-steps "$steps" --joint-steps "$steps" --log-every 10 --checkpoint-every "$steps" \
    --dtype "$dtype" > "$out/$dtype.log" 2>&1
  for stage in image joint; do
    rate=$(grep "\"stage\":\"$stage\"" "$out/$dtype/metrics.jsonl" | tail -n +2 |
      sed -E 's/.*"samples_per_s":([0-9.]+).*/\1/' | sort -g |
      awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}')
    echo "$stage $dtype samples/s $rate"
  done
done
