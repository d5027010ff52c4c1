# early_stop_check.sh BPC OUTDIR: trains digits with early stopping, then
# trains the same run for exactly the epoch it kept, without early_stop:
# the two params files must be byte-identical.
set -eu
bpc=$1 out=$2
ex=$(dirname "$0")/../../../examples/digits.bp
"$bpc" train "$ex" --early-stop 2 --epochs 40 --lr 0.05 --threads 1 --save "$out/early.params" > "$out/early.out"
best=$(sed -n 's/^kept the params of epoch \([0-9]*\).*/\1/p' "$out/early.out")
test -n "$best"
"$bpc" train "$ex" --epochs "$best" --lr 0.05 --threads 1 --save "$out/best.params" > /dev/null
cmp "$out/early.params" "$out/best.params"
echo "early stop kept epoch $best: params equal a $best-epoch run"
