#!/usr/bin/env bash
# Builds Duet's libFuzzer targets (clang-16, ASan + UBSan) in build-fuzz/ and runs each one for
# SECONDS over a scratch copy of its seed corpus. Exits non-zero when any target crashes.
#
# Usage: bash scripts/fuzz.sh SECONDS [TARGET...]     targets: image_decode safetensors tokenizer
#        requests (default: all). DUET_FUZZ_MERGE=1 set-cover merges the run's inputs of at most
#        512 bytes into build-fuzz/merged/<target>/ and, when that adds at most 16 files, copies
#        them into tests/fuzz/corpus/<target>/ (review the diff before committing it).
set -euo pipefail

seconds="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image_decode safetensors tokenizer requests)
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"

# clang-16 and libFuzzer; libomp because kernels/ needs OpenMP and clang has no libgomp headers.
bash "$root/scripts/setup.sh" clang-16 libfuzzer-16-dev libomp-16-dev

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUET_FUZZ=ON -DDUET_BUILD_TESTS=OFF -DDUET_BUILD_BENCH=OFF \
  -DDUET_ENABLE_CUDA=OFF >/dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
export DUET_FUZZ_TOKENIZER_MODEL="$root/assets/models/duet-emoji/tokenizer.model"
for s in llvm-symbolizer-16 llvm-symbolizer; do  # any version symbolizes; without one, raw PCs
  if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v "$s" >/dev/null; then
    export ASAN_SYMBOLIZER_PATH="$(command -v "$s")"
  fi
done

failed=()
printf '%-13s %-6s %12s %10s\n' target result execs exec/s
for t in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/fuzz_$t.log"
  rm -rf "$work"
  mkdir -p "$work" "$artifacts"
  cp "$seeds"/* "$work"/
  result=ok
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1 || { result=CRASH; failed+=("$t"); }
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  printf '%-13s %-6s %12s %10s\n' "$t" "$result" "${execs:-?}" "${rate:-?}"
  if [ "$result" = CRASH ]; then
    grep -m 1 -A 15 -E 'terminate called|ERROR:|runtime error' "$log" | sed 's/^/    /' || true
    echo "    reproducer: $(ls "$artifacts" | head -n 1)  full log: $log"
  elif [ "${DUET_FUZZ_MERGE:-0}" = 1 ]; then
    merged="$build/merged/$t"
    rm -rf "$merged" && mkdir -p "$merged" && cp "$seeds"/* "$merged"/
    "$build/fuzz/fuzz_$t" -set_cover_merge=1 -max_len=512 "$merged" "$work" >>"$log" 2>&1
    added=$(($(ls "$merged" | wc -l) - $(ls "$seeds" | wc -l)))
    if [ "$added" -le 16 ]; then cp -n "$merged"/* "$seeds"/; fi
    echo "    merge: $added new inputs $([ "$added" -le 16 ] && echo added || echo "left in $merged")"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs under $build/artifacts/)"
  exit 1
fi
echo "fuzz: no crashes in ${#targets[@]} targets, ${seconds}s each"
