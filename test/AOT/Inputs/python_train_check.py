"""test/AOT/python.test: train_step of the module `bpc build --python`
wrote for Inputs/linear_step.bp (argv[1] is its directory; argv[2] the
CSV). The first step's loss equals NumPy's mean loss at the initial params
(all zero), 50 steps lower it below a tenth of that, and a wrong row width
or an empty array is a ValueError."""
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402

import step  # noqa: E402

rows = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)
w, c = step.params.w.copy(), step.params.c
expected = np.mean((rows[:, :2] @ w + c - rows[:, 2]) ** 2)
first = step.train_step(rows)
assert abs(first - expected) <= 1e-12 * abs(expected), (first, expected)
last = first
for _ in range(49):
    last = step.train_step(rows)
assert last < first / 10, (first, last)
print("train_step: first loss matches NumPy, 50 steps: %.3g -> below a tenth" % first)
for bad in (lambda: step.train_step(rows[:, :2]), lambda: step.train_step(np.zeros((0, 3)))):
    try:
        bad()
        print("no error")
    except ValueError as e:
        print("ValueError:", e)
