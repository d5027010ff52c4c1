#!/usr/bin/env bash
# Installs the Debian 12 packages BP needs (only the missing ones), builds
# bpc with Ninja, and runs the main job. Used by the README's first command
# and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(cmake ninja-build g++ python3 llvm-19-dev llvm-19-tools clang-19
      antlr4 libantlr4-runtime-dev libgtest-dev libbenchmark-dev
      libedit-dev libopenblas-dev graphviz python3-numpy libopenmpi-dev
      openmpi-bin pkgconf chromium)
# pkgconf: where FindMPI cannot run the mpicc wrapper, compiler/CMakeLists.txt
# reads Open MPI's ompi-c.pc instead.
# chromium: test/Train/report-browser.test opens the page of `bpc train
# --report` headless (its DOM, a screenshot, no network requests); without
# it that test is skipped. bpc itself never needs it.
# python3-torch (bench/train_throughput.sh only, 830 MB) stays out: docs/BENCHMARKS.md
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

echo "== building (build/)"
# The configure's output goes to build/configure.log; its own `bpc:` lines
# (what was found, e.g. MPI) are shown, and all of it if it fails.
mkdir -p build
if ! cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release \
    > build/configure.log 2>&1; then
  cat build/configure.log >&2
  exit 1
fi
grep '^-- bpc:' build/configure.log || true
ninja -C build -j"${BP_JOBS:-2}"

if [ "${BP_SKIP_MAIN_JOB:-0}" != 1 ]; then
  echo "== main job: build/bin/bpc train examples/digits.bp"
  build/bin/bpc train examples/digits.bp
fi
