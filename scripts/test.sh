#!/usr/bin/env bash
# Build namedarr and run every test suite (Criterion, via CTest).
#   bash scripts/test.sh             the normal build, in build/
#   bash scripts/test.sh --sanitize  AddressSanitizer + UBSan, in build-san/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
    dir=build-san
    flags=(-DCMAKE_BUILD_TYPE=Debug -DNAMEDARR_SANITIZE=ON -DNAMEDARR_BUILD_BENCH=OFF)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
