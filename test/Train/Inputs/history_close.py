"""history_close.py A B RTOL: the per-epoch train loss, test loss and metric
of two `bpc train --plot` history.csv files agree to RTOL relative (an
absent value must be absent in both); prints how many epochs were
compared, exit 1 on a difference."""
import sys


def read(path):
    with open(path) as f:
        rows = [l.rstrip("\n").split(",") for l in f]
    head = rows[0]
    cols = [head.index(c) for c in ("train_loss", "test_loss", "metric")]
    return [[r[c] for c in cols] for r in rows[1:]]


a, b, rtol = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
if len(a) != len(b) or not a:
    sys.exit("epoch counts differ: %d vs %d" % (len(a), len(b)))
worst = 0.0
for epoch, (ra, rb) in enumerate(zip(a, b), 1):
    for x, y in zip(ra, rb):
        if (x == "") != (y == ""):
            sys.exit("epoch %d: a value is absent in one file only" % epoch)
        if x:
            worst = max(worst, abs(float(x) - float(y)) / max(abs(float(x)), 1e-300))
if worst > rtol:
    sys.exit("max relative difference %.3g is above %g" % (worst, rtol))
print("%d epochs agree to %g" % (len(a), rtol))
