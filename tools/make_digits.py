#!/usr/bin/env python3
"""Converts scikit-learn's copy of the UCI optical digits (digits.csv.gz from
Debian's python3-sklearn: 1,797 rows of 64 pixels in 0..16 plus the label)
into examples/data/digits_{train,test}.csv: a fixed shuffle (seed 0), 1,437
training rows and 360 test rows; columns p0..p63 then y0..y9 (one-hot).

Usage: python3 tools/make_digits.py /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
"""
import gzip
import random
import sys

rows = []
with gzip.open(sys.argv[1], "rt") as f:
    for line in f:
        vals = [int(float(v)) for v in line.strip().split(",")]
        rows.append((vals[:64], vals[64]))
random.Random(0).shuffle(rows)
header = ",".join([f"p{i}" for i in range(64)] + [f"y{i}" for i in range(10)])
for name, part in (("train", rows[:1437]), ("test", rows[1437:])):
    with open(f"examples/data/digits_{name}.csv", "w") as out:
        out.write(header + "\n")
        for pixels, label in part:
            onehot = [1 if k == label else 0 for k in range(10)]
            out.write(",".join(map(str, pixels + onehot)) + "\n")
