#!/usr/bin/env bash
# Data-parallel speed-up of `bpc train` (docs/DISTRIBUTED.md): 2 MPI ranks
# over 1 (`mpirun -np K bpc train --threads 1`) next to 2 threads over 1 in
# one process (`bpc train --threads T`), on digits at batch 256
# (examples/digits.bp, 64-32-10) and on the wider bench/digits_h.bp
# (64-256-10). The configurations run in turn, round after round
# (interleaved, so that load on the shared machine hits them alike); each
# reports the training time bpc prints ("done in S s": the epochs only,
# without the JIT compile or mpirun's start-up) and the wall time; the
# table gives medians over the rounds and the speed-ups of the medians.
# 5 rounds took 4 minutes on this 2-core machine at a load average of 4-6
# (docs/DISTRIBUTED.md has the numbers).
#   usage: bash bench/mpi_scaling.sh [path/to/bpc] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
bpc=${1:-build/bin/bpc}
rounds=${2:-5}
if ! command -v mpirun >/dev/null || ! ldd "$bpc" | grep -q libmpi; then
  echo "needs mpirun and a bpc built with MPI (docs/DISTRIBUTED.md)" >&2
  exit 2
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
epochs=300

# One run: "train_seconds wall_seconds".
run() { # how(threads|ranks) K model
  local cmd=("$bpc" train)
  [ "$1" = ranks ] && cmd=(mpirun -np "$2" "$bpc" train)
  local k; [ "$1" = ranks ] && k=1 || k=$2
  local model=(examples/digits.bp)
  [ "$3" = 256 ] && model=(bench/digits_h.bp -D H=256)
  local t0 t1 out
  t0=$EPOCHREALTIME
  out=$("${cmd[@]}" "${model[@]}" --batch 256 --epochs $epochs --threads $k)
  t1=$EPOCHREALTIME
  echo "$(sed -nE 's/^done in ([0-9.]+) s.*/\1/p' <<<"$out")" \
    "$(awk "BEGIN { print $t1 - $t0 }")"
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
load0=$(cut -d' ' -f1 /proc/loadavg)
for round in $(seq "$rounds"); do
  echo "round $round/$rounds ..." >&2
  for hidden in 32 256; do
    for how in threads ranks; do
      for k in 1 2; do
        echo "$hidden $how $k $(run $how $k $hidden)" >>"$results"
      done
    done
  done
done
load1=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$results" "$rounds" "$epochs" "$load0" "$load1" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rounds, epochs = sys.argv[2], sys.argv[3]
med = {}
for key in {tuple(r[:3]) for r in rows}:
    sel = [r for r in rows if tuple(r[:3]) == key]
    med[key] = (statistics.median(float(r[3]) for r in sel),
                statistics.median(float(r[4]) for r in sel))
print("digits, batch 256, %s epochs, median of %s interleaved rounds "
      "(load average %s -> %s)" % (epochs, rounds, sys.argv[4], sys.argv[5]))
print("%-10s %-22s %10s %10s %9s" % ("model", "run", "train s", "wall s", "speed-up"))
for hidden in ("32", "256"):
    for how, name in (("threads", "bpc --threads %s"), ("ranks", "mpirun -np %s")):
        for k in ("1", "2"):
            t, w = med[(hidden, how, k)]
            one = med[(hidden, how, "1")][0]
            print("%-10s %-22s %10.3f %10.3f %8.2fx" % (
                "64-%s-10" % hidden, name % k, t, w, one / t))
PY
