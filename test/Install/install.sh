#!/usr/bin/env bash
# ctest `install`: `cmake --install` of this build into a fresh prefix, then
# examples/c configured OUTSIDE the tree against it with find_package(BP)
# + bp_add_model (one STATIC and one SHARED model), built and run.
#   usage: install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "install.sh: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$t/p" > "$t/install.log"
bpc=$t/p/bin/bpc
"$bpc" --version | grep -q "^bpc, the BP compiler, version [0-9]" \
  || fail "installed bpc --version"
for f in lib/bp/libbp_runtime.a include/bp/bp_runtime.h \
         lib/cmake/BP/BPConfig.cmake lib/cmake/BP/BPConfigVersion.cmake; do
  [ -f "$t/p/$f" ] || fail "not installed: $f"
done

# The consumer project: examples/c, copied out of the tree so that nothing
# resolves relative to the source checkout except the two models.
mkdir -p "$t/app"
cp "$src/examples/c/main.c" "$t/app/"
sed "s|\${CMAKE_CURRENT_SOURCE_DIR}/\.\./|$src/examples/|g" \
  "$src/examples/c/CMakeLists.txt" > "$t/app/CMakeLists.txt"
cmake -G Ninja -S "$t/app" -B "$t/app/build" -DCMAKE_PREFIX_PATH="$t/p" \
  > "$t/configure.log" || { cat "$t/configure.log"; fail "configure"; }
cmake --build "$t/app/build" > "$t/build.log" \
  || { cat "$t/build.log"; fail "build"; }

# The neuron's numbers from C equal `bpc run`'s (same shortest-form digits
# up to %.17g's extra digit: compare as numbers).
"$t/app/build/main" > "$t/c.out"
"$bpc" run "$src/examples/neuron.bp" > "$t/run.out"
python3 - "$t/c.out" "$t/run.out" <<'PY' || fail "neuron numbers differ"
import re, sys
c = [float(v) for v in re.findall(r"(-?[0-9.]+(?:e-?[0-9]+)?)(?:,|$)", open(sys.argv[1]).read().split(":", 1)[1])]
r = [float(v) for v in open(sys.argv[2]).read().split()]
assert len(c) == 3 and c == r[:3], (c, r)
PY

# Digits trained by the installed bpc, classified from C.
"$bpc" train "$src/examples/digits.bp" --epochs 5 --save "$t/digits.params" \
  > "$t/train.log"
"$t/app/build/main" "$t/digits.params" "$src/examples/data/digits_test.csv" \
  > "$t/digits.out"
python3 - "$t/digits.out" <<'PY' || fail "digits accuracy: $(cat "$t/digits.out")"
import re, sys
m = re.search(r"digits: (\d+) of (\d+) test images right", open(sys.argv[1]).read())
assert m and int(m.group(2)) > 300 and int(m.group(1)) > 0.9 * int(m.group(2))
PY

# PARAMS bakes trained params in (bpc build --load): a model whose
# predictions from C equal `bpc run --load`'s (xor's main prints predict at
# the same 4 points).
"$bpc" train "$src/examples/xor.bp" --save "$t/xor.params" > /dev/null
mkdir -p "$t/baked"
cat > "$t/baked/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(baked C)
find_package(BP CONFIG REQUIRED)
bp_add_model(xorm $src/examples/xor.bp PARAMS $t/xor.params)
add_executable(baked main.c)
target_link_libraries(baked PRIVATE xorm)
CM
cat > "$t/baked/main.c" <<'C'
#include "xorm.h"
#include <stdio.h>
int main(void) {
  double x[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  for (int i = 0; i < 4; ++i)
    printf("%.17g\n", xorm_predict(x[i]));
  return 0;
}
C
cmake -G Ninja -S "$t/baked" -B "$t/baked/build" -DCMAKE_PREFIX_PATH="$t/p" \
  > "$t/configure2.log" || { cat "$t/configure2.log"; fail "configure PARAMS"; }
cmake --build "$t/baked/build" > "$t/build2.log" \
  || { cat "$t/build2.log"; fail "build PARAMS"; }
"$t/baked/build/baked" > "$t/baked.out"
"$bpc" run "$src/examples/xor.bp" --load "$t/xor.params" > "$t/predict.out" \
  || fail "bpc run --load of xor"
python3 - "$t/baked.out" "$t/predict.out" <<'PY' || fail "PARAMS: C and bpc run --load differ"
import sys
c = [float(v) for v in open(sys.argv[1]).read().split()]
r = [float(v) for v in open(sys.argv[2]).read().split()]
assert len(c) == 4 and all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) for a, b in zip(c, r)), (c, r)
PY

# A rebuild with nothing changed runs no bpc; touching the model reruns it.
cmake --build "$t/app/build" > "$t/rebuild.log"
grep -q "bpc build" "$t/rebuild.log" && fail "no-op rebuild ran bpc"
touch "$src/examples/neuron.bp"
cmake --build "$t/app/build" > "$t/rebuild.log"
grep -q "bpc build .*neuron.bp" "$t/rebuild.log" \
  || fail "changed neuron.bp was not rebuilt"

# The installed bpc links the INSTALLED runtime: with that archive broken,
# bpc build fails (it must not fall back to the build tree's).
echo broken > "$t/p/lib/bp/libbp_runtime.a"
if "$bpc" build "$src/examples/neuron.bp" -o "$t/x.a" 2> "$t/broken.err"; then
  fail "bpc build used a runtime other than the installed one"
fi
grep -q "libbp_runtime.a" "$t/broken.err" || { cat "$t/broken.err"; fail "error does not name the runtime"; }
echo "install.sh: OK"
