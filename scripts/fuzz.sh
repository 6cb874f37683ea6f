#!/usr/bin/env bash
# Build the libFuzzer targets (clang-14, ASan + UBSan) in build-fuzz/ and run
# each for a fixed time on its committed seed corpus and dictionary.
#   bash scripts/fuzz.sh                 20 s per target (what CI runs)
#   bash scripts/fuzz.sh 600             10 minutes per target
#   bash scripts/fuzz.sh 3600 einsum     one target, one hour
# New interesting inputs go to build-fuzz/corpus/<target>/ (not committed;
# copy the small, telling ones into tests/fuzz/corpus/<target>/). A crash
# leaves its input in build-fuzz/artifacts/ and makes the script fail;
# replay it with build-fuzz/tests/fuzz/fuzz_<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
shift || true
dir=build-fuzz
CC=clang-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAMEDARR_FUZZ=ON \
    -DNAMEDARR_BUILD_TESTS=OFF -DNAMEDARR_BUILD_EXAMPLES=OFF -DNAMEDARR_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do
        t="$(basename "$f" .c)"
        targets+=("${t#fuzz_}")
    done
fi
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1
mkdir -p "$dir/artifacts"
failed=()
for t in "${targets[@]}"; do
    work="$dir/corpus/$t"
    mkdir -p "$work"
    log="$dir/fuzz_$t.log"
    status=0
    "$dir/tests/fuzz/fuzz_$t" "$work" "tests/fuzz/corpus/$t" \
        -dict="tests/fuzz/fuzz_$t.dict" -max_total_time="$secs" -max_len=4096 \
        -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/${t}-" >"$log" 2>&1 || status=$?
    execs="$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')"
    echo "fuzz_$t: ${execs:-?} executions in ${secs}s, corpus $(ls "$work" | wc -l) files, exit $status"
    if [ $status -ne 0 ]; then
        grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -n 20
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz targets failed: ${failed[*]} (logs: $dir/fuzz_<target>.log)"
    exit 1
fi
