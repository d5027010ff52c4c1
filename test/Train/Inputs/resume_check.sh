# resume_check.sh BPC OUTDIR: for each optimizer, with and without a step
# schedule, on 1 and 2 threads: 6 epochs, and 3 epochs then 3 resumed
# epochs (--resume), must write byte-identical params files (the params,
# the optimizer state, the epoch and the shuffling state).
set -eu
bpc=$1 out=$2
bp=$(dirname "$0")/resume.bp
for threads in 1 2; do
  for opt in sgd momentum adam adamw; do
    for schedule in none 'step(2, 0.5)'; do
      flags=(--threads "$threads" --optimizer "$opt" --lr 0.05)
      if [ "$schedule" != none ]; then flags+=(--schedule "$schedule"); fi
      run=$out/$opt-$threads-${schedule%%(*}
      "$bpc" train "$bp" "${flags[@]}" --epochs 6 --save "$run.6" > /dev/null
      "$bpc" train "$bp" "${flags[@]}" --epochs 3 --save "$run.3" > /dev/null
      "$bpc" train "$bp" "${flags[@]}" --epochs 3 --resume "$run.3" \
        --save "$run.3+3" > "$run.out"
      grep -q 'epochs 4-6 (resumed after epoch 3)' "$run.out"
      cmp "$run.6" "$run.3+3"
      if cmp -s "$run.3" "$run.6"; then exit 1; fi
      echo "$opt, schedule $schedule, $threads threads: 3 + 3 epochs = 6 epochs"
    done
  done
done
