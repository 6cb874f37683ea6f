#!/usr/bin/env bash
# Set everything up on a fresh Debian 12 machine and run the demos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
for demo in demo model_demo attention; do
    if [ -x "build/$demo" ]; then
        echo "==================== build/$demo ===================="
        "build/$demo"
    fi
done
