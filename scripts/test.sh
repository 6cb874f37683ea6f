#!/usr/bin/env bash
# Build namedarr and run every test suite (Criterion, via CTest).
#   bash scripts/test.sh             the normal build, in build/
#   bash scripts/test.sh --sanitize  AddressSanitizer + UBSan, in build-san/
#   bash scripts/test.sh --clang     the normal build with clang-14, in build-clang/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --browser
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAMEDARR_BROWSER_TESTS=ON)
if [ "${1:-}" = "--sanitize" ]; then
    dir=build-san
    flags=(-DCMAKE_BUILD_TYPE=Debug -DNAMEDARR_SANITIZE=ON -DNAMEDARR_BUILD_BENCH=OFF
           -DNAMEDARR_BROWSER_TESTS=OFF)
    # allocator_may_return_null: the bad-input suite asks for arrays of
    # terabytes and checks that the library returns NA_ERR_NO_MEMORY when
    # malloc fails; ASan would otherwise abort on the request itself.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:allocator_may_return_null=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
elif [ "${1:-}" = "--clang" ]; then
    dir=build-clang
    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14
           -DNAMEDARR_BROWSER_TESTS=OFF)
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
if [ "$dir" = build-san ]; then
    # Criterion runs each test in a child process and reports it as passed
    # even when a sanitizer complained there, so the log is checked as well.
    log="$dir/ctest-sanitize.log"
    status=0
    ctest --test-dir "$dir" --output-on-failure -V -j"$(nproc)" >"$log" 2>&1 || status=$?
    grep -E "tests passed|tests failed|Synthesis" "$log" | tail -n 40
    if grep -nE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then
        echo "sanitizer errors found (full log: $log)"
        exit 1
    fi
    if [ $status -ne 0 ]; then
        grep -nE "FAIL|Failed|Error" "$log" | head -n 60
        exit $status
    fi
else
    ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
fi
