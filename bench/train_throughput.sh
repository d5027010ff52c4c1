#!/usr/bin/env bash
# Training throughput (examples/s) of `bpc train` against the same training
# written in PyTorch (bench/torch_train.py), float64, measured in one run:
# digits (bench/digits_h.bp: 64-H-10 tanh MLP, softmax cross-entropy,
# adam(0.002)) at batch 32, 256 and full (1437 rows), hidden 32 and 256, on
# one thread and on every core. Each configuration runs BP, PyTorch, BP,
# PyTorch, ... (3 rounds, interleaved so that load on the machine hits both
# alike) and reports the median rates and the median of the per-round
# ratios. Both sides get the same OpenBLAS and the same thread count
# (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, torch.set_num_threads, bpc's
# --threads once it has one; without it the BP all-cores column is n/a).
# With --cnn: examples/cnn_digits.bp (conv 3x3 -> relu -> maxpool -> dense)
# instead, the same way (its column "hidden" says cnn). With --charlm:
# examples/charlm/charlm.bp (embedding gather -> 16-step tanh RNN -> dense,
# 15,419 windows of the GPL-3 text) at batch 32 and 256.
# Needs Debian's python3-torch (docs/BENCHMARKS.md); takes ~3 minutes.
#   usage: bash bench/train_throughput.sh [--cnn|--charlm] [path/to/bpc]
set -euo pipefail
cd "$(dirname "$0")/.."
models=(32 256)
batches=(32 256 1437)
name=digits
if [ "${1:-}" = --cnn ]; then
  models=(cnn)
  name=cnn_digits
  shift
elif [ "${1:-}" = --charlm ]; then
  models=(charlm)
  name=charlm
  batches=(32 256)
  shift
fi
bpc=${1:-build/bin/bpc}
py=/usr/bin/python3
rounds=3
if ! $py -c "import torch" 2>/dev/null; then
  echo "python3-torch is not installed: apt-get install python3-torch" >&2
  exit 2
fi
all=$(nproc)
hasThreads=0
"$bpc" train --help 2>&1 | grep -q -- '--threads' && hasThreads=1

# Epochs per configuration: the slower side trains ~1-2 s (measured before
# the batched training step), so that the rate (JIT compile and imports
# excluded) is not dominated by the first epoch.
epochsFor() { # hidden|cnn batch
  if [ "$1" = cnn ]; then echo 10
  elif [ "$1" = charlm ]; then echo 2
  elif [ "$1" = 256 ]; then echo 30; elif [ "$2" = 32 ]; then echo 60; else echo 160; fi
}
# bpc train's last epoch line: "epoch E/E  loss L  accuracy A  N ex/s".
bpRun() { # threads hidden|cnn batch epochs -> "rate accuracy"
  local t=(); [ $hasThreads = 1 ] && t=(--threads "$1")
  local model=(bench/digits_h.bp -D H="$2")
  [ "$2" = cnn ] && model=(examples/cnn_digits.bp)
  [ "$2" = charlm ] && model=(examples/charlm/charlm.bp)
  OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 "$bpc" train "${model[@]}" \
    --batch "$3" --epochs "$4" "${t[@]}" |
    grep -E '^epoch' | tail -1 |
    sed -E 's/.*accuracy ([0-9.]+) .* ([0-9]+) ex\/s.*/\2 \1/'
}
ptRun() { # threads hidden|cnn batch epochs -> "rate accuracy"
  local model=(digits --hidden "$2")
  [ "$2" = cnn ] && model=(cnn)
  [ "$2" = charlm ] && model=(charlm)
  OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 $py bench/torch_train.py "${model[@]}" \
    "$4" --batch "$3" --threads "$1"
}

load0=$(cut -d' ' -f1 /proc/loadavg)
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq $rounds); do
  echo "round $round/$rounds ..." >&2
  for threads in 1 "$all"; do
    for hidden in "${models[@]}"; do
      for batch in "${batches[@]}"; do
        e=$(epochsFor $hidden $batch)
        if [ "$threads" = 1 ] || [ $hasThreads = 1 ]; then
          echo "$threads $hidden $batch bp $(bpRun $threads $hidden $batch $e)" >>"$results"
        fi
        echo "$threads $hidden $batch pt $(ptRun $threads $hidden $batch $e)" >>"$results"
      done
    done
  done
done

echo "$name, float64, median of $rounds interleaved rounds; $all cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))"
echo "load average (1 min) $load0 before, $(cut -d' ' -f1 /proc/loadavg) after"
echo "bpc $(git describe --always --dirty 2>/dev/null || echo '?'), torch $($py -c 'import torch; print(torch.__version__)'), BLAS $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?')"
$py - "$results" "$all" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    t, h, b, side, rate, acc = line.split()
    rows.setdefault((int(t), h, int(b)), {}).setdefault(side, []).append(
        (float(rate), float(acc)))
print(f"{'threads':>7} {'hidden':>6} {'batch':>5} {'BP ex/s':>10} {'PyTorch ex/s':>12}"
      f" {'BP/PT':>6} {'acc BP':>7} {'acc PT':>7}")
for (t, h, b) in sorted(rows, key=lambda k: (k[0] != 1, k[1].isdigit() and int(k[1]), k[2])):
    r = rows[(t, h, b)]
    pt = r["pt"]
    ptRate = statistics.median(x for x, _ in pt)
    if "bp" in r:
        bp = r["bp"]
        bpRate = f"{statistics.median(x for x, _ in bp):.0f}"
        ratio = f"{statistics.median(x / y for (x, _), (y, _) in zip(bp, pt)):.2f}"
        bpAcc = f"{bp[-1][1]:.4f}"
    else:
        bpRate = ratio = bpAcc = "n/a"
    print(f"{t:>7} {h:>6} {b:>5} {bpRate:>10} {ptRate:>12.0f} {ratio:>6}"
          f" {bpAcc:>7} {pt[-1][1]:>7.4f}")
PY
