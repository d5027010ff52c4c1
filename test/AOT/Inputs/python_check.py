"""test/AOT/python.test: imports the module `bpc build --python` wrote
(argv[1] is its directory) and prints, one per line, what `bpc run`'s main
prints, then every ValueError the module raises for bad arguments."""
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402

import m  # noqa: E402


def num(v):
    """BP's print format: shortest round trip, no trailing `.0`."""
    r = repr(v)
    return r[:-2] if r.endswith(".0") else r


def show(v):
    if isinstance(v, tuple):
        return "(" + ", ".join(show(e) for e in v) + ")"
    if isinstance(v, np.ndarray):
        return "[" + ", ".join(num(float(e)) for e in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return num(v)


x = np.array([1.0, -2.0, 3.5])
print(show(m.f(x)))
print(show(m.loss([1, -2, 3.5], 0.25)))
print(show(m.dloss(x, 0.25)))
print(show(m.pick(7, True)))
print(show(m.pick(np.int64(7), np.bool_(False))))
print(show(m.positive(-0.5)))

# Params view the library's storage: writes change the functions' results.
W = m.params.W
assert W.shape == (2, 3) and W.dtype == np.float64
before = m.f(x)
W[1, 2] += 1.0
assert np.isclose(m.f(x)[1], before[1] + 3.5) and m.f(x)[0] == before[0]
m.params.b = 0.0
assert m.params.b == 0.0 and np.allclose(m.f(x), before - 0.5 + [0, 3.5])
m.params.W = np.zeros((2, 3))
assert (m.f(x) == 0).all()

bad = [
    lambda: m.f(np.zeros(3, np.float32)),
    lambda: m.f(np.zeros(3, np.int64)),
    lambda: m.f([1.0, 2.0]),
    lambda: m.f(np.zeros((3, 1))),
    lambda: m.f("abc"),
    lambda: m.loss(x, "0.5"),
    lambda: m.loss(x, True),
    lambda: m.pick(2.0, True),
    lambda: m.pick(2, 1),
    lambda: setattr(m.params, "W", np.zeros((3, 2))),
    lambda: setattr(m.params, "b", None),
]
for call in bad:
    try:
        call()
        print("no error")
    except ValueError as e:
        print("ValueError:", e)
try:
    m.load_params(sys.argv[1] + "/no-such.params")
except FileNotFoundError as e:
    print("FileNotFoundError:", e.filename.endswith("no-such.params"))
with open(sys.argv[1] + "/bad.params", "w") as out:
    out.write("# bp params v1\nW 2 3 1 2 3 4 5 6\n")
try:
    m.load_params(sys.argv[1] + "/bad.params")
except ValueError as e:
    print("ValueError:", str(e).split("/")[-1])
