"""cosine_lr.py HISTORY LR WARMUP TOTAL FIRST: history.csv (--plot) has one
row per epoch FIRST..TOTAL, and each row's lr is cosine(WARMUP)'s over TOTAL
epochs (LANGUAGE.md section 17) to 1e-15 relative."""
import csv
import math
import sys

path, lr, warmup, total, first = sys.argv[1], float(sys.argv[2]), *map(int, sys.argv[3:6])


def cosine(e):
    if e <= warmup:
        return lr * e / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (e - 1 - warmup) / (total - warmup)))


rows = list(csv.DictReader(open(path)))
assert [int(r["epoch"]) for r in rows] == list(range(first, total + 1)), rows
for r in rows:
    e = int(r["epoch"])
    assert abs(float(r["lr"]) - cosine(e)) <= 1e-15 * lr, (e, r["lr"], cosine(e))
print("epochs %d-%d follow cosine(%d) over %d epochs" % (first, total, warmup, total))
