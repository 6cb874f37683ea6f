#!/usr/bin/env bash
# Set everything up on a fresh Debian 12 machine, build, and run the main
# demo: the small Llama in models/adder (trained to add by
# scripts/train_demo_model.py) loaded, printed, generating and inspected.
# It writes build/adder.html (the tree and the attention maps).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
build/adder_demo models/adder build/adder.html
echo
echo "Open build/adder.html in a browser. Smaller examples: build/demo, build/model_demo,"
echo "build/attention, build/custom_layer, build/html_view (sources in examples/)."
