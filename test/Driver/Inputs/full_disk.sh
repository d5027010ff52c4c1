#!/usr/bin/env bash
# test/Driver/full-disk.test: writes that meet a full filesystem part way
# (a 64 KiB tmpfs, mounted here and always unmounted). Prints one line per
# case for FileCheck: the exit status, the error, and what the directory
# holds afterwards.
#   usage: full_disk.sh BPC EXAMPLES DIR
set -uo pipefail
bpc=$1 examples=$2 dir=$3
fs=$dir/fs
mkdir -p "$fs"
mount -t tmpfs -o size=64k tmpfs "$fs" || exit 1
trap 'umount "$fs"' EXIT
fill() { # leaves $1 KiB free (a page or two more at most)
  rm -f "$fs/fill"
  local free=$(( $(stat -f -c '%a*%S' "$fs") / 1024 - $1 ))
  [ "$free" -gt 0 ] && dd if=/dev/zero of="$fs/fill" bs=1k count="$free" 2>/dev/null
  true
}
show() { echo "$1: exit $2; files: $(cd "$fs" && ls | grep -v '^fill$' | tr '\n' ' ')"; }

# A params file of 49 KB (digits) over an old 664-byte one, with 8 KiB
# free: the write fails part way; the old file is untouched.
"$bpc" train "$examples/xor.bp" --save "$fs/model.params" > /dev/null
cp "$fs/model.params" "$dir/old.params"
fill 8
"$bpc" train "$examples/digits.bp" --epochs 1 --save "$fs/model.params" > /dev/null 2> "$dir/err"
show "save" $?
cat "$dir/err"
cmp -s "$fs/model.params" "$dir/old.params" && echo "save: old file intact"
rm -f "$fs/model.params"

# Libraries and objects (hundreds of KB) with 8 KiB free: nothing is left.
for out in libm.so libm.a m.o; do
  fill 8
  "$bpc" build "$examples/digits.bp" -o "$fs/$out" > /dev/null 2> "$dir/err"
  show "build $out" $?
  grep -o "bpc: error: cannot [a-z]* '[^']*'" "$dir/err"
done

# --plot: history.csv and the SVGs do not fit.
fill 4
"$bpc" train "$examples/digits.bp" --epochs 2 --plot "$fs/plot" > /dev/null 2> "$dir/err"
show "plot" $?
cat "$dir/err"
echo "plot holds: $(ls "$fs/plot" | tr '\n' ' ')"
echo "history.csv lines: $(wc -l < "$fs/plot/history.csv")"
rm -rf "$fs/plot"

# Standard output on a full filesystem.
fill 0
"$bpc" run "$examples/neuron.bp" > "$fs/out.txt" 2> "$dir/err"
show "stdout" $?
cat "$dir/err"
