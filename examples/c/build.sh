#!/usr/bin/env bash
# Builds examples/c/main.c against the AOT-compiled neuron (shared library)
# and digits (static library) models, trains the digits params, and runs it.
#   usage: bash examples/c/build.sh        (from anywhere; needs build/bin/bpc)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bpc=$root/build/bin/bpc
out=$root/build/examples-c
mkdir -p "$out"
"$bpc" build "$root/examples/neuron.bp" -o "$out/libneuron.so"
"$bpc" build "$root/examples/digits.bp" -o "$out/libdigits.a"
"$bpc" train "$root/examples/digits.bp" --save "$out/digits.params" > /dev/null
cc -std=c99 -Wall -Werror -O2 -I"$out" -o "$out/main" "$root/examples/c/main.c" \
  "$out/libdigits.a" -L"$out" -lneuron -Wl,-rpath,"$out" -lstdc++ -lm
"$out/main" "$out/digits.params" "$root/examples/data/digits_test.csv"
