#!/usr/bin/env bash
# Heap allocations per training step of `bpc train` (issue 14's target:
# zero after the first step). Counts malloc/calloc/realloc/memalign calls
# with an LD_PRELOAD shim (bench/count_allocs.c) for the same run at 2 and
# 12 epochs, at batch 4, 8 and 16: the difference over the extra epochs,
# divided by their steps, is what a step allocates. Per-epoch work and
# LLVM's compile, whose allocations vary by a few hundred from run to run,
# are spread over the steps: a fraction near 0 is that noise.
#   usage: bash bench/alloc_per_step.sh [BPC] [FILE.bp]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bpc=${1:-$root/build/bin/bpc}
model=${2:-$root/examples/digits.bp}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cc -O2 -shared -fPIC -o "$t/count.so" "$root/bench/count_allocs.c"
rows=$("$bpc" train "$model" --epochs 1 | sed -n 's/^training .* on \([0-9]*\) examples.*/\1/p')
count() { # epochs batch extra-flags...
  local e=$1 b=$2
  shift 2
  BP_ALLOC_COUNT_FILE=$t/n LD_PRELOAD=$t/count.so \
    "$bpc" train "$model" --epochs "$e" --batch "$b" --threads 1 "$@" > /dev/null
  cat "$t/n"
}
for flags in "" "--no-blas"; do
  for b in 4 8 16; do
    a=$(count 2 "$b" $flags) c=$(count 12 "$b" $flags)
    steps=$(( 10 * ((rows + b - 1) / b) ))
    python3 -c "print('batch %3d %-9s %6d allocations over %5d steps: %.2f per step' % ($b, '$flags' or 'blas', $c - $a, $steps, ($c - $a) / $steps))"
  done
done
