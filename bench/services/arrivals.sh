#!/usr/bin/env bash
# Continuous batching through the gateway: `duet up` with the shipped model on a free loopback
# port, then bench/services/arrivals.cc (32 one-draft calls 50 and 100 ms apart against the
# ideal; p50/p99 at 1, 8 and 32 clients), then SIGTERM. Numbers: docs/services.md.
# Usage: bench/services/arrivals.sh [arrivals flags...]   Environment: BIN_DIR (default build/bin),
# MODEL (default assets/models/duet-emoji).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin_dir=${BIN_DIR:-build/bin}
model=${MODEL:-assets/models/duet-emoji}
log=$(mktemp)
"$bin_dir/duet" up --model "$model" --listen 127.0.0.1:0 --bin-dir "$bin_dir" > "$log" 2>&1 &
up_pid=$!
trap 'kill -TERM $up_pid 2> /dev/null || true; wait $up_pid 2> /dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 240); do
  grep -q "all four servers SERVING" "$log" && break
  kill -0 "$up_pid" 2> /dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.5
done
target=$(sed -n 's/^gateway listening on //p' "$log")
[ -n "$target" ] || { cat "$log" >&2; exit 1; }
build/bench/duet_arrivals --target "$target" "$@"
