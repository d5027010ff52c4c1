# interrupt_resume.sh BPC OUTDIR: SIGINT stops digits in its second epoch
# (Inputs/interrupt.py: after the first epoch line); --resume --epochs 1
# finishes that epoch from the row it reached, and the params file equals
# the one an uninterrupted run of as many epochs writes, byte for byte.
set -eu
bpc=$1 out=$2
here=$(dirname "$0")
ex=$here/../../../examples/digits.bp
python3 "$here/interrupt.py" INT "$bpc" train "$ex" --epochs 100000 --threads 2 \
  --save "$out/int.params" > "$out/int.out"
grep -q 'exit status 130' "$out/int.out"
epoch=$(sed -n 's/^#@ epoch //p' "$out/int.params")
row=$(sed -n 's/^#@ row //p' "$out/int.params")
"$bpc" train "$ex" --threads 2 --epochs 1 --resume "$out/int.params" \
  --save "$out/resumed.params" > "$out/resumed.out"
"$bpc" train "$ex" --threads 2 --epochs $((epoch + 1)) --save "$out/full.params" > /dev/null
cmp "$out/resumed.params" "$out/full.params"
echo "interrupted after epoch $epoch and $row rows; resumed: params equal a $((epoch + 1))-epoch run"
