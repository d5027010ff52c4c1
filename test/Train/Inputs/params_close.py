"""params_close.py A B RTOL: every number of params file B equals A's to
RTOL relative (absolute below 1e-300), and the names and shapes agree."""
import sys


def read(path):
    with open(path) as f:
        lines = [l.split() for l in f if not l.startswith("#")]
    return lines


a, b, rtol = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
assert len(a) == len(b) and len(a) >= 2, (len(a), len(b))
worst = 0.0
for la, lb in zip(a, b):
    if not la or not la[0][0].isalpha():
        assert len(la) == len(lb), "element counts differ"
        for x, y in zip(map(float, la), map(float, lb)):
            err = abs(x - y) / max(abs(x), 1e-300)
            worst = max(worst, err)
    else:
        assert la == lb, f"names/shapes differ: {la} vs {lb}"
print("max relative difference %.2g" % worst)
sys.exit(0 if worst <= rtol else 1)
