"""Compares the data of two `bpc train --report` pages (their bp-data
JSON): prints the largest relative difference of the curves and of every
param's gradient norms (per leading index too), `same` when all are within
1e-6."""
import json
import re
import sys


def data(path):
    page = open(path, encoding="utf-8").read()
    return json.loads(re.search(r'id="bp-data">(.*?)</script>', page,
                                re.S).group(1))


a, b = data(sys.argv[1]), data(sys.argv[2])
pairs = [(a[k], b[k]) for k in ("train_loss", "test_loss", "metric_values",
                                "lr")]
for pa, pb in zip(a["params"], b["params"]):
    pairs.append((pa["grad_norm"], pb["grad_norm"]))
    pairs += list(zip(pa["grad_norm_per_index"], pb["grad_norm_per_index"]))
worst = 0.0
for x, y in pairs:
    assert len(x) == len(y), "different lengths"
    for u, v in zip(x, y):
        worst = max(worst, abs(u - v) / max(abs(u), abs(v), 1e-300))
print("same" if worst <= 1e-6 else "differ by %g" % worst)
