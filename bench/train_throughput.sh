#!/usr/bin/env bash
# Training throughput (examples/s) of bpc train against the same training in
# PyTorch (float64, one thread), measured in one run. Needs Debian's
# python3-torch (apt-get install python3-torch); prints ratios.
#   usage: bash bench/train_throughput.sh [path/to/bpc]
set -euo pipefail
cd "$(dirname "$0")/.."
bpc=${1:-build/bin/bpc}
py=/usr/bin/python3
if ! $py -c "import torch" 2>/dev/null; then
  echo "python3-torch is not installed: apt-get install python3-torch" >&2
  exit 2
fi
rate() { # examples/s from bpc train's "N ex/s" on its last epoch line
  "$bpc" train "$@" | grep -E '^epoch' | tail -1 | sed -E 's/.* ([0-9]+) ex\/s.*/\1/'
}
printf "%-8s %14s %14s %8s\n" model "BP ex/s" "PyTorch ex/s" "BP/PT"
for m in digits xor; do
  # Enough epochs that both sides run for a good fraction of a second (bpc's
  # rate is examples / seconds since the start of training, the JIT compile
  # excluded, as PyTorch's excludes its imports).
  epochs=$([ $m = digits ] && echo 200 || echo 3000)
  bp=$(rate examples/$m.bp --epochs $epochs)
  pt=$($py bench/torch_train.py $m $epochs | cut -d' ' -f1)
  printf "%-8s %14s %14s %8.1f\n" $m "$bp" "$pt" "$(echo "$bp / $pt" | bc -l)"
done
