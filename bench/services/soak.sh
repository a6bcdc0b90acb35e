#!/usr/bin/env bash
# Soak benchmark: `duet up` on a free loopback port, CLIENTS clients of bench/services/soak.cc
# mixing every RPC, cancels, short deadlines and bad inputs for SECONDS, then SIGTERM. Prints
# calls by scenario and code, p50/p99 and the RSS of each server at warm-up and at the end;
# exits non-zero on any unexpected outcome, a server that died (even if `duet up` restarted it)
# or RSS growth over the limit.
# Usage: bench/services/soak.sh [SECONDS] [CLIENTS]   (defaults 1800 and 32)
# Environment: BIN_DIR (duet and duet-* binaries, default build/bin), SOAK (the driver, default
# build/bench/duet_soak), MODEL (default assets/models/duet-emoji), OUT (results dir, default
# out/soak-<time>), WARMUP (seconds, default SECONDS/10 in [60, 120], at most SECONDS/2: the
# transformer needs about a minute at 32 clients to reach its working set), MAX_RSS_GROWTH_MB
# (default 50), SEED (default 1), SOAK_ARGS (more driver flags, e.g. "--scenarios caption.bad").
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-1800}
clients=${2:-32}
bin_dir=${BIN_DIR:-build/bin}
soak=${SOAK:-build/bench/duet_soak}
model=${MODEL:-assets/models/duet-emoji}
out=${OUT:-out/soak-$(date +%Y%m%d-%H%M%S)}
warmup=${WARMUP:-$(( seconds / 10 < 60 ? 60 : seconds / 10 > 120 ? 120 : seconds / 10 ))}
(( warmup < seconds )) || warmup=$(( seconds / 2 ))
mkdir -p "$out"

"$bin_dir/duet" up --model "$model" --listen 127.0.0.1:0 --bin-dir "$bin_dir" \
  > "$out/up.out" 2> "$out/up.err" &
up_pid=$!
stop_up() { kill -TERM "$up_pid" 2> /dev/null || true; }
trap stop_up EXIT
for _ in $(seq 300); do  # duet up waits for SERVING on all four, then says so
  grep -q "all four servers SERVING" "$out/up.out" 2> /dev/null && break
  kill -0 "$up_pid" 2> /dev/null || { cat "$out/up.err" >&2; exit 1; }
  sleep 0.5
done
grep -q "all four servers SERVING" "$out/up.out" || { echo "duet up did not start" >&2; exit 1; }
target=$(sed -n 's/^gateway listening on //p' "$out/up.out")
transformer=$(sed -n 's/^transformer listening on //p' "$out/up.out")

rss=""  # name=pid for each server, from the children of duet up
for pid in $(pgrep -P "$up_pid"); do
  name=$(basename "$(tr '\0' '\n' < "/proc/$pid/cmdline" | head -n 1)")
  rss+="${rss:+,}${name#duet-}=$pid"
done
echo "duet up (pid $up_pid) at $target; servers $rss; warm-up ${warmup}s of ${seconds}s" |
  tee "$out/soak.txt"

status=0
"$soak" --target "$target" --clients "$clients" --seconds "$seconds" --warmup-seconds "$warmup" \
  --seed "${SEED:-1}" --rss "$rss" --max-rss-growth-mb "${MAX_RSS_GROWTH_MB:-50}" \
  --transformer "$transformer" --json "$out/soak.json" ${SOAK_ARGS:-} \
  2> "$out/progress.log" | tee -a "$out/soak.txt" || status=1

trap - EXIT
stop_up
up_status=0
wait "$up_pid" || up_status=$?
cat "$out/up.err" >> "$out/soak.txt"
if grep "exited with code" "$out/up.err"; then  # duet up restarts a server that died
  echo "a server exited during the soak (see up.err)" | tee -a "$out/soak.txt"
  status=1
fi
if [[ $up_status -ne 0 ]]; then
  echo "duet up exited with $up_status (a server did not stop cleanly)" | tee -a "$out/soak.txt"
  status=1
fi
echo "results in $out (soak.txt, soak.json, progress.log)"
exit "$status"
