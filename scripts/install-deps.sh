#!/usr/bin/env bash
# Install namedarr's build and test dependencies from Debian 12 (run as root).
#   bash scripts/install-deps.sh            build, tests, demos
#   bash scripts/install-deps.sh --browser  also Chromium, for the test that
#                                           renders the HTML view
set -euo pipefail
pkgs=(build-essential cmake pkg-config libblis-openmp-dev libblis-dev
      libcriterion-dev libxxhash-dev libcjson-dev libpcre2-dev
      clang-14 libclang-rt-14-dev libomp-14-dev    # fuzz targets: libFuzzer, sanitizers
      libopenmpi-dev openmpi-bin)                  # namedarr_mpi (src/dist) and its tests
if [ "${1:-}" = "--browser" ]; then
    pkgs+=(chromium fonts-liberation)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
