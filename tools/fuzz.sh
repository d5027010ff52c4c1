#!/usr/bin/env bash
# Fuzzes the front end and AD (parse -> sema -> IRGen/AD -> verify ->
# simplify) with libFuzzer under AddressSanitizer and UBSan.
#   usage: bash tools/fuzz.sh [--run] [SECONDS]     (default 60)
# --run: the second target, which also compiles to LLVM, JIT-compiles and
# runs `main` of each program in a forked child with a 1 s CPU limit.
# Builds build-fuzz/ with clang-19; the seed corpus is every .bp under test/
# and examples/; crashes are written to build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=bp_fuzz_compile
if [ "${1:-}" = "--run" ]; then
  target=bp_fuzz_run
  shift
fi
secs=${1:-60}
if ! dpkg-query -W -f='${Status}' libclang-rt-19-dev 2>/dev/null | grep -q "ok installed"; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends libclang-rt-19-dev
fi
CC=clang-19 CXX=clang++-19 cmake -G Ninja -S . -B build-fuzz \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBP_FUZZ=ON >/dev/null
ninja -C build-fuzz -j2 "$target"
corpus=build-fuzz/corpus
[ "$target" = bp_fuzz_run ] && corpus=build-fuzz/corpus-run
mkdir -p "$corpus" build-fuzz/crashes
find test examples -name '*.bp' -size -64k -exec cp {} "$corpus"/ \; 2>/dev/null || true
# The dictionary: fuzz/bp.dict's tokens plus "NAME(" for every elementwise
# builtin of the op table (compiler/ir/Ops.def), so a new op is fuzzed.
{ cat fuzz/bp.dict
  python3 -c 'import sys; sys.path.insert(0, "tools"); import ad_fuzz_common as c
for n in c.table_builtins(): print("\"%s(\"" % n)'
} > build-fuzz/bp.dict
build-fuzz/fuzz/"$target" "$corpus" -dict=build-fuzz/bp.dict \
  -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix=build-fuzz/crashes/ -print_final_stats=1
