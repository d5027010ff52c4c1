#!/usr/bin/env bash
# The whole test suite (lit and unit tests) with bpc built under
# AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on).
#   usage: bash tools/sanitize.sh [LIT-PATH...]   (default: all of test/)
# Builds build-asan/ (RelWithDebInfo, -DBP_SANITIZE=ON, -j2; only what the
# tests run: bpc, the runtime, the unit tests). The runtime is instrumented
# too where it runs in BP's processes: bpc (JIT-compiled code calls it) and
# the unit tests link bp_runtime_instrumented; the archive that AOT builds
# link (libbp_runtime.a, BP_RUNTIME_ARCHIVE) stays uninstrumented, since
# C programs linked with it have no sanitizer runtime (runtime/CMakeLists.txt).
# Any sanitizer report makes the failing test fail. Run by .ci/run after the
# normal suite (docs/TESTING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -G Ninja -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBP_SANITIZE=ON >/dev/null
ninja -C build-asan -j"${BP_JOBS:-2}" bpc bp_runtime bp_unittests
# The two runtimes are what they should be: ASan's checks in the copy bpc
# runs, none in the one AOT builds ship.
asanRefs() { nm "$1" | grep -c __asan_report || true; }
if [ "$(asanRefs build-asan/runtime/libbp_runtime_instrumented.a)" -eq 0 ] ||
  [ "$(asanRefs build-asan/runtime/libbp_runtime.a)" -ne 0 ]; then
  echo "== sanitize: the runtime in bpc must be instrumented and" \
    "build-asan/runtime/libbp_runtime.a must not be" >&2
  exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# LeakSanitizer stops the world with ptrace; where the host forbids that
# (some containers), it cannot run at all: say so and go on without it
# rather than fail every test.
if ! probe=$(build-asan/bin/bpc --help 2>&1 >/dev/null); then
  if grep -q "LeakSanitizer has encountered a fatal error" <<<"$probe"; then
    echo "== sanitize: LeakSanitizer cannot run on this host (ptrace);" \
      "running with ASan + UBSan only (detect_leaks=0)"
    export ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}
  else
    echo "$probe" >&2
    echo "== sanitize: the instrumented bpc does not start" >&2
    exit 1
  fi
fi
if [ $# -eq 0 ]; then
  ctest --test-dir build-asan --output-on-failure
else
  python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv \
    --param bpc="$PWD/build-asan/bin/bpc" \
    --param exec_root="$PWD/build-asan/test" \
    --param runtime="$PWD/build-asan/runtime/libbp_runtime.a" \
    --param sanitized=1 "$@"
fi
