#!/usr/bin/env bash
# The whole test suite (lit and unit tests) with bpc built under
# AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on).
#   usage: bash tools/sanitize.sh [LIT-PATH...]   (default: all of test/)
# Builds build-asan/ (RelWithDebInfo, -DBP_SANITIZE=ON, -j2). The runtime
# library is never instrumented (it ships inside AOT builds). Any sanitizer
# report makes the failing test fail. Not run by .ci/run (docs/TESTING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -G Ninja -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBP_SANITIZE=ON >/dev/null
ninja -C build-asan -j2
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ $# -eq 0 ]; then
  ctest --test-dir build-asan --output-on-failure
else
  python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv \
    --param bpc="$PWD/build-asan/bin/bpc" \
    --param exec_root="$PWD/build-asan/test" \
    --param runtime="$PWD/build-asan/runtime/libbp_runtime.a" "$@"
fi
