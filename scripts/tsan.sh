#!/usr/bin/env bash
# ThreadSanitizer run of the threaded cases (tests/threads_cases.h: every
# parallel loop with arrays big enough that the worker threads run, plus
# user threads calling the library at once), in build-tsan/.
#
# Why this shape:
# - clang-14 with its OpenMP runtime (libomp): gcc's libgomp is not
#   instrumented, so TSan would see its barriers as races. libomp's
#   "archer" tool (OMP_TOOL_LIBRARIES below) tells TSan about OpenMP's
#   barriers, tasks and locks.
# - BLIS is Debian's prebuilt archive (its OpenMP calls resolve to libomp's
#   GOMP entry points); its code is not instrumented, so TSan checks
#   namedarr's code and what namedarr hands to BLIS, not BLIS inside.
# - Criterion cannot start under TSan (its inheritable arena clashes with
#   TSan's memory layout), so the cases run as a plain program,
#   tests/tsan/tsan_threads.c; tests/test_threads.c runs the same cases in
#   the normal and ASan suites.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-tsan
CC=clang-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAMEDARR_TSAN=ON \
    -DNAMEDARR_BUILD_TESTS=OFF -DNAMEDARR_BUILD_EXAMPLES=OFF -DNAMEDARR_BUILD_BENCH=OFF \
    >/dev/null
cmake --build "$dir" -j"$(nproc)" --target tsan_threads >/dev/null
archer=/usr/lib/llvm-14/lib/libarcher.so
[ -f "$archer" ] || { echo "$archer is missing (package libomp-14-dev)"; exit 1; }
export OMP_TOOL_LIBRARIES="$archer"
# ignore_noninstrumented_modules: libomp itself is not instrumented (archer
# asks for it, else its internal locking shows as races).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1"
log="$dir/tsan.log"
status=0
"$dir/tsan_threads" >"$log" 2>&1 || status=$?
cat "$log" | grep -vE "^\s*$" | head -n 60
if grep -qE "ThreadSanitizer" "$log"; then
    echo "ThreadSanitizer reports (full log: $log)"
    exit 1
fi
exit $status
