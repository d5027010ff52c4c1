"""Calls Inputs/int_tensors.bp's functions through the NumPy bindings
(bpc build --python): int tensors are int64 arrays both ways."""
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
import int_tensors as m  # noqa: E402

out = m.shift(np.array([1, -2, 3], dtype=np.int64), 5)
print("shift", out.dtype, *out)
print("list", *m.shift([1, 2, 3], 0))
print("score", m.score([1, -2, 3], [0.5, 1.0, 2.0]))
cols, best = m.stats([[1, 2], [-3, 9]])
print("stats", *cols, best)
try:
    m.shift(np.array([1.0, 2.0, 3.0]), 1)
except ValueError as e:
    print("error", e)
